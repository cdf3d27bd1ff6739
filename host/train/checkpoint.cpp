// safetensors reading and writing with nlohmann-json for the header. Every size in the header is
// checked against the file before it is used.
#include "train/checkpoint.hpp"

#include <zlib.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <string_view>

#include "base/atomic_file.hpp"
#include "base/error.hpp"
#include "base/regular_file.hpp"

namespace bp {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeader = 100u << 20;  // the safetensors library's own limit

std::string weight_name(size_t l, const std::string& prefix = "") {
  return prefix + "layers." + std::to_string(l) + ".weight";
}
std::string bias_name(size_t l, const std::string& prefix = "") {
  return prefix + "layers." + std::to_string(l) + ".bias";
}

// The names of a checkpoint's extra networks, comma-separated in its metadata.
std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> out;
  std::string name;
  std::istringstream in(text);
  while (std::getline(in, name, ','))
    if (!name.empty()) out.push_back(name);
  return out;
}

uint32_t crc32_of(const char* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

[[noreturn]] void fail(const std::string& name, const std::string& what) { throw Error(name + ": " + what); }

// Refuses a file whose checksum is missing or does not match (a missing one is a file cut short,
// hand-made, or one bit flipped in the key's name).
void verify_checksum(const Metadata& md, std::string_view data, const std::string& name) {
  const auto it = md.find("crc32");
  if (it == md.end()) fail(name, "has no checksum (metadata 'crc32'): not a complete backprop model");
  const std::string& text = it->second;
  const bool legacy = !text.empty() && text.size() <= 10 && text.find_first_not_of("0123456789") == std::string::npos;
  if (legacy ? text != std::to_string(crc32_of(data.data(), data.size())) : text != model_checksum(md, data))
    fail(name, "checksum mismatch: the file is corrupt");
}

void append_floats(std::string& out, const float* x, size_t n) {
  static_assert(std::endian::native == std::endian::little, "safetensors stores little-endian floats");
  out.append(reinterpret_cast<const char*>(x), n * sizeof(float));
}

}  // namespace

std::string model_checksum(const Metadata& md, std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (const auto& [k, v] : md) {
    if (k == "crc32") continue;
    for (const std::string* part : {&k, &v})
      crc = crc32(crc, reinterpret_cast<const Bytef*>(part->c_str()), static_cast<uInt>(part->size() + 1));
  }
  crc = crc32_combine(crc, crc32_of(data.data(), data.size()), static_cast<z_off_t>(data.size()));
  return "v2:" + std::to_string(static_cast<uint32_t>(crc));
}

void save_model(const std::string& path, const Network& net, const Metadata& metadata, const ExtraNetworks& extra) {
  std::string data;
  json header;
  const auto append_network = [&](const Network& p, const std::string& prefix) {
    if (p.sizes != net.sizes) throw Error(path + ": extra parameters '" + prefix + "' do not match the network");
    for (size_t l = 0; l < p.weights.size(); ++l) {
      const size_t n_out = p.sizes[l + 1], n_in = p.sizes[l];
      std::vector<float> row_major(n_out * n_in);
      for (size_t j = 0; j < n_out; ++j)
        for (size_t k = 0; k < n_in; ++k) row_major[j * n_in + k] = p.w(l, j, k);
      const size_t w0 = data.size();
      append_floats(data, row_major.data(), row_major.size());
      header[weight_name(l, prefix)] = {
          {"dtype", "F32"}, {"shape", {n_out, n_in}}, {"data_offsets", {w0, data.size()}}};
      const size_t b0 = data.size();
      append_floats(data, p.biases[l].data(), n_out);
      header[bias_name(l, prefix)] = {{"dtype", "F32"}, {"shape", {n_out}}, {"data_offsets", {b0, data.size()}}};
    }
  };
  append_network(net, "");
  std::string names;
  for (const auto& [name, p] : extra) {
    if (name.empty() || name.find_first_of(",.") != std::string::npos)
      throw Error("bad extra network name '" + name + "'");
    append_network(p, name + ".");
    names += (names.empty() ? "" : ",") + name;
  }
  json meta = json::object();
  for (const auto& [k, v] : metadata) meta[k] = v;
  if (!names.empty()) meta["extra"] = names;
  meta["format"] = "backprop";
  meta["layers"] = format_layers(net.sizes);
  if (net.output == Output::softmax) meta["output"] = "softmax";  // absent: sigmoid, as in older files
  Metadata written;
  for (const auto& [k, v] : meta.items()) written[k] = v.get<std::string>();
  meta["crc32"] = model_checksum(written, data);
  header["__metadata__"] = meta;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the tensors 8-byte aligned
  std::string out(8, '\0');
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = char((n >> (8 * i)) & 0xff);
  out += text;
  out += data;
  write_file_atomically(path, out);
}

