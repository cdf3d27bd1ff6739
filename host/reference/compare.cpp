// See compare.hpp.
#include "reference/compare.hpp"

#include <algorithm>
#include <cmath>
#include <ostream>

namespace bp {
namespace {

double denominator_floor(std::span<const double> ref, double floor) {
  double scale = 0;
  for (double r : ref) scale = std::max(scale, std::abs(r));
  return std::max(floor * scale, 1e-300);
}

double relative_error(double ref, double got, double min_denominator) {
  const double abs_err = std::abs(got - ref);
  return std::isnan(abs_err) ? INFINITY : abs_err / std::max(std::abs(ref), min_denominator);
}

}  // namespace

Comparison compare(std::span<const double> ref, std::span<const double> got, double floor) {
  Comparison c;
  c.count = ref.size();
  c.floor = denominator_floor(ref, floor);
  for (size_t i = 0; i < ref.size(); ++i) {
    const double abs_err = std::abs(got[i] - ref[i]);
    c.max_abs = std::max(c.max_abs, std::isnan(abs_err) ? INFINITY : abs_err);  // std::max drops a NaN
    const double rel = relative_error(ref[i], got[i], c.floor);
    if (rel > c.max_rel || i == 0) {
      c.max_rel = rel;
      c.worst = i;
    }
  }
  return c;
}

ErrorModel float32_error_model(std::span<const double> ref, std::span<const double> got, size_t length, double rtol) {
  double scale = 0;
  for (double r : ref) scale = std::max(scale, std::abs(r));
  return error_model(ref, got, rtol,
                     8.0 * std::ldexp(1.0, -24) * std::sqrt(double(std::max<size_t>(length, 1))) * scale);
}

ErrorModel error_model(std::span<const double> ref, std::span<const double> got, double rtol, double atol) {
  ErrorModel m;
  m.rtol = rtol;
  m.atol = atol;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double bound = rtol * std::abs(ref[i]) + m.atol;
    const double err = std::abs(got[i] - ref[i]);
    const double ratio = std::isnan(err) ? INFINITY : bound > 0 ? err / bound : (err > 0 ? INFINITY : 0);
    if (ratio > m.worst_ratio || i == 0) {
      m.worst_ratio = ratio;
      m.worst = i;
    }
  }
  return m;
}

void print_comparison(std::ostream& out, const std::string& label, std::span<const double> ref,
                      std::span<const double> got, const Comparison& c, double tolerance) {
  out << label << ": " << c.count << " values, max abs err " << c.max_abs << ", max rel err " << c.max_rel;
  if (c.count > 0) out << " at [" << c.worst << "] (ref " << ref[c.worst] << ", got " << got[c.worst] << ")";
  out << (c.max_rel <= tolerance ? "  OK" : "  FAIL") << " (tolerance " << tolerance << ")\n";
  int shown = 0;
  for (size_t i = 0; i < ref.size() && shown < 5; ++i) {
    if (relative_error(ref[i], got[i], c.floor) > tolerance) {
      out << "  mismatch [" << i << "]: ref " << ref[i] << ", got " << got[i] << "\n";
      ++shown;
    }
  }
}

std::vector<double> flat_parameters(const Network& net) {
  std::vector<double> out;
  out.reserve(net.parameter_count());
  for (size_t l = 0; l < net.weights.size(); ++l) {
    out.insert(out.end(), net.weights[l].begin(), net.weights[l].end());
    out.insert(out.end(), net.biases[l].begin(), net.biases[l].end());
  }
  return out;
}

}  // namespace bp
