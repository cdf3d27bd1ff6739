// See inspect.hpp. Float64 reference arithmetic throughout: this is about what the network
// computes, not about speed (10,000 test images of 784-30-10 take well under a second).
#include "insight/inspect.hpp"

#include <algorithm>

namespace bp {

Inspection inspect(const reference::Params& p, const DataView& data, size_t classes, bool with_saliency) {
  Inspection out;
  out.confusion.assign(classes, std::vector<size_t>(classes, 0));
  std::vector<std::vector<double>> saliency(classes, std::vector<double>(data.dim, 0.0));
  std::vector<size_t> per_class(classes, 0);
  for (size_t i = 0; i < data.count; ++i) {
    const reference::Vector x = reference::input_vector(data, i);
    const reference::Vector a = reference::feedforward(p, x);
    const int predicted = argmax(a.data(), int(a.size()));
    const int label = data.labels[i];
    if (size_t(label) >= classes || size_t(predicted) >= classes) continue;
    ++out.confusion[size_t(label)][size_t(predicted)];
    if (predicted != label) out.mistakes.push_back({i, label, predicted, a[size_t(predicted)]});
    if (!with_saliency) continue;
    const reference::Vector g = reference::input_gradient(p, x, size_t(label));
    for (size_t k = 0; k < data.dim; ++k) saliency[size_t(label)][k] += g[k];
    ++per_class[size_t(label)];
  }
  std::sort(out.mistakes.begin(), out.mistakes.end(),
            [](const Mistake& a, const Mistake& b) { return a.confidence > b.confidence; });
  for (size_t c = 0; c < classes; ++c) {
    out.saliency.emplace_back(data.dim);
    for (size_t k = 0; k < data.dim; ++k)
      out.saliency[c][k] = per_class[c] ? float(saliency[c][k] / double(per_class[c])) : 0.0f;
  }
  return out;
}

}  // namespace bp
