// The epoch lines, the JSONL log and the summary of `backprop train`.
#include "cli/epoch_report.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/error.hpp"

namespace bp::cli {
namespace {

nlohmann::json epoch_json(const EpochReport& r, size_t train_count) {
  return {{"epoch", r.epoch},
          {"train_seconds", r.train_seconds},
          {"eval_seconds", r.eval_seconds},
          {"samples_per_second", double(train_count) / r.train_seconds},
          {"training_cost", r.training_cost},
          {"validation_correct", r.validation_correct},
          {"validation_count", r.validation_count},
          {"test_correct", r.test_correct},
          {"test_count", r.test_count},
          {"parameter_change", r.parameter_change}};
}

}  // namespace

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
  total_train_seconds_ += r.train_seconds;
  if (!r.finite) {
    std::printf("Epoch %zu: training diverged (cost or parameters are not finite); try a smaller --eta than %g%s\n",
                r.epoch, hyper_.eta, hyper_.lambda > 0 ? " or a smaller --lambda" : "");
    return;
  }
  if (r.test_correct > best_ || epochs_run_ == 0) {
    best_ = r.test_correct;
    best_epoch_ = r.epoch;
  }
  ++epochs_run_;
  std::printf("Epoch %zu: %zu / %zu   train %.3f s (%.0f samples/s), cost %.5f", r.epoch, r.test_correct, r.test_count,
              r.train_seconds, double(train_count_) / r.train_seconds, r.training_cost);
  if (r.validation_count) std::printf(", validation %zu / %zu", r.validation_correct, r.validation_count);
  std::printf(", change %.3f\n", r.parameter_change);
  std::fflush(stdout);
  if (log_.is_open()) log_.write_line(epoch_json(r, train_count_).dump());
}

void EpochPrinter::summary(size_t test_count) const {
  std::printf("best test accuracy: %.2f%% (epoch %zu); %.2f s training in all, %.3f s per epoch\n",
              100.0 * double(best_) / double(test_count), best_epoch_, total_train_seconds_,
              total_train_seconds_ / double(std::max<size_t>(epochs_run_, 1)));
}

}  // namespace bp::cli
