// See grid.hpp.
#include "sweep/grid.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <unordered_set>

#include "base/error.hpp"
#include "model/network.hpp"

namespace bp::sweep {
namespace {

double to_real(const std::string& v) { return std::strtod(v.c_str(), nullptr); }
uint64_t to_count(const std::string& v) { return std::strtoull(v.c_str(), nullptr, 10); }

constexpr uint64_t kMaxRange = 1000000;  // a longer range is a typo, not a sweep

[[noreturn]] void bad(const SweptFlag& f, const std::string& word, const std::string& why) {
  throw UsageError(std::string(f.flag) + " '" + word + "': " + why);
}

std::vector<std::string> split(const std::string& word, char at) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= word.size(); ++i) {
    if (i == word.size() || word[i] == at) {
      parts.push_back(word.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

std::string canonical_real(const SweptFlag& f, const std::string& word, const std::string& item) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(item.c_str(), &end);
  if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v))
    bad(f, word, "'" + item + "' is not a finite number");
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back as v
  return std::string(buf, r.ptr);
}

uint64_t parse_count(const SweptFlag& f, const std::string& word, const std::string& item) {
  if (item.empty() || item.size() > 20 || item.find_first_not_of("0123456789") != std::string::npos)
    bad(f, word, "'" + item + "' is not a whole number (a range is FIRST-LAST, e.g. 1-5)");
  errno = 0;
  const unsigned long long v = std::strtoull(item.c_str(), nullptr, 10);
  if (errno == ERANGE) bad(f, word, "'" + item + "' is too large");
  return v;
}

// Appends the counts of `item` (N or FIRST-LAST) to `out` and their range to `ranges`.
void add_counts(const SweptFlag& f, const std::string& word, const std::string& item, std::vector<std::string>& out,
                std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  const size_t dash = item.find('-');
  if (dash == std::string::npos) {
    const uint64_t v = parse_count(f, word, item);
    out.push_back(std::to_string(v));
    ranges.emplace_back(v, v);
    return;
  }
  const uint64_t first = parse_count(f, word, item.substr(0, dash)), last = parse_count(f, word, item.substr(dash + 1));
  if (last < first)
    bad(f, word,
        "the range " + item + " runs backwards (write " + std::to_string(last) + "-" + std::to_string(first) + ")");
  if (last - first >= kMaxRange)
    bad(f, word, "the range " + item + " has more than " + std::to_string(kMaxRange) + " values");
  out.reserve(out.size() + (last - first + 1));
  for (uint64_t v = first;; ++v) {
    out.push_back(std::to_string(v));
    if (v == last) break;
  }
  ranges.emplace_back(first, last);
}

// A value listed twice: counts are compared as ranges (a million seeds in one range are checked
// at once), other values through a hash set.
std::optional<std::string> repeated(const SweptFlag& f, const std::vector<std::string>& values,
                                    std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  if (f.kind == Kind::count) {
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i)
      if (ranges[i].first <= ranges[i - 1].second) return std::to_string(ranges[i].first);
    return std::nullopt;
  }
  std::unordered_set<std::string> seen;
  for (const std::string& v : values)
    if (!seen.insert(v).second) return v;
  return std::nullopt;
}

}  // namespace

const std::vector<SweptFlag>& swept_flags() {
  // One line per swept flag. The value text has been checked by parse_values.
  static const std::vector<SweptFlag> flags = {
      {"--layers", "Layer lists, one per word: 784,15,10 784,30,10", Kind::words,
       [](RunSettings& s, const std::string& v) { s.layers = v; }},
      {"--cost", "Costs: quadratic,cross-entropy,log-likelihood", Kind::text,
       [](RunSettings& s, const std::string& v) { s.cost = v; }},
      {"--init", "Initialisations: normal,scaled", Kind::text,
       [](RunSettings& s, const std::string& v) { s.init = v; }},
      {"--epochs", "Epochs: 10,30 or 5-10", Kind::count,
       [](RunSettings& s, const std::string& v) { s.epochs = to_count(v); }},
      {"--batch", "Mini-batch sizes: 10,32", Kind::count,
       [](RunSettings& s, const std::string& v) { s.batch_size = to_count(v); }},
      {"--eta", "Learning rates: 0.1,0.3,1,3", Kind::real,
       [](RunSettings& s, const std::string& v) { s.eta = to_real(v); }},
      {"--lambda", "L2 regularisations: 0,1,5", Kind::real,
       [](RunSettings& s, const std::string& v) { s.lambda = to_real(v); }},
      {"--momentum", "Momentum coefficients: 0,0.5,0.9", Kind::real,
       [](RunSettings& s, const std::string& v) { s.momentum = to_real(v); }},
      {"--schedule", "Schedules: none,plateau:3", Kind::text,
       [](RunSettings& s, const std::string& v) { s.schedule = v; }},
      {"--early-stop", "Early stops (epochs without improvement; 0: none): 0,5", Kind::count,
       [](RunSettings& s, const std::string& v) { s.early_stop = to_count(v); }},
      {"--expand", "Training data: none,shifts", Kind::text,
       [](RunSettings& s, const std::string& v) { s.expand = v; }},
      {"--train-size",
       "Training images, from the start of the training file: 1000,10000,50000 (the data are loaded once, each "
       "size a prefix; more than one value also draws learning_curve.png) [default: 5/6 of it, 50000 for MNIST]",
       Kind::count, [](RunSettings& s, const std::string& v) { s.train_size = to_count(v); }},
      {"--seeds", "Seeds: 1-5 or 1,7,42 [default: 1]", Kind::count,
       [](RunSettings& s, const std::string& v) { s.seed = to_count(v); }},
  };
  return flags;
}

