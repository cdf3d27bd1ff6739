// libFuzzer target for the safetensors model reader: any bytes must give a model consistent with
// its own layer sizes, or a bp::Error.
#include <cstdint>
#include <string>

#include "base/error.hpp"
#include "train/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const bp::ModelFile m = bp::parse_model(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    for (size_t l = 0; l + 1 < m.net.sizes.size(); ++l) {
      if (m.net.weights[l].size() != m.net.sizes[l] * m.net.sizes[l + 1]) __builtin_trap();
      if (m.net.biases[l].size() != m.net.sizes[l + 1]) __builtin_trap();
    }
  } catch (const bp::Error&) {}
  return 0;
}
