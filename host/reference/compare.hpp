// llm.c's comparison helper: the largest absolute and relative difference between a reference
// and a result, with its index, and the first mismatches printed. Relative error is
// |got - ref| / max(|ref|, floor * max|ref|), so entries near zero are judged against the scale
// of the whole tensor rather than against themselves.
#pragma once

#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "model/network.hpp"

namespace bp {

struct Comparison {
  double max_abs = 0, max_rel = 0;
  size_t worst = 0;  // index of max_rel
  size_t count = 0;
  double floor = 0;  // the smallest denominator used
};

Comparison compare(std::span<const double> ref, std::span<const double> got, double floor);

// Prints "label: N values, max abs ..., max rel ... at [i] (ref ..., got ...)", and the first few
// entries whose relative error exceeds `tolerance`.
void print_comparison(std::ostream& out, const std::string& label, std::span<const double> ref,
                      std::span<const double> got, const Comparison& c, double tolerance);

// An error model for float32 results against a float64 reference: entry i passes when
// |got - ref| <= rtol * |ref| + atol. Rounding in float32 (unit roundoff u = 2^-24) of a sum of
// `length` products grows at most like sqrt(length) * u * the sum's scale for random-signed
// terms, so atol = 8 * u * sqrt(length) * max|ref| covers entries near zero, where a relative
// test against a floor flakes (one run: 9.1e-5 against 1e-4), while a wrong gradient, off by
// O(|ref|), still fails. The ratio is the largest |got - ref| / (rtol |ref| + atol): <= 1 passes.
struct ErrorModel {
  double rtol = 1e-4;
  double atol = 0;
  double worst_ratio = 0;
  size_t worst = 0;
};
ErrorModel float32_error_model(std::span<const double> ref, std::span<const double> got, size_t length,
                               double rtol = 1e-4);
// The same test with a given atol (for errors that are not float32's, such as a finite
// difference's rounding).
ErrorModel error_model(std::span<const double> ref, std::span<const double> got, double rtol, double atol);

// All parameters of a network, layer by layer, weights then biases, as doubles.
std::vector<double> flat_parameters(const Network& net);

}  // namespace bp
