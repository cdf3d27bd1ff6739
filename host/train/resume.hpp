// Runs that stop and go on exactly: what a checkpoint holds besides the parameters (where in
// which epoch's shuffled order the run stands, the schedule, the summary's running figures, the
// best-validation parameters, momentum's velocities, the data and backend it trained on), and the
// model `train --save` writes. The command line and the Python module both read and write these.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "model/network.hpp"
#include "train/checkpoint.hpp"
#include "train/run_settings.hpp"
#include "train/schedule.hpp"
#include "train/trainer.hpp"

namespace bp {

// The running figures of a run's summary; a checkpoint carries them so that a resumed run's
// summary covers the epochs before the resume too.
struct RunRecord {
  size_t best_test = 0, best_test_epoch = 0, epochs_run = 0;
  std::optional<size_t> test_at_best_validation;  // test correct at the best-validation epoch
  double train_seconds = 0;

  // Adds an epoch: its training time, and (a finite one) its test accuracy.
  void note(const EpochReport& r);
  void to_metadata(Metadata& md) const;
  // Missing keys (a checkpoint from before these existed) leave the defaults.
  static RunRecord from_metadata(const Metadata& md, const std::string& file);
};

// Where a resumed run starts: the epoch, the samples of its shuffled order already done, and
// what the epochs before left: the schedule, the best-validation parameters, the summary's figures.
struct StartPoint {
  size_t epoch = 0, sample = 0;
  ScheduleState schedule;
  Network best;
  RunRecord record;
  Network velocity;  // momentum's (no sizes: zero)
};

// A checkpoint read back: its parameters, where it stands, and what it trained on (an empty
// string: a checkpoint from before that was recorded).
struct Resumed {
  Network net;
  StartPoint start;
  std::string data_fingerprint, backend;
};

// Reads the checkpoint at `path` and adopts its settings into `settings` (adopt_settings: a flag
// that `given` reports must agree, or wins where it may). Throws bp::Error naming the file.
Resumed read_checkpoint(const std::string& path, RunSettings& settings,
                        const std::function<bool(const char* flag)>& given);

// Whether a resumed run can go on with the settings it adopted: bp::Error naming `path` when the
// recorded ones are not valid (a crafted file's fault, not a flag's); UsageError when it has
// already trained `settings.epochs` (in the CLI's words: "pass --epochs N").
void check_resumable(const Resumed& r, const RunSettings& settings, const std::string& path);

// Whether `start` is a minibatch boundary within an epoch of `epoch_samples` samples (5 an image
// with shifts); bp::Error naming `path` otherwise.
void check_resume_position(const StartPoint& start, size_t batch_size, size_t epoch_samples, const std::string& path);

// What identifies a run's data in its checkpoints: sizes and a CRC-32 of both files' pixels and
// labels, so that a resume on other data is noticed.
std::string data_fingerprint(const Dataset& d);
// The same from the data's parts in memory (Python's arrays): the training file's parts in order,
// then the test images, all of rows x cols pixels. MNIST as load_mnist splits it (training, then
// validation) gives the command line's fingerprint.
std::string data_fingerprint(const std::vector<DataView>& training, const DataView& test, size_t rows, size_t cols);

// The backend's name up to " (": CUDA's resident and streamed paths give the same bits (tested),
// so a resume across them still repeats the uninterrupted run.
std::string backend_family(const std::string& name);

// Writes a checkpoint of `net` (and `at`'s best and velocity networks) that read_checkpoint takes back.
void save_checkpoint(const std::string& path, const Network& net, const RunSettings& settings, const StartPoint& at,
                     const std::string& data_fingerprint, const std::string& backend);

// `train --save` of a finished run: the best-validation epoch's parameters where there was
// validation, else the last. Returns the epoch saved when it was the best-validation one. `extra`
// is added to the metadata (a sweep's: which network of which sweep).
std::optional<size_t> save_trained_model(const std::string& path, const Network& last, const TrainOutcome& outcome,
                                         const RunSettings& settings, const std::string& backend,
                                         const Metadata& extra = {});

}  // namespace bp
