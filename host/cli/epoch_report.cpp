// The epoch lines, the JSONL log and the summary of `backprop train`.
#include "cli/epoch_report.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "train/epoch_record.hpp"
#include "train/run_settings.hpp"

namespace bp::cli {
namespace {

std::string list(const std::vector<size_t>& xs) {
  std::string out;
  for (size_t i = 0; i < xs.size(); ++i)
    out += (i == 0 ? "" : i + 1 == xs.size() ? " and " : ", ") + std::to_string(xs[i]);
  return out;
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
  record_.train_seconds += r.train_seconds;
  if (!r.finite) {
    // An error like any other: one line on stderr with the prefix, after the epochs printed so far.
    std::fflush(stdout);
    std::fprintf(stderr,
                 "backprop: error: epoch %zu: training diverged (cost or parameters are not finite); try a smaller "
                 "--eta than %g%s\n",
                 r.epoch, r.eta, hyper_.lambda > 0 ? " or a smaller --lambda" : "");
    return;
  }
  if (r.test_correct > record_.best_test || record_.epochs_run == 0) {
    record_.best_test = r.test_correct;
    record_.best_test_epoch = r.epoch;
  }
  if (r.decision.improved) record_.test_at_best_validation = r.test_correct;
  ++record_.epochs_run;
  std::printf("Epoch %zu: %zu / %zu   train %.3f s (%.0f samples/s), cost %.5f", r.epoch, r.test_correct, r.test_count,
              r.train_seconds, double(r.samples) / r.train_seconds, r.training_cost);
  if (r.validation_count) std::printf(", validation %zu / %zu", r.validation_correct, r.validation_count);
  std::printf(", eta %g, change %.3f", r.eta, r.parameter_change);
  if (r.partial) std::printf("   (resumed: the last %zu of %zu samples)", r.samples, train_count_);
  std::printf("\n");
  const std::vector<size_t> dead = never_predicted(r.validation_predicted);
  if (!dead.empty()) {
    std::printf(
        "warning: digit%s %s never predicted on the validation set: a stuck run; try --init scaled or another "
        "--seed\n",
        dead.size() > 1 ? "s" : "", (list(dead) + (dead.size() > 1 ? " are" : " is")).c_str());
  }
  if (r.decision.stop == ScheduleDecision::early_stop) {
    std::printf("stopping early: no better validation accuracy for %zu epochs\n", schedule_.early_stop);
  } else if (r.decision.stop == ScheduleDecision::eta_floor) {
    std::printf("stopping: eta has fallen to %g (1/128 of %g) after validation plateaus\n", r.schedule.eta(schedule_),
                schedule_.eta);
  }
  std::fflush(stdout);
  if (log_.is_open()) log_.write_line(epoch_record(r).dump());
}

void EpochPrinter::summary(size_t test_count, std::optional<size_t> best_validation_epoch) const {
  const auto percent = [&](size_t correct) { return 100.0 * double(correct) / double(test_count); };
  std::printf("best test accuracy: %.2f%% (epoch %zu); ", percent(record_.best_test), record_.best_test_epoch);
  if (best_validation_epoch && record_.test_at_best_validation)
    std::printf("test %.2f%% at the best validation epoch %zu; ", percent(*record_.test_at_best_validation),
                *best_validation_epoch);
  std::printf("%.2f s training in all, %.3f s per epoch\n", record_.train_seconds,
              record_.train_seconds / double(std::max<size_t>(record_.epochs_run, 1)));
}

}  // namespace bp::cli
