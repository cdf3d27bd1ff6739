// Ctrl-C and SIGTERM during training: the first one asks the trainer to stop between minibatches
// (so a checkpoint can be written); a second one ends the process at once.
#pragma once

#include <atomic>

namespace bp {

class StopOnSignal {
 public:
  StopOnSignal();   // installs handlers for SIGINT and SIGTERM
  ~StopOnSignal();  // restores the previous ones
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  const std::atomic<bool>& requested() const;
  int signal_number() const;  // the first signal received, 0 if none
};

}  // namespace bp
