// The gradient check behind `backprop gradcheck` and the Python module's gradcheck(): the float64
// reference gradient against central finite differences, then each fast backend's gradient
// against the reference, on one seeded minibatch. Returns the comparisons; callers print them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "model/network.hpp"
#include "reference/compare.hpp"

namespace bp {

struct GradcheckOptions {
  std::vector<size_t> sizes;
  Init init = Init::normal;
  uint64_t seed = 1;
  Hyper hyper;  // hyper.n is set to the training split the images give (50,000 of MNIST's 60,000)
  size_t batch_size = 10;
  size_t sampled = 300;              // parameters checked by finite differences (0 = all)
  int threads = 0;                   // CPU threads for the backends
  std::vector<std::string> devices;  // backends compared with the reference ("cpu", "cuda")
};

struct GradcheckResult {
  std::string label;  // "reference gradient vs finite differences", "cpu gradient vs reference"
  std::vector<double> ref, got;
  Comparison comparison;
  double tolerance = 0;
  // An error model (compare.hpp) decides, since a relative error alone flakes on entries near
  // zero: float32's for the backends against the reference; for the finite differences, the
  // float64 cost's rounding over the batch (gradcheck.cpp). Without one: max_rel <= tolerance.
  std::optional<ErrorModel> model;
  bool passed() const { return model ? model->worst_ratio <= 1 : comparison.max_rel <= tolerance; }
};

constexpr double kFiniteDifferenceTolerance = 1e-6;  // float64 against float64
constexpr double kBackendTolerance = 1e-4;           // float32 against float64: rtol of the error model
constexpr double kGradcheckFloor = 1e-3;             // see compare.hpp

// The devices gradcheck compares by default: the CPU, and CUDA where a device is usable.
std::vector<std::string> gradcheck_devices();

std::vector<GradcheckResult> gradcheck(const DataView& data, const GradcheckOptions& options);

}  // namespace bp
