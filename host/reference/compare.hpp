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

// All parameters of a network, layer by layer, weights then biases, as doubles.
std::vector<double> flat_parameters(const Network& net);

}  // namespace bp
