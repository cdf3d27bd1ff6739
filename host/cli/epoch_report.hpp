// What `backprop train` says about each epoch: network.py's line plus timing and the eta on
// stdout, one JSON object per epoch in the --log file, a warning when some digit is never
// predicted (a stuck run), why a schedule stopped the run, and the closing summary with both the
// best test accuracy over epochs and the test accuracy at the best-validation epoch.
#pragma once

#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>

#include "model/network.hpp"
#include "train/checkpoint.hpp"
#include "train/resume.hpp"
#include "train/trainer.hpp"

namespace bp::cli {

// The --log file. A write error (a full disk) is reported once on stderr and remembered, so
// that the run still finishes and saves its model but exits non-zero.
class LogFile {
 public:
  LogFile() = default;
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  ~LogFile();
  void open(const std::string& path, bool append);  // bp::UsageError when it cannot
  bool is_open() const { return file_ != nullptr; }
  void write_line(const std::string& line);
  bool failed() const { return failed_; }

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
  bool failed_ = false;
};

class EpochPrinter {
 public:
  // `log` may be closed (no --log); `train_count` is the samples of a whole epoch.
  EpochPrinter(const Hyper& hyper, size_t train_count, LogFile& log, const ScheduleSettings& schedule,
               RunRecord record = {})
      : hyper_(hyper), train_count_(train_count), log_(log), schedule_(schedule), record_(record) {}

  // Prints (and logs) one epoch; a diverged epoch gets advice instead of the line.
  void epoch(const EpochReport& r);
  // The closing line: the best test accuracy, the test accuracy at the best-validation epoch
  // `best_validation_epoch` (when there was validation), and the time spent training.
  void summary(size_t test_count, std::optional<size_t> best_validation_epoch) const;
  const RunRecord& record() const { return record_; }

 private:
  Hyper hyper_;
  size_t train_count_;
  LogFile& log_;
  ScheduleSettings schedule_;
  RunRecord record_;
};

}  // namespace bp::cli
