// Chapter 3's learning-rate schedule and early stopping (network2.py's "no improvement in n"),
// as a decision taken after each epoch from its validation accuracy alone, so that it is tested
// on hand-written sequences and resumed exactly from the few numbers of ScheduleState.
#pragma once

#include <cstddef>
#include <optional>

namespace bp {

struct ScheduleSettings {
  double eta = 3.0;                          // the starting learning rate
  size_t plateau = 0;                        // halve eta after this many epochs without a new best (0: never)
  size_t early_stop = 0;                     // stop after this many epochs without a new best (0: never)
  static constexpr size_t kMaxHalvings = 7;  // stop once eta has fallen to eta / 128
};

// Everything the decisions depend on; a checkpoint stores it.
struct ScheduleState {
  size_t halvings = 0;               // eta now is settings.eta / 2^halvings
  std::optional<size_t> best_epoch;  // the epoch of the best validation accuracy so far
  size_t best_correct = 0;           // ...and that accuracy, in images
  size_t since_best = 0;             // epochs since best_epoch
  size_t since_change = 0;           // epochs since the last new best or halving

  double eta(const ScheduleSettings& s) const;
  bool operator==(const ScheduleState&) const = default;
};

struct ScheduleDecision {
  bool improved = false;  // this epoch is the new best
  bool halved = false;    // eta was halved for the next epoch
  enum Stop { go_on, early_stop, eta_floor } stop = go_on;
};

// Updates `state` with epoch `epoch`'s validation accuracy and says what happens next. A new best
// is strictly more images correct than any earlier epoch (the first epoch always is one).
ScheduleDecision after_epoch(const ScheduleSettings& settings, ScheduleState& state, size_t epoch,
                             size_t validation_correct);

}  // namespace bp
