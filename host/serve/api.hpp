// The JSON API of `backprop serve` as pure functions (request in, JSON out), testable without
// sockets. Request bodies are read by request.hpp, forward passes and saliency are the float64
// reference's, and the test-set views come from inspect's numbers.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "insight/inspect.hpp"
#include "reference/reference.hpp"
#include "serve/request.hpp"
#include "train/checkpoint.hpp"

namespace bp::serve {

// What the network makes of a prepared input: {"input": 784 values in 0..1, "outputs": [...],
// "digit": argmax, "hidden": [[activations] per hidden layer], "saliency": d a_digit / d x (784)}.
nlohmann::json analyse(const reference::Params& p, const std::vector<uint8_t>& pixels);

// The model, and the test set's numbers when the test files were given.
class Served {
 public:
  // `test` empty: the confusion and misclassified views answer 404 "no test data"; test data
  // whose classes are not the model's outputs (as `eval` refuses them): 409, saying so, while the
  // drawing page still works.
  // The test set's numbers are worked out when first asked for (a fraction of a second for
  // 784-30-10), so serving starts at once and a server nobody asked stops at once.
  Served(ModelFile model, std::string name, std::optional<LabelledImages> test);
  Served(const Served&) = delete;
  Served& operator=(const Served&) = delete;

  const reference::Params& params() const { return params_; }

  nlohmann::json model() const;  // GET /api/model
  nlohmann::json predict(const std::string& content_type, const std::string& body) const;
  nlohmann::json weights() const;                                // GET /api/weights: first-layer tiles
  nlohmann::json confusion() const;                              // GET /api/confusion
  nlohmann::json misclassified(const std::string& index) const;  // GET /api/misclassified?index=K
  // Empty when the test set's views can be served; else why not, in one sentence.
  const std::string& test_refusal() const { return test_refusal_; }

 private:
  ModelFile file_;
  std::string name_;
  reference::Params params_;
  std::optional<LabelledImages> test_;
  std::string test_refusal_;
  void check_test_views() const;         // throws the ApiError that test_refusal_ or a missing test set means
  const Inspection& inspection() const;  // of the test set, made once
  mutable std::once_flag inspected_;
  mutable Inspection inspection_;
};

}  // namespace bp::serve
