// Names the Python API accepts for the cost, the initialisation and the device, with the CLI's
// words in the errors (as ValueError; parse_device's UsageError becomes one too).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/network.hpp"
#include "train/backend_factory.hpp"

namespace bp::python {

Cost cost_named(const std::string& name);  // "quadratic", "cross-entropy", "log-likelihood"
Init init_named(const std::string& name);  // "normal", "scaled"

// make_backend without the CLI's fallback notice (Network.device names the backend chosen).
// sizes and batch: the step to be trained, for auto's cost model (empty, 0 when not training).
std::unique_ptr<Backend> backend_named(const std::string& device, int threads, const std::vector<size_t>& sizes = {},
                                       size_t batch = 0, const std::string& engine = "auto");

Hyper checked_hyper(double eta, double lmbda, const std::string& cost, size_t batch);

}  // namespace bp::python