namespace {

// The JSON header and the tensor bytes after it; the header's length checked against the file.
struct Parts {
  json header;
  std::string_view data;
};

Parts split_file(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 8) fail(name, "too short for a safetensors file");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  if (n > kMaxHeader || n > bytes.size() - 8)
    fail(name, "safetensors header length " + std::to_string(n) + " exceeds the file");
  Parts parts;
  try {
    parts.header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const json::exception& e) {
    fail(name, std::string("header is not valid JSON (") + e.what() + ")");
  }
  parts.data = std::string_view(bytes.data() + 8 + n, bytes.size() - 8 - n);
  return parts;
}

// __metadata__: an object of strings that names the layers.
Metadata read_metadata(const json& header, const std::string& name) {
  if (!header.is_object()) fail(name, "header is not a JSON object");
  if (!header.contains("__metadata__")) fail(name, "not a backprop model (a safetensors file without its metadata)");
  const json& meta = header.at("__metadata__");
  if (!meta.is_object()) fail(name, "__metadata__ is not an object");
  Metadata md;
  for (const auto& [k, v] : meta.items()) {
    if (!v.is_string()) fail(name, "metadata value '" + k + "' is not a string");
    md[k] = v.get<std::string>();
  }
  if (md.count("layers") == 0) fail(name, "not a backprop model (its metadata has no 'layers')");
  if (md.count("format") == 0 || md.at("format") != "backprop")
    fail(name, "not a backprop model (its metadata's format is " +
                   (md.count("format") ? "'" + md.at("format") + "'" : std::string("missing")) + ", not 'backprop')");
  return md;
}

// Reads tensors out of the data region: each F32, of the expected shape, inside the file, not
// overlapping another, every value finite.
class TensorReader {
 public:
  TensorReader(const json& header, std::string_view data, const std::string& name)
      : header_(header), data_(data), name_(name) {}

  void read_network(Network& p, const std::string& prefix) {
    for (size_t l = 0; l < p.weights.size(); ++l) {
      const size_t n_out = p.sizes[l + 1], n_in = p.sizes[l];
      read(weight_name(l, prefix), {n_out, n_in}, p.weights[l].data(), true);
      read(bias_name(l, prefix), {n_out}, p.biases[l].data(), false);
    }
  }

  // The end of the furthest tensor read: the data region's size in a file with nothing else.
  size_t end() const { return end_; }

