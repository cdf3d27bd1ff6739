// See signals.hpp. The handler only touches lock-free atomics and calls _exit, both safe there.
#include "cli/signals.hpp"

#include <signal.h>
#include <unistd.h>

namespace bp {
namespace {

std::atomic<bool> g_requested{false};
std::atomic<int> g_signal{0};
std::atomic<const char*> g_message{nullptr};
struct sigaction g_old_int, g_old_term;

void on_signal(int sig) {
  if (g_requested.exchange(true)) _exit(128 + sig);  // the second one: stop now
  g_signal.store(sig);
  const char* msg = g_message.load();
  size_t n = 0;
  while (msg[n]) ++n;  // strlen is not on the async-signal-safe list
  [[maybe_unused]] const ssize_t ignored = write(STDERR_FILENO, msg, n);
}

}  // namespace

StopOnSignal::StopOnSignal(const char* message) {
  g_message = message;
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
