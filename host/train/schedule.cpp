// The plateau and early-stop counters. Both count epochs since the last new best; the plateau
// counter also restarts at each halving, so that eta halves once per `plateau` flat epochs.
#include "train/schedule.hpp"

#include <cmath>

namespace bp {

double ScheduleState::eta(const ScheduleSettings& s) const { return std::ldexp(s.eta, -int(halvings)); }

ScheduleDecision after_epoch(const ScheduleSettings& settings, ScheduleState& state, size_t epoch,
                             size_t validation_correct) {
  ScheduleDecision d;
  if (!state.best_epoch || validation_correct > state.best_correct) {
    d.improved = true;
    state.best_epoch = epoch;
    state.best_correct = validation_correct;
    state.since_best = 0;
    state.since_change = 0;
    return d;
  }
  ++state.since_best;
  ++state.since_change;
  if (settings.early_stop > 0 && state.since_best >= settings.early_stop) {
    d.stop = ScheduleDecision::early_stop;
    return d;
  }
  if (settings.plateau > 0 && state.since_change >= settings.plateau) {
    ++state.halvings;
    state.since_change = 0;
    d.halved = true;
    if (state.halvings >= ScheduleSettings::kMaxHalvings) d.stop = ScheduleDecision::eta_floor;
  }
  return d;
}

}  // namespace bp
