// What a sweep found: its networks grouped by setting (every swept flag but --seeds), each with
// the mean and spread over seeds of the final validation accuracy, sorted best first, printed as
// a table. The same for a run and for merged shards, since both start from the NetworkRuns.
#pragma once

#include <string>
#include <vector>

#include "sweep/grid.hpp"
#include "sweep/record.hpp"

namespace bp::sweep {

struct Setting {
  std::vector<std::string> point;                 // the value of each axis, --seeds left empty
  std::vector<const NetworkRun*> runs;            // its networks, one per seed
  double validation_mean = 0, validation_sd = 0;  // % at the final epoch (a diverged network counts 0)
  double test_mean = 0;                           // % at the final epoch
  double test_best = 0;                           // % at the best epoch of the best seed
  size_t diverged = 0;
  std::vector<double> curve;  // mean validation % after each epoch
};

// `v` with `decimals` digits after the point, as the table and the pictures print accuracies.
std::string fixed_decimals(double v, int decimals);

// Final validation accuracy of one network in %, 0 when it diverged.
double final_validation(const NetworkRun& run);

// The settings of `runs`, best mean validation accuracy first (ties: grid order).
std::vector<Setting> summarise(const std::vector<Axis>& axes, const std::vector<NetworkRun>& runs);

// The table: a column per flag with more than one value, then the accuracies.
std::string format_table(const std::vector<Axis>& axes, const std::vector<Setting>& settings);

// The network with the best final validation accuracy (first in grid order among equals).
const NetworkRun* best_network(const std::vector<NetworkRun>& runs);

}  // namespace bp::sweep
