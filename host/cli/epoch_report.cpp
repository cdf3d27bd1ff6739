// The epoch lines, the JSONL log and the summary of `backprop train`.
#include "cli/epoch_report.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "train/epoch_lines.hpp"
#include "train/epoch_record.hpp"
#include "train/run_settings.hpp"

namespace bp::cli {

LogFile::~LogFile() {
  if (file_) std::fclose(file_);
}

void LogFile::open(const std::string& path, bool append) {
  file_ = std::fopen(path.c_str(), append ? "a" : "w");
  if (!file_) throw UsageError("--log " + path + ": cannot open: " + std::strerror(errno));
  path_ = path;
}

void LogFile::write_line(const std::string& line) {
  if (failed_) return;
  errno = 0;
  if (std::fputs(line.c_str(), file_) < 0 || std::fputc('\n', file_) < 0 || std::fflush(file_) != 0) {
    failed_ = true;
    std::fprintf(stderr, "backprop: error: --log %s: write failed (%s); training goes on without the log\n",
                 path_.c_str(), errno ? std::strerror(errno) : "unknown reason");
  }
}

void EpochPrinter::epoch(const EpochReport& r) {
  record_.note(r);
  if (!r.finite) {
    // An error like any other: one line on stderr with the prefix, after the epochs printed so far.
    std::fflush(stdout);
    std::fprintf(stderr, "backprop: error: %s\n", divergence_advice(r, hyper_.lambda, "--").c_str());
    return;
  }
  std::fputs(epoch_lines(r, train_count_, schedule_).c_str(), stdout);
  std::fflush(stdout);
  if (log_.is_open()) log_.write_line(epoch_record(r).dump());
}

void EpochPrinter::summary(size_t test_count, std::optional<size_t> best_validation_epoch) const {
  std::fputs(summary_line(record_, test_count, best_validation_epoch).c_str(), stdout);
}

}  // namespace bp::cli
