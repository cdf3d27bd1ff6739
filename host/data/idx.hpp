// Reader for the IDX format of MNIST (big-endian magic and dimension sizes, then unsigned bytes),
// from raw or gzip files. Every header value is checked against what the file really holds
// before memory is committed; each refusal names the file and what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bp {

struct IdxArray {
  std::vector<uint32_t> dims;  // as in the header, outermost first
  std::vector<uint8_t> data;   // product(dims) bytes, row-major
};

// Throws bp::Error ("FILE: what is wrong") on anything but a complete unsigned-byte IDX file.
IdxArray read_idx(const std::string& path);

// Parses IDX bytes already in memory (the fuzz target and tests use it); `name` labels errors.
IdxArray parse_idx(const uint8_t* bytes, size_t size, const std::string& name);

}  // namespace bp
