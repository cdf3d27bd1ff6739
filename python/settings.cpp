// See settings.hpp.
#include "settings.hpp"

#include <pybind11/pybind11.h>

#include <cmath>

namespace bp::python {

// The model's name tables, which the command line uses too; a ValueError for a name not in them.
Cost cost_named(const std::string& name) {
  try {
    return cost_from_name(name);
  } catch (const UsageError& e) {
    throw pybind11::value_error(e.what());
  }
}

Init init_named(const std::string& name) {
  try {
    return init_from_name(name);
  } catch (const UsageError& e) {
    throw pybind11::value_error(e.what());
  }
}

std::unique_ptr<Backend> backend_named(const std::string& device, int threads, const std::vector<size_t>& sizes,
                                       size_t batch, const std::string& engine) {
  if (threads < 0) throw pybind11::value_error("threads must be >= 0, got " + std::to_string(threads));
  BackendOptions o;
  o.device = parse_device(device);
  o.engine = parse_engine(engine);
  o.threads = threads;
  o.quiet_fallback = true;
  o.sizes = sizes;
  o.batch = batch;
  return make_backend(o);
}

Hyper checked_hyper(double eta, double lmbda, const std::string& cost, size_t batch) {
  if (!(eta > 0) || !std::isfinite(eta)) throw pybind11::value_error("eta must be > 0, got " + std::to_string(eta));
  if (!(lmbda >= 0) || !std::isfinite(lmbda))
    throw pybind11::value_error("lmbda must be >= 0, got " + std::to_string(lmbda));
  if (batch < 1) throw pybind11::value_error("batch must be >= 1, got 0");
  Hyper h;
  h.eta = eta;
  h.lambda = lmbda;
  h.cost = cost_named(cost);
  return h;
}

}  // namespace bp::python
