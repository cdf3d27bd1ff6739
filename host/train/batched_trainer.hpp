// bp::train for K networks at once on a BatchedBackend: the same epochs, shuffles (each network's
// own seed), schedule, early stopping, evaluation and reports as K separate runs of bp::train,
// with every network's steps of a chunk launched together. A network that stops early or
// diverges is no longer reported; its device copy keeps stepping with the others (its results
// are ignored), since taking it out of the group would cost more than its share of a launch.
#pragma once

#include <functional>
#include <vector>

#include "model/batched_backend.hpp"
#include "train/trainer.hpp"

namespace bp {

// Called for network k's epoch report, in network order after each epoch.
using BatchedEpochCallback = std::function<void(size_t k, const EpochReport&)>;

// options[k] trains nets[k]; all must agree on epochs, batch size, shifts, evaluation and
// momentum (on or off), and start at the beginning (no resume). Throws Error otherwise. Returns
// each network's outcome; on return nets[k] holds its last reported parameters.
std::vector<TrainOutcome> train_together(BatchedBackend& backend, std::vector<Network>& nets, const Dataset& data,
                                         const std::vector<TrainOptions>& options,
                                         const BatchedEpochCallback& on_epoch);

}  // namespace bp
