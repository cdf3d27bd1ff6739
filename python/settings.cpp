// See settings.hpp.
#include "settings.hpp"

#include <pybind11/pybind11.h>

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

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

std::string python_words(const std::string& message) {
  // The flags of train()'s settings (run_settings.hpp's list) and the sweep's --seeds; other
  // text, a path holding " --" say, stays as it is.
  std::vector<std::pair<std::string, std::string>> flags = {{"--seeds", "seeds"}};
  const RunSettings defaults;
  visit_fields(
      [&](const Field& f, const auto&) {
        std::string name = std::string(f.flag).substr(2);
        std::replace(name.begin(), name.end(), '-', '_');
        flags.emplace_back(f.flag, name == "lambda" ? "lmbda" : name);
      },
      defaults);
  std::string out = message;
  for (const auto& [flag, name] : flags) {
    for (size_t at = out.find(flag); at != std::string::npos;) {
      const size_t end = at + flag.size();
      const bool word = (at == 0 || out[at - 1] == ' ' || out[at - 1] == '(') &&
                        (end == out.size() || !(std::isalnum(static_cast<unsigned char>(out[end])) || out[end] == '-'));
      if (word) out.replace(at, flag.size(), name);
      at = out.find(flag, at + (word ? name.size() : 1));
    }
  }
  if (out.rfind("lambda ", 0) == 0) out = "lmbda" + out.substr(6);  // checked_hyper's words
  if (const size_t at = out.find(kDropTheFlag); at != std::string::npos)
    out.replace(at, std::string(kDropTheFlag).size(), "(leave that argument out to resume)");
  return out;
}

void raise_value_error(const UsageError& e) { throw pybind11::value_error(python_words(e.what())); }

Hyper hyper_of(const RunSettings& s) {
  try {
    return checked_hyper(s);
  } catch (const UsageError& e) {
    raise_value_error(e);
  }
}

}  // namespace bp::python
