// See epoch_record.hpp.
#include "train/epoch_record.hpp"

namespace bp {

nlohmann::json epoch_record(const EpochReport& r) {
  return {{"epoch", r.epoch},
          {"eta", r.eta},
          {"train_seconds", r.train_seconds},
          {"eval_seconds", r.eval_seconds},
          {"samples_per_second", double(r.samples) / r.train_seconds},
          {"samples", r.samples},
          {"partial", r.partial},
          {"training_cost", r.training_cost},
          {"validation_correct", r.validation_correct},
          {"validation_count", r.validation_count},
          {"validation_predicted", r.validation_predicted},
          {"test_correct", r.test_correct},
          {"test_count", r.test_count},
          {"parameter_change", r.parameter_change}};
}

}  // namespace bp
