// The text `backprop train` prints for each epoch and at the end of a run, as strings, so that the
// command line and Python's Network.train(verbose=True) print the same lines from one place.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "train/resume.hpp"
#include "train/schedule.hpp"
#include "train/trainer.hpp"

namespace bp {

// A finished epoch's lines, each ending in '\n': network.py's "Epoch N: correct / total" with the
// timing, cost, validation, eta and change; a warning when some class is never predicted on the
// validation set (a stuck run); why the schedule stopped the run. `train_count` is the samples of
// a whole epoch (a resumed epoch says it covers only their rest). Not for a diverged epoch.
std::string epoch_lines(const EpochReport& r, size_t train_count, const ScheduleSettings& schedule);

// Why a run stopped at a diverged epoch: the advice, in the words of `flag_prefix` ("--" for the
// command line's --eta and --lambda, "" for Python's eta and lmbda). No newline.
std::string divergence_advice(const EpochReport& r, double lambda, const std::string& flag_prefix);

// The closing line: the best test accuracy, the test accuracy at the best-validation epoch (when
// there was validation), and the time spent training; ends in '\n'.
std::string summary_line(const RunRecord& record, size_t test_count, std::optional<size_t> best_validation_epoch);

}  // namespace bp
