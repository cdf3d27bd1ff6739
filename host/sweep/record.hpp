// A sweep's --log: one JSON object per line for every epoch of every network, holding the same
// fields as `backprop train --log` plus the network's index in the grid, its settings (as a
// checkpoint records them), its value on each swept flag, whether it is the network's last, and
// which sweep it belongs to (a digest of the grid, its size, the data), so that shards' logs can be
// checked against each other and merged back into one sweep, and an interrupted run continued.
// A line's size does not grow with the grid: the grid itself is in no line, only its digest.
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

// What every record of one sweep carries to say which sweep it is from.
struct SweepId {
  std::string grid;  // "crc32 XXXXXXXX of N bytes": a digest of the grid's signature
  uint64_t grid_size = 0;
  std::string data;                // the training and test data's fingerprint (train/resume.hpp)
  std::vector<std::string> flags;  // the swept flags, in the grid's order
  Shard shard;                     // the slice this run trains (--merge names a missing one)
};
SweepId sweep_id(const Grid& grid, const std::string& data_fingerprint, const Shard& shard);

// The line of one epoch.
std::string record_line(const SweepId& id, const NetworkRun& run, const EpochReport& r);

// Everything a set of sweep logs hold: the grid (axes rebuilt from the networks' points) and
// each network's run, by index.
struct SweepLog {
  std::string signature;
  uint64_t grid_size = 0;
  std::vector<Axis> axes;
  std::vector<NetworkRun> runs;  // ascending index
};

// Reads and combines the logs of one sweep (its shards, or one whole run). Throws bp::UsageError
// with one message when they disagree on the grid or the data, hold the same network twice, hold
// a network cut off before its last epoch, or do not cover the grid exactly; bp::Error on a file
// that cannot be read or a line that is not a record.
SweepLog merge_logs(const std::vector<std::string>& files);

// What --continue keeps of an earlier run's log: the networks it holds to their last epoch, and
// their lines as written. Those cut off by an interruption (and a torn last line) are left out, to
// be trained again. Throws bp::UsageError when the log is from another sweep or other data.
struct FinishedNetworks {
  std::vector<NetworkRun> runs;  // ascending index
  std::string lines;             // their records, each line ending in '\n'
};
FinishedNetworks read_finished(const std::string& file, const SweepId& id);

}  // namespace bp::sweep
