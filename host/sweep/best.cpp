// See best.hpp.
#include "sweep/best.hpp"

#include <filesystem>

#include "base/error.hpp"
#include "train/checkpoint.hpp"
#include "train/resume.hpp"

namespace bp::sweep {

void BestNetwork::adopt_saved() {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path_, ec)) return;
  try {
    const ModelFile m = load_model(path_);
    const auto key = [&](const char* k) { return m.metadata.count(k) ? m.metadata.at(k) : std::string(); };
    if (key("sweep_grid") != id_.grid || key("sweep_data") != id_.data) return;
    index_ = std::stoull(key("sweep_network"));
    score_ = std::stoull(key("sweep_validation_correct"));
    saved_ = true;
  } catch (const std::exception&) {
    index_.reset();  // not a model of this sweep: it will be replaced
    saved_ = false;
  }
}

void BestNetwork::offer(const NetworkRun& run, const Network& last, const TrainOutcome& outcome) {
  ++offered_;
  const bool best_kept = outcome.schedule.best_epoch && !outcome.best.sizes.empty();
  const bool last_finite = !run.epochs.empty() && run.epochs.back().finite;
  if (!best_kept && !last_finite) return;  // nothing finite to keep
  const size_t score = best_kept ? outcome.schedule.best_correct : run.epochs.back().validation_correct;
  if (index_ && (score < score_ || (score == score_ && run.index > *index_))) return;
  index_ = run.index;
  score_ = score;
  saved_ = false;
  settings_ = run.settings;
  last_ = last;
  outcome_ = outcome;
  if (!best_kept) outcome_.schedule.best_epoch.reset();  // save the last (finite) parameters
}

bool BestNetwork::save(const std::string& backend) const {
  if (!index_)
    throw Error("--save-best: none of the " + std::to_string(offered_) +
                " networks trained has finite parameters to save (all diverged); " + path_ + " was not written");
  if (saved_) return false;
  const Metadata sweep = {{"sweep_grid", id_.grid},
                          {"sweep_data", id_.data},
                          {"sweep_network", std::to_string(*index_)},
                          {"sweep_validation_correct", std::to_string(score_)}};
  save_trained_model(path_, last_, outcome_, settings_, backend, sweep);
  return true;
}

}  // namespace bp::sweep
