// See api.hpp.
#include "serve/api.hpp"

#include <algorithm>
#include <cmath>

#include "insight/preprocess.hpp"
#include "kernels/model_math.cuh"

namespace bp::serve {
namespace {

using nlohmann::json;

std::vector<float> to_floats(const reference::Vector& v) { return std::vector<float>(v.begin(), v.end()); }

}  // namespace

nlohmann::json analyse(const reference::Params& p, const std::vector<uint8_t>& pixels) {
  reference::Vector x(pixels.size());
  std::transform(pixels.begin(), pixels.end(), x.begin(), [](uint8_t b) { return double(normalise_pixel(b)); });
  const std::vector<reference::Vector> layers = reference::layer_activations(p, x);
  const reference::Vector& a = layers.back();
  const int digit = argmax(a.data(), int(a.size()));
  json hidden = json::array();
  for (size_t l = 0; l + 1 < layers.size(); ++l) hidden.push_back(to_floats(layers[l]));
  return {{"input", to_floats(x)},
          {"outputs", a},
          {"digit", digit},
          {"hidden", hidden},
          {"saliency", to_floats(reference::input_gradient(p, x, size_t(digit)))}};
}

Served::Served(ModelFile model, std::string name, std::optional<LabelledImages> test)
    : file_(std::move(model)),
      name_(std::move(name)),
      params_(reference::from_network(file_.net)),
      test_(std::move(test)) {
  if (file_.net.sizes.front() != kPreparedPixels)
    throw UsageError(name_ + " takes " + std::to_string(file_.net.sizes.front()) +
                     " inputs; serve draws 28x28 digits (784 inputs)");
  if (test_) {
    if (test_->view().dim != kPreparedPixels)
      throw UsageError("the test images are not 28x28; serve needs MNIST-sized data");
    const size_t classes =
        test_->labels.empty() ? 0 : size_t(*std::max_element(test_->labels.begin(), test_->labels.end())) + 1;
    const size_t outputs = file_.net.sizes.back();
    if (classes != outputs)
      test_refusal_ = name_ + " has " + std::to_string(outputs) + " outputs but the test labels have " +
                      std::to_string(classes) + " classes, so there is no confusion matrix or list of mistakes for it";
  }
}

void Served::check_test_views() const {
  if (!test_) throw ApiError(404, "no test data: start serve with --data DIR holding the MNIST test files");
  if (!test_refusal_.empty()) throw ApiError(409, test_refusal_);
}

const Inspection& Served::inspection() const {
  std::call_once(inspected_, [&] { inspection_ = inspect(params_, test_->view(), file_.net.sizes.back(), false); });
  return inspection_;
}

nlohmann::json Served::model() const {
  size_t parameters = 0;
  for (size_t l = 0; l + 1 < file_.net.sizes.size(); ++l)
    parameters += file_.net.sizes[l] * file_.net.sizes[l + 1] + file_.net.sizes[l + 1];
  return {{"name", name_},
          {"layers", file_.net.sizes},
          {"parameters", parameters},
          {"output", params_.output == Output::softmax ? "softmax" : "sigmoid"},
          {"settings", file_.metadata},
          {"test_images", test_ && test_refusal_.empty() ? test_->count : 0}};
}

nlohmann::json Served::predict(const std::string& content_type, const std::string& body) const {
  return analyse(params_, input_from_request(content_type, body));
}

nlohmann::json Served::weights() const {
  json tiles = json::array();
  const Network& net = file_.net;
  for (size_t j = 0; j < net.sizes[1]; ++j) {
    std::vector<float> tile(kPreparedPixels);
    for (size_t k = 0; k < kPreparedPixels; ++k) tile[k] = net.w(0, j, k);  // hidden neuron j's incoming weights
    tiles.push_back(tile);
  }
  return {{"side", kPreparedSide}, {"tiles", tiles}};
}

nlohmann::json Served::confusion() const {
  check_test_views();
  const Inspection& in = inspection();
  size_t correct = 0, total = 0;
  for (size_t i = 0; i < in.confusion.size(); ++i)
    for (size_t j = 0; j < in.confusion[i].size(); ++j) {
      total += in.confusion[i][j];
      if (i == j) correct += in.confusion[i][j];
    }
  return {{"confusion", in.confusion}, {"correct", correct}, {"total", total}, {"misclassified", in.mistakes.size()}};
}

nlohmann::json Served::misclassified(const std::string& index) const {
  check_test_views();
  const std::vector<Mistake>& mistakes = inspection().mistakes;
  const size_t n = mistakes.size();
  if (index.empty() || index.size() > 9 ||
      !std::all_of(index.begin(), index.end(), [](unsigned char c) { return std::isdigit(c); }))
    throw ApiError(400, "index must be a whole number from 0 to " + std::to_string(n ? n - 1 : 0));
  const size_t k = std::stoul(index);
  if (k >= n)
    throw ApiError(404, "index " + index + " is past the " + std::to_string(n) + " misclassified test digits");
  const Mistake& m = mistakes[k];
  const DataView view = test_->view();
  const std::vector<uint8_t> pixels(view.pixels + m.index * view.dim, view.pixels + (m.index + 1) * view.dim);
  json out = analyse(params_, pixels);
  out["index"] = k;
  out["count"] = n;
  out["test_index"] = m.index;
  out["label"] = m.label;
  out["predicted"] = m.predicted;
  return out;
}

}  // namespace bp::serve
