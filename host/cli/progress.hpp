// A one-line progress bar with rate and ETA, redrawn on stderr when that is a terminal.
#pragma once

#include <chrono>
#include <string>

namespace bp {

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled);
  void start(const std::string& label);
  void update(size_t done, size_t total);
  void clear();  // erases the bar so the next line prints cleanly
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  bool drawn_ = false;
  std::string label_;
  std::chrono::steady_clock::time_point t0_, last_;
};

// True when stderr is a terminal.
bool stderr_is_terminal();

}  // namespace bp
