// Where a value lands along a chart's axis, on a linear or a base-10 logarithmic scale, and which
// values get a tick and a label there.
#pragma once

#include <string>
#include <vector>

namespace bp::chart {

struct Scale {
  double lo = 0, hi = 1;
  bool log = false;  // then lo > 0, and each decade takes the same length
  // 0 at lo, 1 at hi, linear in the value or in its logarithm; a value outside lands outside.
  double fraction(double v) const;
};

struct Tick {
  double value;
  std::string label;
};

// Round steps (1, 2 or 5 times a power of ten) from lo to hi, at most `most` of them, each labelled
// with the decimals the step needs.
std::vector<Tick> linear_ticks(double lo, double hi, size_t most = 7);
// The linear scale from the round step at or below lo to the one at or above hi (hi > lo after).
Scale round_scale(double lo, double hi, size_t most = 7);
// For 0 < lo <= hi: each power of ten between them ("100", "1,000", "10,000"), and 2 and 5 times
// those too when fewer than three decades are shown.
std::vector<Tick> log_ticks(double lo, double hi);
// A number with `decimals` decimals, thousands grouped by commas: "60,000", "0.5", "-3".
std::string number_label(double v, int decimals = 0);

}  // namespace bp::chart
