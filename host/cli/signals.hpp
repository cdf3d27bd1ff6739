// Ctrl-C and SIGTERM during training: the first one asks the trainer to stop between minibatches
// (so a checkpoint can be written); a second one ends the process at once.
#pragma once

#include <atomic>

namespace bp {

class StopOnSignal {
 public:
  // Installs handlers for SIGINT and SIGTERM; the first signal writes `message` (a string that
  // outlives this object) to stderr.
  explicit StopOnSignal(
      const char* message = "\nbackprop: stopping after the current minibatches (again to quit at once)\n");
  ~StopOnSignal();  // restores the previous ones
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  const std::atomic<bool>& requested() const;
  int signal_number() const;  // the first signal received, 0 if none
};

}  // namespace bp
