// See progress.hpp. Redraws at most 20 times a second so drawing never costs training time.
#include "cli/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace bp {

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(bool enabled) : enabled_(enabled) {}

void ProgressBar::start(const std::string& label, size_t already_done, Clock::time_point now) {
  label_ = label;
  base_ = already_done;
  t0_ = now;
  last_ = t0_ - std::chrono::seconds(1);
}

std::string ProgressBar::text(size_t done, size_t total, Clock::time_point now) {
  const double elapsed = std::chrono::duration<double>(now - t0_).count();
  const double rate = elapsed > 0 && done > base_ ? double(done - base_) / elapsed : 0;
  const double eta = rate > 0 ? double(total - done) / rate : 0;
  constexpr int kWidth = 30;
  const int filled = int(double(done) / double(total) * kWidth);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';
  char line[256];
  std::snprintf(line, sizeof line, "%s [%s] %3d%%  %.0f samples/s  ETA %.1f s ", label_.c_str(), bar,
                int(100.0 * double(done) / double(total)), rate, eta);
  return line;
}

void ProgressBar::update(size_t done, size_t total) {
  if (!enabled_ || total == 0) return;
  const auto now = Clock::now();
  if (done < total && now - last_ < std::chrono::milliseconds(50)) return;
  last_ = now;
  std::fprintf(stderr, "\r%s", text(done, total, now).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace bp
