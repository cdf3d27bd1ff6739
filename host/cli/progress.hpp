// A one-line progress bar with rate and ETA, redrawn on stderr when that is a terminal. The rate
// counts only the samples done since start(), which the trainer's user calls at every epoch (and
// at a resume's first sample), so that each epoch's rate and ETA are its own.
#pragma once

#include <chrono>
#include <string>

namespace bp {

class ProgressBar {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ProgressBar(bool enabled);
  // `already_done`: samples of the first epoch done before this run (a resume).
  void start(const std::string& label, size_t already_done = 0, Clock::time_point now = Clock::now());
  void update(size_t done, size_t total);
  void clear();  // erases the bar so the next line prints cleanly
  bool enabled() const { return enabled_; }
  // The bar's text at time `now`.
  std::string text(size_t done, size_t total, Clock::time_point now);

 private:
  bool enabled_;
  bool drawn_ = false;
  std::string label_;
  size_t base_ = 0;
  Clock::time_point t0_, last_;
};

// True when stderr is a terminal.
bool stderr_is_terminal();

}  // namespace bp