std::vector<std::string> parse_values(const SweptFlag& f, const std::vector<std::string>& words) {
  std::vector<std::string> out;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // the counts', for the check for repeats
  for (const std::string& word : words) {
    if (word.empty()) bad(f, word, "no values: the grid would be empty");
    if (f.kind == Kind::words) {
      out.push_back(format_layers(parse_layers(word)));
      continue;
    }
    for (const std::string& item : split(word, ',')) {
      if (item.empty()) bad(f, word, "an empty value in the list");
      if (f.kind == Kind::real)
        out.push_back(canonical_real(f, word, item));
      else if (f.kind == Kind::count)
        add_counts(f, word, item, out, ranges);
      else
        out.push_back(item);
    }
  }
  if (out.empty()) throw UsageError(std::string(f.flag) + " has no values: the grid would be empty");
  if (const std::optional<std::string> v = repeated(f, out, ranges))
    throw UsageError(std::string(f.flag) + " lists " + *v + " twice");
  return out;
}

Grid::Grid(RunSettings base, std::vector<Axis> axes) : base_(std::move(base)), axes_(std::move(axes)) {
  for (const Axis& a : axes_) {
    if (a.values.empty()) throw UsageError(a.flag + " has no values: the grid would be empty");
    if (size_ > UINT64_MAX / a.values.size()) throw UsageError("the grid has more than 2^64 networks");
    size_ *= a.values.size();
    const auto f =
        std::find_if(swept_flags().begin(), swept_flags().end(), [&](const SweptFlag& s) { return a.flag == s.flag; });
    if (f == swept_flags().end()) throw UsageError(a.flag + " is not a flag a sweep can vary");
    flags_.push_back(&*f);
  }
}

std::vector<std::string> Grid::values_at(uint64_t index) const {
  std::vector<std::string> values(axes_.size());
  for (size_t i = axes_.size(); i-- > 0;) {  // the last axis varies fastest
    values[i] = axes_[i].values[index % axes_[i].values.size()];
    index /= axes_[i].values.size();
  }
  return values;
}

RunSettings Grid::at(uint64_t index) const {
  RunSettings s = base_;
  for (size_t i = axes_.size(); i-- > 0;) {  // as values_at, without copying the values
    flags_[i]->apply(s, axes_[i].values[index % axes_[i].values.size()]);
    index /= axes_[i].values.size();
  }
  return s;
}

std::string Grid::signature() const {
  std::string text;
  for (const Axis& a : axes_) {
    text += a.flag + "=";
    for (size_t i = 0; i < a.values.size(); ++i) text += (i ? " " : "") + a.values[i];
    text += "; ";
  }
  for (const auto& [key, value] : to_metadata(base_)) text += key + "=" + value + " ";
  return text;
}

Shard parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  const auto whole = [](const std::string& t) {
    return !t.empty() && t.size() <= 18 && t.find_first_not_of("0123456789") == std::string::npos;
  };
  if (slash == std::string::npos || !whole(text.substr(0, slash)) || !whole(text.substr(slash + 1)))
    throw UsageError("--shard must be I/N (the I-th of N slices, 1 <= I <= N), got '" + text + "'");
  const Shard s{std::stoull(text.substr(0, slash)), std::stoull(text.substr(slash + 1))};
  if (s.count < 1 || s.index < 1 || s.index > s.count)
    throw UsageError("--shard must be I/N with 1 <= I <= N, got '" + text + "'");
  return s;
}

std::vector<uint64_t> shard_indices(uint64_t grid_size, const Shard& shard) {
  std::vector<uint64_t> out;
  for (uint64_t i = shard.index - 1; i < grid_size; i += shard.count) out.push_back(i);
  return out;
}

}  // namespace bp::sweep
