// See settings.hpp.
#include "settings.hpp"

#include <pybind11/pybind11.h>

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

void raise_value_error(const UsageError& e) {
  const std::string why = e.what();
  throw pybind11::value_error(why.rfind("lambda ", 0) == 0 ? "lmbda" + why.substr(6) : why);
}

Hyper hyper_of(const RunSettings& s) {
  try {
    return checked_hyper(s);
  } catch (const UsageError& e) {
    raise_value_error(e);
  }
}

}  // namespace bp::python
