// A predict request's body turned into the network's 28x28 input: PNG bytes, prepared exactly as
// `backprop predict` prepares a picture file (insight/preprocess), or a JSON array of pixels. The
// one place the server reads what a client sent; fuzzed (tests/fuzz/fuzz_serve_request.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.hpp"

namespace bp::serve {

// A request the API refuses: its HTTP status (4xx) and one clear message.
struct ApiError : Error {
  ApiError(int status, const std::string& message) : Error(message), status(status) {}
  int status;
};

// The largest request body the server reads (a 28x28 digit as PNG is well under 10 KiB; a
// canvas of a few hundred pixels a side, under 100 KiB).
constexpr size_t kMaxBody = size_t{1} << 20;
// The largest picture a PNG may unpack to (a 1 MiB PNG can promise gigabytes): 2048x2048.
constexpr size_t kMaxPicturePixels = size_t{2048} * 2048;

// The network's 28x28 input from a request body: PNG bytes (Content-Type image/png), or JSON
// {"pixels": [[28 rows of 28]] or [784 values], "prepare": true} with values in 0..1, 0 the
// background and 1 full ink. PNGs, and JSON unless "prepare" is false, are prepared exactly as
// `backprop predict` prepares a picture; "prepare": false takes the pixels as the input itself
// (rounded to bytes, as MNIST stores them). Throws ApiError (400, 413, 415 or 422).
std::vector<uint8_t> input_from_request(const std::string& content_type, const std::string& body);

}  // namespace bp::serve
