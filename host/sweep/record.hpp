// A sweep's --log: one JSON object per line for every epoch of every network, holding the same
// fields as `backprop train --log` plus the network's index in the grid, its settings (as a
// checkpoint records them), its value on each swept flag, and the grid's signature and size, so
// that shards' logs can be checked against each other and merged back into one sweep.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sweep/grid.hpp"
#include "train/run_settings.hpp"
#include "train/trainer.hpp"

namespace bp::sweep {

struct NetworkRun {
  uint64_t index = 0;
  RunSettings settings;
  std::vector<std::string> point;   // the value of each axis, in the grid's axis order
  std::vector<EpochReport> epochs;  // a diverged network's last one is not finite
};

// The line of one epoch.
std::string record_line(const Grid& grid, const NetworkRun& run, const EpochReport& r);

// Everything a set of sweep logs hold: the grid (axes rebuilt from the networks' points) and
// each network's run, by index.
struct SweepLog {
  std::string signature;
  uint64_t grid_size = 0;
  std::vector<Axis> axes;
  std::vector<NetworkRun> runs;  // ascending index
};

// Reads and combines the logs of one sweep (its shards, or one whole run). Throws bp::UsageError
// with one message when they disagree on the grid, hold the same network twice or do not cover
// the grid exactly; bp::Error on a file that cannot be read or a line that is not a record.
SweepLog merge_logs(const std::vector<std::string>& files);

}  // namespace bp::sweep
