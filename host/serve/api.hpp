// The JSON API of `backprop serve` as pure functions (request in, JSON out), testable without
// sockets. Pictures are prepared by predict's code (insight/preprocess), forward passes and
// saliency are the float64 reference's, and the test-set views come from inspect's numbers.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "data/dataset.hpp"
#include "insight/inspect.hpp"
#include "reference/reference.hpp"
#include "train/checkpoint.hpp"

namespace bp::serve {

// A request the API refuses: its HTTP status (4xx) and one clear message.
struct ApiError : Error {
  ApiError(int status, const std::string& message) : Error(message), status(status) {}
  int status;
};

// The largest request body the server reads (a 28x28 digit as PNG is well under 10 KiB; a
// canvas of a few hundred pixels a side, under 100 KiB).
constexpr size_t kMaxBody = size_t{1} << 20;

// The network's 28x28 input from a request body: PNG bytes (Content-Type image/png), or JSON
// {"pixels": [[28 rows of 28]] or [784 values], "prepare": true} with values in 0..1, 0 the
// background and 1 full ink. PNGs, and JSON unless "prepare" is false, are prepared exactly as
// `backprop predict` prepares a picture; "prepare": false takes the pixels as the input itself
// (rounded to bytes, as MNIST stores them). Throws ApiError (400, 413 or 415).
std::vector<uint8_t> input_from_request(const std::string& content_type, const std::string& body);

// What the network makes of a prepared input: {"input": 784 values in 0..1, "outputs": [...],
// "digit": argmax, "hidden": [[activations] per hidden layer], "saliency": d a_digit / d x (784)}.
nlohmann::json analyse(const reference::Params& p, const std::vector<uint8_t>& pixels);

// The model, and the test set's numbers when the test files were given.
class Served {
 public:
  // `test` empty: the confusion and misclassified views answer 404 "no test data".
  // The test set's numbers are worked out on a thread of their own from here on, so serving
  // starts at once; the first confusion or misclassified request waits for them.
  Served(ModelFile model, std::string name, std::optional<LabelledImages> test);
  Served(const Served&) = delete;
  Served& operator=(const Served&) = delete;

  const reference::Params& params() const { return params_; }

  nlohmann::json model() const;                        // GET /api/model
  nlohmann::json predict(const std::string& content_type, const std::string& body) const;
  nlohmann::json weights() const;                      // GET /api/weights: first-layer tiles
  nlohmann::json confusion() const;                    // GET /api/confusion
  nlohmann::json misclassified(const std::string& index) const;  // GET /api/misclassified?index=K

 private:
  ModelFile file_;
  std::string name_;
  reference::Params params_;
  std::optional<LabelledImages> test_;
  std::shared_future<Inspection> inspection_;  // of the test set, made once
};

}  // namespace bp::serve
