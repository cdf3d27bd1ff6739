// Names the Python API accepts for the cost, the initialisation and the device, with the CLI's
// words in the errors (as ValueError; parse_device's UsageError becomes one too).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "model/network.hpp"
#include "train/backend_factory.hpp"
#include "train/run_settings.hpp"

namespace bp::python {

Cost cost_named(const std::string& name);  // "quadratic", "cross-entropy", "log-likelihood"
Init init_named(const std::string& name);  // "normal", "scaled"

// make_backend without the CLI's fallback notice (Network.device names the backend chosen).
// sizes and batch: the step to be trained, for auto's cost model (empty, 0 when not training).
std::unique_ptr<Backend> backend_named(const std::string& device, int threads, const std::vector<size_t>& sizes = {},
                                       size_t batch = 0, const std::string& engine = "auto");

// The CLI's message in Python's words: its flags ("--early-stop", "--lambda") as train()'s
// arguments ("early_stop", "lmbda": lambda is a Python keyword).
std::string python_words(const std::string& message);

// A UsageError of the library's checks as ValueError, in python_words.
[[noreturn]] void raise_value_error(const UsageError& e);

// bp::checked_hyper (eta, lambda, momentum, batch, cost), raising ValueError.
Hyper hyper_of(const RunSettings& s);

}  // namespace bp::python
