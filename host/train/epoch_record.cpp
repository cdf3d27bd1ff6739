// See epoch_record.hpp.
#include "train/epoch_record.hpp"

#include <fstream>

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

bool is_epoch_log(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::string line;
  char c;
  while (line.size() < (1u << 20) && in.get(c) && c != '\n') line.push_back(c);
  if (line.empty()) return !in.good() || in.peek() == std::ifstream::traits_type::eof();
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  return j.is_object() && j.contains("epoch") && j.contains("validation_correct");
}

}  // namespace bp
