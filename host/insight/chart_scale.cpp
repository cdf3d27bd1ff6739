// See chart_scale.hpp.
#include "insight/chart_scale.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bp::chart {
namespace {

// The smallest of 1, 2, 5 times a power of ten that is at least `raw` (> 0).
double round_step(double raw) {
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * power >= raw * (1 - 1e-9)) return m * power;
  return 10 * power;
}

double step_for(double lo, double hi, size_t most) {
  const double span = hi > lo ? hi - lo : std::max(std::abs(lo), 1.0);
  return round_step(span / double(std::max<size_t>(most, 2) - 1));
}

int decimals_for(double step) { return std::max(0, int(-std::floor(std::log10(step) + 1e-9))); }

}  // namespace

double Scale::fraction(double v) const {
  if (log) {
    const double a = std::log10(lo), b = std::log10(hi);
    return b > a ? (std::log10(v) - a) / (b - a) : 0.5;
  }
  return hi > lo ? (v - lo) / (hi - lo) : 0.5;
}

std::string number_label(double v, int decimals) {
  decimals = std::clamp(decimals, 0, 17);
  if (std::abs(v) < 0.5 * std::pow(10.0, -decimals)) v = 0;  // never "-0"
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  const std::string s = buf;
  const size_t begin = s[0] == '-' ? 1 : 0, end = std::min(s.find('.'), s.size());
  std::string out = s.substr(0, begin);
  for (size_t i = begin; i < end; ++i) {
    if (i > begin && (end - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out + s.substr(end);
}

std::vector<Tick> linear_ticks(double lo, double hi, size_t most) {
  const double step = step_for(lo, hi, most);
  const int decimals = decimals_for(step);
  std::vector<Tick> out;
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; ++k)
    out.push_back({k * step, number_label(k * step, decimals)});
  return out;
}

Scale round_scale(double lo, double hi, size_t most) {
  const double step = step_for(lo, hi, most);
  Scale s{std::floor(lo / step + 1e-9) * step, std::ceil(hi / step - 1e-9) * step, false};
  if (s.hi <= s.lo) s.hi = s.lo + step;
  return s;
}

std::vector<Tick> log_ticks(double lo, double hi) {
  std::vector<Tick> out;
  if (!(lo > 0) || !(hi >= lo)) return out;
  const int first = int(std::floor(std::log10(lo))), last = int(std::ceil(std::log10(hi)));
  const bool fine = std::log10(hi) - std::log10(lo) < 3;
  for (int e = first; e <= last; ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      if (m != 1 && !fine) continue;
      const double v = m * std::pow(10.0, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push_back({v, number_label(v, std::max(0, -e))});
    }
  return out;
}

}  // namespace bp::chart
