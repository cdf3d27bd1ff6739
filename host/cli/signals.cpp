// See signals.hpp. The handler only touches lock-free atomics and calls _exit, both safe there.
#include "cli/signals.hpp"

#include <signal.h>
#include <unistd.h>

namespace bp {
namespace {

std::atomic<bool> g_requested{false};
std::atomic<int> g_signal{0};
struct sigaction g_old_int, g_old_term;

void on_signal(int sig) {
  if (g_requested.exchange(true)) _exit(128 + sig);  // the second one: stop now
  g_signal.store(sig);
  static const char msg[] = "\nbackprop: stopping after the current minibatches (again to quit at once)\n";
  [[maybe_unused]] const ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
}

}  // namespace

StopOnSignal::StopOnSignal() {
  g_requested = false;
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

StopOnSignal::~StopOnSignal() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

const std::atomic<bool>& StopOnSignal::requested() const { return g_requested; }
int StopOnSignal::signal_number() const { return g_signal.load(); }

}  // namespace bp
