// RunSettings to and from checkpoint metadata, and the resume rule, over the one field list.
#include "train/run_settings.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>

#include "base/error.hpp"
#include "model/network.hpp"

namespace bp {
namespace {

std::string to_text(const std::string& s) { return s; }
std::string to_text(uint64_t v) { return std::to_string(v); }
std::string to_text(bool b) { return b ? "1" : "0"; }
std::string to_text(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);  // 17 significant digits: the double back exactly
  return buf;
}
template <class T>
std::optional<std::string> to_text(const std::optional<T>& v) {
  if (!v) return std::nullopt;
  return to_text(*v);
}

[[noreturn]] void bad(const std::string& file, const std::string& key, const std::string& text, const char* what) {
  throw Error(file + ": metadata '" + key + "' is not " + what + ": '" + text + "'");
}

// Digits only: no sign, no space, no exponent (stoull would accept "-1" as 2^64-1).
uint64_t parse_count(const std::string& text, const std::string& key, const std::string& file) {
  if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos)
    bad(file, key, text, "a count");
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE) bad(file, key, text, "a count");
  return uint64_t(v);
}

void from_text(const std::string& text, std::string& out, const std::string&, const std::string&) { out = text; }
void from_text(const std::string& text, uint64_t& out, const std::string& key, const std::string& file) {
  out = parse_count(text, key, file);
}
void from_text(const std::string& text, bool& out, const std::string& key, const std::string& file) {
  if (text != "0" && text != "1") bad(file, key, text, "0 or 1");
  out = text == "1";
}
void from_text(const std::string& text, double& out, const std::string& key, const std::string& file) {
  char* end = nullptr;
  errno = 0;
  out = std::strtod(text.c_str(), &end);
  // ERANGE on underflow still gives the nearest (subnormal) double, which is what was written.
  if (text.empty() || end != text.c_str() + text.size() || (errno == ERANGE && std::isinf(out)))
    bad(file, key, text, "a number");
}
template <class T>
void from_text(const std::string& text, std::optional<T>& out, const std::string& key, const std::string& file) {
  T v{};
  from_text(text, v, key, file);
  out = v;
}

template <class T>
std::string show(const T& v) {
  if constexpr (std::is_same_v<decltype(to_text(v)), std::string>) {
    return to_text(v);
  } else {
    const auto t = to_text(v);
    return t ? *t : std::string("(unset)");
  }
}

}  // namespace

Metadata to_metadata(const RunSettings& s) {
  Metadata md;
  visit_fields(
      [&](const Field& f, const auto& value) {
        const auto text = to_text(value);
        if constexpr (std::is_same_v<decltype(text), const std::string>) {
          md[f.key] = text;
        } else if (text) {
          md[f.key] = *text;
        }
      },
      s);
  return md;
}

RunSettings from_metadata(const Metadata& md, const std::string& file) {
  RunSettings s;
  visit_fields(
      [&](const Field& f, auto& value) {
        const auto it = md.find(f.key);
        if (it == md.end()) {
          if (f.required) throw Error(file + ": not a checkpoint (its metadata has no '" + f.key + "')");
          return;  // written before this setting existed: its default
        }
        from_text(it->second, value, f.key, file);
      },
      s);
  return s;
}

void adopt_settings(RunSettings& mine, const RunSettings& checkpoint, const std::string& file,
                    const std::function<bool(const char* flag)>& given) {
  RunSettings merged = checkpoint;
  visit_fields(
      [&](const Field& f, auto& value, const auto& flag_value) {
        if (!given(f.flag)) return;
        if (f.on_resume == OnResume::flag_wins) {
          value = flag_value;
        } else if (show(flag_value) != show(value)) {
          throw UsageError(std::string(f.flag) + " " + show(flag_value) + " conflicts with the checkpoint's " +
                           show(value) + " in " + file + " " + kDropTheFlag);
        }
      },
      merged, std::as_const(mine));
  mine = merged;
}

uint64_t metadata_count(const Metadata& md, const std::string& key, const std::string& file) {
  const auto it = md.find(key);
  if (it == md.end()) throw Error(file + ": not a checkpoint (its metadata has no '" + key + "')");
  return parse_count(it->second, key, file);
}

size_t plateau_epochs(const std::string& text) {
  const std::string prefix = "plateau:";
  if (text == "none") return 0;
  if (text.rfind(prefix, 0) == 0) {
    const std::string n = text.substr(prefix.size());
    if (!n.empty() && n.size() < 6 && n.find_first_not_of("0123456789") == std::string::npos && std::stoul(n) >= 1)
      return std::stoul(n);
  }
  throw UsageError("--schedule must be none or plateau:N with N >= 1 epochs, got '" + text + "'");
}

Hyper checked_hyper(const RunSettings& s) {
  if (!(s.eta > 0) || !std::isfinite(s.eta)) throw UsageError("eta must be > 0, got " + std::to_string(s.eta));
  if (!(s.lambda >= 0) || !std::isfinite(s.lambda))
    throw UsageError("lambda must be >= 0, got " + std::to_string(s.lambda));
  if (!(s.momentum >= 0 && s.momentum < 1))
    throw UsageError("momentum must be >= 0 and < 1, got " + std::to_string(s.momentum));
  if (s.batch_size < 1) throw UsageError("batch must be >= 1, got 0");
  Hyper h;
  h.eta = s.eta;
  h.lambda = s.lambda;
  h.momentum = s.momentum;
  h.cost = cost_from_name(s.cost);
  return h;
}

std::vector<size_t> checked_layers(const RunSettings& s, const Dataset& data) {
  const std::string& layers = s.layers;
  if (layers.empty()) return {data.input_size(), 30, data.classes};
  const std::vector<size_t> sizes = parse_layers(layers);
  if (sizes.front() != data.input_size()) {
    throw UsageError("--layers " + layers + " starts with " + std::to_string(sizes.front()) +
                     " inputs but the images have " + std::to_string(data.input_size()) + " pixels");
  }
  if (sizes.back() != data.classes) {
    throw UsageError("--layers " + layers + " ends with " + std::to_string(sizes.back()) +
                     " outputs but the data have " + std::to_string(data.classes) + " classes");
  }
  return sizes;
}

TrainOptions train_options(const RunSettings& s) {
  if (s.expand != "none" && s.expand != "shifts")
    throw UsageError("--expand must be none or shifts, got '" + s.expand + "'");
  TrainOptions o;
  o.epochs = s.epochs;
  o.batch_size = s.batch_size;
  o.seed = s.seed;
  o.plateau = plateau_epochs(s.schedule);
  o.early_stop = s.early_stop;
  o.shifts = s.expand == "shifts";
  return o;
}

}  // namespace bp
