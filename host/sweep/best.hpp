// --save-best: the sweep's network with the best validation accuracy of any epoch, kept with that
// epoch's parameters as `train --save` keeps a run's (the last epoch's without validation data).
// A network whose parameters are not finite is never kept. The file records which network of which
// sweep it holds, so that a --continue of an interrupted sweep starts from the one written before.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "model/network.hpp"
#include "sweep/record.hpp"
#include "train/trainer.hpp"

namespace bp::sweep {

class BestNetwork {
 public:
  BestNetwork(std::string path, SweepId id) : path_(std::move(path)), id_(std::move(id)) {}

  // Takes the model already at the path as the one to beat when it is this sweep's (an
  // interrupted run's); anything else there is left to be replaced.
  void adopt_saved();
  // A trained network: `last` its last epoch's parameters, `outcome` its best-validation ones.
  void offer(const NetworkRun& run, const Network& last, const TrainOutcome& outcome);
  bool any() const { return index_.has_value(); }
  uint64_t index() const { return *index_; }
  // Writes the best network unless the file already holds it; returns whether it wrote. Throws
  // bp::Error, leaving the file as it was, when no network had finite parameters.
  bool save(const std::string& backend) const;

 private:
  std::string path_;
  SweepId id_;
  std::optional<uint64_t> index_;
  size_t score_ = 0;    // validation images correct at the kept epoch
  bool saved_ = false;  // the file already holds it (adopted)
  RunSettings settings_;
  Network last_;
  TrainOutcome outcome_;
  size_t offered_ = 0;
};

}  // namespace bp::sweep
