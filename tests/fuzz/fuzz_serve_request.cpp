// libFuzzer target for what `backprop serve` reads from a client (serve/request.cpp): the first
// byte picks the Content-Type (even: image/png, odd: application/json), the rest is the body. Any
// bytes must give a 28x28 input or an ApiError with a 4xx status.
#include <cstdint>
#include <string>

#include "serve/request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string type = data[0] % 2 ? "application/json" : "image/png";
  try {
    if (bp::serve::input_from_request(type, std::string(reinterpret_cast<const char*>(data + 1), size - 1)).size() !=
        784)
      __builtin_trap();
  } catch (const bp::serve::ApiError& e) {
    if (e.status < 400 || e.status > 499) __builtin_trap();
  }
  return 0;
}
