// What `backprop train` says about each epoch: network.py's line plus timing on stdout, one JSON
// object per epoch in the --log file, the best test accuracy so far, and the closing summary.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

#include "model/network.hpp"
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
  EpochPrinter(const Hyper& hyper, size_t train_count, LogFile& log)
      : hyper_(hyper), train_count_(train_count), log_(log) {}

  // Prints (and logs) one epoch; a diverged epoch gets advice instead of the line.
  void epoch(const EpochReport& r);
  // The closing line: the best test accuracy and the time spent training.
  void summary(size_t test_count) const;

 private:
  Hyper hyper_;
  size_t train_count_;
  LogFile& log_;
  size_t best_ = 0, best_epoch_ = 0, epochs_run_ = 0;
  double total_train_seconds_ = 0;
};

}  // namespace bp::cli
