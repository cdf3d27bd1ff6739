// The learning curve of a sweep over --train-size: for each setting of the other swept flags (a
// network shape, say), the final test accuracy at each number of training images, its mean over
// seeds and the band from the worst seed to the best; what learning_curve.png draws.
#pragma once

#include <vector>

#include "sweep/pictures.hpp"
#include "sweep/record.hpp"

namespace bp::sweep {

// One series per setting of the swept flags other than --train-size and --seeds, in grid order,
// its points in ascending training images. Empty unless --train-size has more than one value.
std::vector<LearningSeries> learning_series(const std::vector<Axis>& axes, const std::vector<NetworkRun>& runs);

}  // namespace bp::sweep
