// Mini-batch SGD as network.py runs it: each epoch a fresh seeded shuffle of the training set,
// one step per minibatch on the backend, then evaluation. Chapter 3's tools on top: eta halved on
// validation plateaus, early stopping, and the parameters of the best-validation epoch kept;
// chapter 6's shifted copies of the training images. Reports each epoch through a callback; the
// tool prints, logs and checkpoints them. A run can start mid-epoch (resume) and stop between
// minibatches when asked (a signal). One loop trains K networks of one shape together on one
// backend (a sweep's group), each with its own seed, schedule and reports; `train` is K = 1.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "data/dataset.hpp"
#include "model/backend.hpp"
#include "model/network.hpp"
#include "train/schedule.hpp"

namespace bp {

struct TrainOptions {
  size_t epochs = 30;  // total, counting epochs already done before a resume
  size_t batch_size = 10;
  Hyper hyper;  // hyper.eta is the starting eta; hyper.n is set from the training set
  uint64_t seed = 1;
  size_t first_epoch = 0;   // where a resumed run starts...
  size_t first_sample = 0;  // ...and how far into that epoch's shuffled order
  bool evaluate_validation = true;
  bool evaluate_test = true;
  size_t plateau = 0, early_stop = 0;       // see ScheduleSettings; both need validation data
  bool shifts = false;                      // train on each image and its four one-pixel shifts (5x the samples)
  ScheduleState schedule;                   // a resumed run's schedule...
  Network best;                             // ...and its best-validation parameters (empty: none yet)
  const std::atomic<bool>* stop = nullptr;  // when set, stop after the chunk of minibatches in flight
  // Momentum velocities, kept beside `net`: on entry those to start from (no sizes: zero, as a
  // fresh run starts), updated whenever `net` is (before each epoch callback and on return).
  // Left untouched when hyper.momentum is 0; may be null then.
  Network* velocity = nullptr;
};

struct EpochReport {
  size_t epoch = 0;
  double eta = 0;  // the learning rate this epoch trained with
  double train_seconds = 0, eval_seconds = 0;
  double training_cost = 0;  // mean over the epoch's samples before their step, plus the L2 term
  size_t validation_correct = 0, validation_count = 0;
  std::vector<size_t> validation_predicted;  // per class: validation images classified as it
  size_t test_correct = 0, test_count = 0;
  double parameter_change = 0;    // Euclidean norm of (parameters after - before) over the epoch
  size_t samples = 0;             // trained on in this run: fewer than the epoch's in a resumed one
  bool partial = false;           // a resumed epoch: cost, change and rate cover only its rest
  bool finite = true;             // false once a cost or parameter is NaN or infinite
  ScheduleDecision decision;      // taken after this epoch (only with validation data)
  ScheduleState schedule;         // the schedule after this epoch
  const Network* best = nullptr;  // the best-validation parameters so far (null: no validation)
};

struct TrainOutcome {
  enum Status { finished, stopped_early, diverged, interrupted } status = finished;
  size_t epoch = 0;   // interrupted: the epoch in progress...
  size_t sample = 0;  // ...and the samples of its order already trained on (a whole number of batches)
  ScheduleState schedule;
  Network best;  // the parameters after the best-validation epoch (empty without validation)
};

using EpochCallback = std::function<void(const EpochReport&)>;
// Called as minibatches complete: samples done so far in this epoch, and the epoch's total.
using ProgressCallback = std::function<void(size_t done, size_t total)>;

// Trains `net` in place (on return it holds the latest parameters, also when interrupted). Stops
// after an epoch whose cost or parameters are not finite (status diverged), and when the schedule
// says so (stopped_early). Throws UsageError for a schedule without validation data.
TrainOutcome train(Backend& backend, Network& net, const Dataset& data, const TrainOptions& options,
                   const EpochCallback& on_epoch, const ProgressCallback& on_progress = {});

// Called for network k's epoch report, in network order after each epoch.
using NetworkEpochCallback = std::function<void(size_t k, const EpochReport&)>;

// train() for K networks at once: options[k] trains nets[k] with its own hyper-parameters, seed
// (shuffles), schedule, best-validation copy and velocities; all must agree on epochs, batch
// size, cost, shifts, evaluation, momentum (on or off), the resume position and the stop flag.
// Throws Error otherwise. Each network's reports are those of its own train() run. A network that
// stops early or diverges is no longer reported; its copy keeps stepping with the others (its
// results are ignored), since taking it out of the group would cost more than its share of a
// launch; on return nets[k] holds its last reported parameters.
std::vector<TrainOutcome> train_together(Backend& backend, std::vector<Network>& nets, const Dataset& data,
                                         const std::vector<TrainOptions>& options, const NetworkEpochCallback& on_epoch,
                                         const ProgressCallback& on_progress = {});

// The samples of one chunk of an epoch: about 1% of the epoch's n in whole batches, rounded up
// to a multiple of the backend's preferred number of steps per call.
size_t chunk_size(size_t n, size_t batch, size_t steps);

// The classes that `predicted` (as in EpochReport) never names: a stuck run's dead digits.
std::vector<size_t> never_predicted(const std::vector<size_t>& predicted);

}  // namespace bp
