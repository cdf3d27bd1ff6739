// See summary.hpp.
#include "sweep/summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace bp::sweep {
namespace {

double percent(size_t correct, size_t count) { return count ? 100.0 * double(correct) / double(count) : 0.0; }

}  // namespace

std::string fixed_decimals(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double final_validation(const NetworkRun& run) {
  if (run.epochs.empty() || !run.epochs.back().finite) return 0;
  return percent(run.epochs.back().validation_correct, run.epochs.back().validation_count);
}

std::vector<Setting> summarise(const std::vector<Axis>& axes, const std::vector<NetworkRun>& runs) {
  std::vector<Setting> settings;
  std::map<std::vector<std::string>, size_t> where;
  for (const NetworkRun& run : runs) {
    std::vector<std::string> key = run.point;
    for (size_t a = 0; a < axes.size(); ++a)
      if (axes[a].flag == "--seeds") key[a].clear();
    const auto [it, fresh] = where.emplace(key, settings.size());
    if (fresh) settings.push_back(Setting{key, {}, 0, 0, 0, 0, 0, {}});
    settings[it->second].runs.push_back(&run);
  }
  for (Setting& s : settings) {
    const double n = double(s.runs.size());
    for (const NetworkRun* run : s.runs) {
      const double v = final_validation(*run);
      s.validation_mean += v / n;
      const bool diverged = run->epochs.empty() || !run->epochs.back().finite;
      s.diverged += diverged;
      if (!diverged) s.test_mean += percent(run->epochs.back().test_correct, run->epochs.back().test_count) / n;
      for (size_t e = 0; e < run->epochs.size(); ++e) {
        const EpochReport& r = run->epochs[e];
        if (!r.finite) break;
        s.test_best = std::max(s.test_best, percent(r.test_correct, r.test_count));
        if (s.curve.size() <= e) s.curve.resize(e + 1, 0.0);
        s.curve[e] += percent(r.validation_correct, r.validation_count) / n;  // a diverged seed adds 0 from here
      }
    }
    double ss = 0;
    for (const NetworkRun* run : s.runs) ss += std::pow(final_validation(*run) - s.validation_mean, 2);
    s.validation_sd = s.runs.size() > 1 ? std::sqrt(ss / (n - 1)) : 0.0;
  }
  std::stable_sort(settings.begin(), settings.end(),
                   [](const Setting& a, const Setting& b) { return a.validation_mean > b.validation_mean; });
  return settings;
}

std::string format_table(const std::vector<Axis>& axes, const std::vector<Setting>& settings) {
  std::vector<size_t> shown;  // the axes that vary, but not the seeds
  for (size_t a = 0; a < axes.size(); ++a)
    if (axes[a].values.size() > 1 && axes[a].flag != "--seeds") shown.push_back(a);
  std::vector<std::vector<std::string>> rows = {{}};
  for (size_t a : shown) rows[0].push_back(axes[a].flag.substr(2));
  for (const char* h : {"seeds", "validation %", "sd", "test %", "best test %", "diverged"}) rows[0].push_back(h);
  for (const Setting& s : settings) {
    std::vector<std::string> row;
    for (size_t a : shown) row.push_back(s.point[a]);
    row.push_back(std::to_string(s.runs.size()));
    row.push_back(fixed_decimals(s.validation_mean, 2));
    row.push_back(fixed_decimals(s.validation_sd, 2));
    row.push_back(fixed_decimals(s.test_mean, 2));
    row.push_back(fixed_decimals(s.test_best, 2));
    row.push_back(std::to_string(s.diverged));
    rows.push_back(row);
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      out += c < shown.size() ? row[c] + pad : pad + row[c];  // settings left, numbers right
      out += c + 1 < row.size() ? "  " : "\n";
    }
  }
  return out;
}

const NetworkRun* best_network(const std::vector<NetworkRun>& runs) {
  const NetworkRun* best = nullptr;
  for (const NetworkRun& run : runs)
    if (!best || final_validation(run) > final_validation(*best)) best = &run;
  return best;
}

}  // namespace bp::sweep
