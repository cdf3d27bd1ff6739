// Trains the networks of a sweep: a pool of worker threads, each taking the next network of the
// list, making its own backend and training it through bp::train, exactly as `backprop train`
// does. On the CPU each worker's backend is single-threaded (one network per core); the data are
// loaded once and shared read-only. Or (run_groups) groups of networks, each group trained
// together on one backend through bp::train_together.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "data/dataset.hpp"
#include "model/backend.hpp"
#include "model/network.hpp"
#include "sweep/record.hpp"
#include "train/backend_factory.hpp"
#include "train/trainer.hpp"

namespace bp::sweep {

// One network to train: its run (index, settings, point; epochs filled in as it trains) and
// what its settings mean for the step, checked before any training starts.
struct Plan {
  NetworkRun run;
  std::vector<size_t> sizes;
  Hyper hyper;
  Init init = Init::normal;
  size_t train_count = 0;  // trains on the first this many training images (0: all the data's)
};

struct RunnerOptions {
  BackendOptions backend;  // each worker makes its own
  size_t workers = 1;
  const std::atomic<bool>* stop = nullptr;  // set (a signal): every worker stops after its chunk in flight
};

// Called on the worker's thread, one at a time (the runner holds a lock around them).
using OnEpoch = std::function<void(const NetworkRun& run, const EpochReport& r)>;
// `trained` holds the last epoch's parameters; `outcome` how it ended and its best-validation ones.
using OnNetwork = std::function<void(const NetworkRun& run, const Network& trained, const TrainOutcome& outcome)>;

// Trains every plan. Returns false when stopped before all finished. The first exception a worker
// throws stops the others and is rethrown here.
bool run_plans(std::vector<Plan>& plans, const Dataset& data, const RunnerOptions& options, const OnEpoch& on_epoch,
               const OnNetwork& on_network);

// Trains each group (indices into plans) together on the backend `backend_for` gives for its
// first plan (owned by the caller, which may hand the same one to every group), group after
// group, with the same callbacks as run_plans (each network's epochs in order; within an epoch,
// the group's networks in group order). Returns false when stopped before all finished.
using BackendFor = std::function<Backend&(const Plan& first)>;
bool run_groups(std::vector<Plan>& plans, const std::vector<std::vector<size_t>>& groups, const Dataset& data,
                const BackendFor& backend_for, const std::atomic<bool>* stop, const OnEpoch& on_epoch,
                const OnNetwork& on_network);

}  // namespace bp::sweep
