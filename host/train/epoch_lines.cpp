// See epoch_lines.hpp. The formats are the CLI's since the first release; tests compare them
// (timing aside) between the command line and Python.
#include "train/epoch_lines.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <vector>

namespace bp {
namespace {

std::string list(const std::vector<size_t>& xs) {
  std::string out;
  for (size_t i = 0; i < xs.size(); ++i)
    out += (i == 0 ? "" : i + 1 == xs.size() ? " and " : ", ") + std::to_string(xs[i]);
  return out;
}

// printf into a string.
[[gnu::format(printf, 2, 3)]] void append(std::string& out, const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  const int n = std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  if (n > 0) out.append(buf, std::min(size_t(n), sizeof buf - 1));
}

}  // namespace

std::string epoch_lines(const EpochReport& r, size_t train_count, const ScheduleSettings& schedule) {
  std::string out;
  append(out, "Epoch %zu: %zu / %zu   train %.3f s (%.0f samples/s), cost %.5f", r.epoch, r.test_correct, r.test_count,
         r.train_seconds, double(r.samples) / r.train_seconds, r.training_cost);
  if (r.validation_count) append(out, ", validation %zu / %zu", r.validation_correct, r.validation_count);
  append(out, ", eta %g, change %.3f", r.eta, r.parameter_change);
  if (r.partial) append(out, "   (resumed: the last %zu of %zu samples)", r.samples, train_count);
  out += '\n';
  const std::vector<size_t> dead = never_predicted(r.validation_predicted);
  if (!dead.empty()) {
    out += "warning: digit" + std::string(dead.size() > 1 ? "s " : " ") + list(dead) +
           (dead.size() > 1 ? " are" : " is") +
           " never predicted on the validation set: a stuck run; try --init scaled or another --seed\n";
  }
  if (r.decision.stop == ScheduleDecision::early_stop) {
    append(out, "stopping early: no better validation accuracy for %zu epochs\n", schedule.early_stop);
  } else if (r.decision.stop == ScheduleDecision::eta_floor) {
    append(out, "stopping: eta has fallen to %g (1/128 of %g) after validation plateaus\n", r.schedule.eta(schedule),
           schedule.eta);
  }
  return out;
}

std::string divergence_advice(const EpochReport& r, double lambda, const std::string& flag_prefix) {
  std::string out;
  append(out, "epoch %zu: training diverged (cost or parameters are not finite); try a smaller %seta than %g", r.epoch,
         flag_prefix.c_str(), r.eta);
  if (lambda > 0) out += " or a smaller " + flag_prefix + (flag_prefix.empty() ? "lmbda" : "lambda");
  return out;
}

std::string summary_line(const RunRecord& record, size_t test_count, std::optional<size_t> best_validation_epoch) {
  const auto percent = [&](size_t correct) { return 100.0 * double(correct) / double(test_count); };
  std::string out;
  append(out, "best test accuracy: %.2f%% (epoch %zu); ", percent(record.best_test), record.best_test_epoch);
  if (best_validation_epoch && record.test_at_best_validation)
    append(out, "test %.2f%% at the best validation epoch %zu; ", percent(*record.test_at_best_validation),
           *best_validation_epoch);
  append(out, "%.2f s training in all, %.3f s per epoch\n", record.train_seconds,
         record.train_seconds / double(std::max<size_t>(record.epochs_run, 1)));
  return out;
}

}  // namespace bp
