// What a trained network learned, as numbers the pictures of `backprop inspect` are drawn from:
// the confusion matrix and the most confident mistakes on a data set, and each class's average
// saliency (the gradient of that output with respect to the input pixels).
#pragma once

#include <vector>

#include "data/dataset.hpp"
#include "reference/reference.hpp"

namespace bp {

struct Mistake {
  size_t index;
  int label, predicted;
  double confidence;  // the predicted output's activation
};

struct Inspection {
  std::vector<std::vector<size_t>> confusion;  // [label][predicted]
  std::vector<Mistake> mistakes;               // most confident first
  std::vector<std::vector<float>> saliency;    // per class: mean over its images of d a_c / d x
};

// Without `saliency` (one back-propagation per image) only the confusion and mistakes are made.
Inspection inspect(const reference::Params& p, const DataView& data, size_t classes, bool saliency = true);

}  // namespace bp