 private:
  void read(const std::string& key, const std::vector<size_t>& shape, float* dst, bool transpose) {
    if (!header_.contains(key)) fail(name_, "tensor '" + key + "' is missing");
    const json& t = header_.at(key);
    if (!t.at("dtype").is_string()) fail(name_, "tensor '" + key + "' has no dtype string");
    if (t.at("dtype") != "F32")
      fail(name_, "tensor '" + key + "' is " + t.at("dtype").get<std::string>() + "; backprop models hold F32 tensors");
    if (t.at("shape").get<std::vector<size_t>>() != shape) fail(name_, "tensor '" + key + "' has the wrong shape");
    const auto off = t.at("data_offsets").get<std::vector<uint64_t>>();
    const uint64_t count = std::accumulate(shape.begin(), shape.end(), uint64_t{1}, std::multiplies<>());
    if (off.size() != 2 || off[0] > off[1] || off[1] > data_.size() || off[1] - off[0] != count * 4) {
      fail(name_, "tensor '" + key + "' has data offsets outside the file or of the wrong length");
    }
    end_ = std::max<size_t>(end_, off[1]);
    for (const auto& [other, range] : ranges_) {
      if (off[0] < range.second && range.first < off[1])
        fail(name_, "tensors '" + other + "' and '" + key + "' overlap in the file");
    }
    ranges_.emplace_back(key, std::pair<uint64_t, uint64_t>(off[0], off[1]));
    const char* src = data_.data() + off[0];
    for (size_t i = 0; i < count; ++i) {
      float v;
      std::memcpy(&v, src + 4 * i, 4);
      if (!std::isfinite(v))
        fail(name_, "tensor '" + key + "' holds " + std::to_string(v) + " at element " + std::to_string(i));
      // Row-major (n_out, n_in) on disk, column-major in memory.
      const size_t at = transpose ? (i / shape[1]) + (i % shape[1]) * shape[0] : i;
      dst[at] = v;
    }
  }

  const json& header_;
  std::string_view data_;
  const std::string& name_;
  size_t end_ = 0;
  std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>> ranges_;  // tensors read so far
};

}  // namespace

ModelFile parse_model(const std::string& bytes, const std::string& name) {
  const Parts parts = split_file(bytes, name);
  const std::string_view data = parts.data;
  ModelFile out;
  try {
    out.metadata = read_metadata(parts.header, name);
    verify_checksum(out.metadata, data, name);  // before any of it is believed
    const std::vector<size_t> sizes = parse_layers(out.metadata.at("layers"));
    const std::vector<std::string> extra =
        out.metadata.count("extra") ? split_names(out.metadata.at("extra")) : std::vector<std::string>{};
    if (extra.size() > 16) fail(name, "lists more than 16 extra parameter sets");
    uint64_t floats = 0;
    for (size_t l = 0; l + 1 < sizes.size(); ++l) floats += uint64_t(sizes[l]) * sizes[l + 1] + sizes[l + 1];
    floats *= 1 + extra.size();
    if (floats * 4 != data.size()) {
      fail(name, "layers " + out.metadata.at("layers") + " need " + std::to_string(floats * 4) +
                     " bytes of tensors, the file has " + std::to_string(data.size()));
    }
    out.net = zero_network(sizes);
    if (out.metadata.count("output")) {
      const std::string& output = out.metadata.at("output");
      if (output != "sigmoid" && output != "softmax") fail(name, "unknown output layer '" + output + "' in metadata");
      out.net.output = output == "softmax" ? Output::softmax : Output::sigmoid;
    }
    TensorReader tensors(parts.header, data, name);
    tensors.read_network(out.net, "");
    for (const std::string& e : extra) {
      Network p = zero_network(sizes);
      p.output = out.net.output;  // the same network's parameters
      tensors.read_network(p, e + ".");
      out.extra[e] = std::move(p);
    }
    if (tensors.end() != data.size())
      fail(name, "has " + std::to_string(data.size() - tensors.end()) + " bytes past its tensors, or is truncated");
  } catch (const json::exception& e) {
    fail(name, std::string("malformed safetensors header (") + e.what() + ")");
  } catch (const UsageError& e) {
    fail(name, std::string("bad layer sizes in metadata (") + e.what() + ")");
  }
  return out;
}

ModelFile load_model(const std::string& path) {
  require_regular_file(path, "a model file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot open model file: " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(path + ": read failed: " + std::strerror(errno));
  return parse_model(buffer.str(), path);
}

}  // namespace bp
