// See progress.hpp. Redraws at most 20 times a second so drawing never costs training time.
#include "cli/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace bp {

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(bool enabled) : enabled_(enabled) {}

void ProgressBar::start(const std::string& label) {
  label_ = label;
  t0_ = std::chrono::steady_clock::now();
  last_ = t0_ - std::chrono::seconds(1);
}

void ProgressBar::update(size_t done, size_t total) {
  if (!enabled_ || total == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_ < std::chrono::milliseconds(50)) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - t0_).count();
  const double rate = elapsed > 0 ? double(done) / elapsed : 0;
  const double eta = rate > 0 ? double(total - done) / rate : 0;
  constexpr int kWidth = 30;
  const int filled = int(double(done) / double(total) * kWidth);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';
  std::fprintf(stderr, "\r%s [%s] %3d%%  %.0f samples/s  ETA %.1f s ", label_.c_str(), bar,
               int(100.0 * double(done) / double(total)), rate, eta);
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
