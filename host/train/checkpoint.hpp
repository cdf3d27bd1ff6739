// Models and checkpoints as safetensors files (an 8-byte little-endian header length, a JSON
// header, then raw little-endian float32 tensors), which numpy, PyTorch and the safetensors
// library read. Weights are stored row-major as (n_out, n_in), named like PyTorch's nn.Linear:
// "layers.0.weight", "layers.0.bias". Training settings and a CRC-32 of them and the tensor bytes
// go in the header's "__metadata__" ("output": "softmax" for a softmax output layer). Writes are atomic:
// a failed write never replaces the old file.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "model/network.hpp"

namespace bp {

using Metadata = std::map<std::string, std::string>;

// Further parameter sets of the network's shape that a checkpoint carries (the best-validation
// parameters, say), by name; stored as "NAME.layers.0.weight" and so on, their names listed in
// the metadata's "extra".
using ExtraNetworks = std::map<std::string, Network>;

struct ModelFile {
  Network net;
  Metadata metadata;
  ExtraNetworks extra;
};

// Throws bp::Error with the path and the reason; the file at `path`, if any, is left untouched.
void save_model(const std::string& path, const Network& net, const Metadata& metadata = {},
                const ExtraNetworks& extra = {});

// Throws bp::Error on anything but a complete, consistent model file whose checksum matches.
ModelFile load_model(const std::string& path);

// The same, from bytes in memory (tests and the fuzz target); `name` labels errors.
ModelFile parse_model(const std::string& bytes, const std::string& name);

// The checksum a file with this metadata (its "crc32" key aside) and these tensor bytes carries
// in "crc32": "v2:" and the decimal CRC-32 of each key and value in key order, each followed by
// a NUL, then of the tensor bytes. Required since issue 25; files whose crc32 is a plain number
// (the tensors' CRC alone, from before) are still read.
std::string model_checksum(const Metadata& metadata, std::string_view tensors);

}  // namespace bp
