// See record.hpp.
#include "sweep/record.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "base/error.hpp"
#include "train/epoch_record.hpp"

namespace bp::sweep {

std::string record_line(const Grid& grid, const NetworkRun& run, const EpochReport& r) {
  nlohmann::ordered_json point = nlohmann::ordered_json::object();
  for (size_t i = 0; i < grid.axes().size(); ++i) point[grid.axes()[i].flag] = run.point[i];
  nlohmann::ordered_json settings = nlohmann::ordered_json::object();
  for (const auto& [key, value] : to_metadata(run.settings)) settings[key] = value;
  // train --log's record (train/epoch_record), with the network's place in the grid around it.
  nlohmann::ordered_json j = {{"network", run.index}};
  const nlohmann::json epoch = epoch_record(r);
  for (const auto& [key, value] : epoch.items()) j[key] = value;
  j["finite"] = r.finite;
  j["point"] = point;
  j["settings"] = settings;
  j["grid_size"] = grid.size();
  j["grid"] = grid.signature();
  // A diverged epoch's numbers are NaN or infinite, which JSON cannot hold: null instead.
  if (!r.finite) j["training_cost"] = j["parameter_change"] = nullptr;
  return j.dump();
}

namespace {

struct Line {
  std::string file;
  size_t number = 0;
  [[noreturn]] void bad(const std::string& why) const {
    throw Error(file + ":" + std::to_string(number) + ": not a sweep record (" + why + ")");
  }
};

EpochReport epoch_from(const nlohmann::ordered_json& j) {
  EpochReport r;
  r.epoch = j.at("epoch").get<size_t>();
  r.train_seconds = j.at("train_seconds").get<double>();
  r.eval_seconds = j.at("eval_seconds").get<double>();
  r.samples = j.at("samples").get<size_t>();
  r.partial = j.at("partial").get<bool>();
  r.finite = j.at("finite").get<bool>();
  r.training_cost = r.finite ? j.at("training_cost").get<double>() : NAN;
  r.parameter_change = r.finite ? j.at("parameter_change").get<double>() : NAN;
  r.validation_correct = j.at("validation_correct").get<size_t>();
  r.validation_count = j.at("validation_count").get<size_t>();
  r.test_correct = j.at("test_correct").get<size_t>();
  r.test_count = j.at("test_count").get<size_t>();
  return r;
}

// A network's run from its first record: its settings and its point in the grid.
NetworkRun run_from(const nlohmann::ordered_json& j, uint64_t index, const std::vector<std::string>& flags,
                    const Line& line) {
  NetworkRun run;
  run.index = index;
  Metadata md;
  for (const auto& [key, value] : j.at("settings").items()) md[key] = value.get<std::string>();
  try {
    run.settings = from_metadata(md, line.file);
  } catch (const Error& e) {
    line.bad(std::string("its settings: ") + e.what());
  }
  std::vector<std::string> keys;
  for (const auto& [flag, value] : j.at("point").items()) {
    keys.push_back(flag);
    run.point.push_back(value.get<std::string>());
  }
  if (keys != flags) line.bad("its swept flags differ from the other records'");
  return run;
}

// The shards' logs read one after another into one set of runs, each network from one file.
class Merger {
 public:
  void add_file(const std::string& file) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) throw UsageError("--merge: " + file + " is not a file");
    std::ifstream in(file);
    if (!in) throw Error(file + ": cannot open");
    std::string text;
    Line line{file, 0};
    std::map<uint64_t, bool> mine;  // networks seen in this file
    while (std::getline(in, text)) {
      ++line.number;
      if (text.empty()) continue;
      try {
        add_record(nlohmann::ordered_json::parse(text), line, mine);
      } catch (const nlohmann::json::exception& e) {
        line.bad(e.what());
      }
    }
  }

  // Every network of the grid, each with all its epochs (or diverged), and the axes.
  SweepLog finish() {
    if (first_file_.empty()) throw UsageError("--merge: the files hold no sweep records");
    check_coverage();
    for (auto& [index, entry] : runs_) {
      NetworkRun& run = entry.first;
      const bool diverged = !run.epochs.empty() && !run.epochs.back().finite;
      if (!diverged && run.epochs.size() != run.settings.epochs)
        throw UsageError("--merge: network " + std::to_string(index) + " in " + entry.second + " has " +
                         std::to_string(run.epochs.size()) + " of its " + std::to_string(run.settings.epochs) +
                         " epochs (an interrupted shard: run it again)");
      log_.runs.push_back(std::move(run));
    }
    // Each axis's values in grid order: value k of an axis first appears before value k+1 does.
    log_.axes.resize(flags_.size());
    for (size_t a = 0; a < flags_.size(); ++a) {
      log_.axes[a].flag = flags_[a];
      for (const NetworkRun& run : log_.runs)
        if (std::find(log_.axes[a].values.begin(), log_.axes[a].values.end(), run.point[a]) ==
            log_.axes[a].values.end())
          log_.axes[a].values.push_back(run.point[a]);
    }
    return std::move(log_);
  }

 private:
  void add_record(const nlohmann::ordered_json& j, const Line& line, std::map<uint64_t, bool>& mine) {
    const std::string signature = j.at("grid").get<std::string>();
    const uint64_t size = j.at("grid_size").get<uint64_t>(), index = j.at("network").get<uint64_t>();
    if (first_file_.empty()) {
      first_file_ = line.file;
      log_.signature = signature;
      log_.grid_size = size;
      for (const auto& [flag, value] : j.at("point").items()) flags_.push_back(flag);
    } else if (signature != log_.signature || size != log_.grid_size) {
      throw UsageError("--merge: " + line.file + " is from another sweep than " + first_file_ +
                       " (their grids differ: " + signature + " vs " + log_.signature + ")");
    }
    if (index >= size) line.bad("network " + std::to_string(index) + " is outside a grid of " + std::to_string(size));
    auto it = runs_.find(index);
    if (it != runs_.end() && !mine.count(index))
      throw UsageError("--merge: network " + std::to_string(index) + " is in both " + it->second.second + " and " +
                       line.file + " (overlapping shards)");
    if (it == runs_.end()) {
      it = runs_.emplace(index, std::pair{run_from(j, index, flags_, line), line.file}).first;
      mine[index] = true;
    }
    std::vector<EpochReport>& epochs = it->second.first.epochs;
    epochs.push_back(epoch_from(j));
    if (epochs.back().epoch != epochs.size() - 1)
      line.bad("network " + std::to_string(index) + " has epoch " + std::to_string(epochs.back().epoch) + " where " +
               std::to_string(epochs.size() - 1) + " was due");
  }

  void check_coverage() const {
    if (runs_.size() == log_.grid_size) return;
    std::string missing;
    const uint64_t count = log_.grid_size - runs_.size();
    for (uint64_t i = 0, shown = 0; shown < std::min<uint64_t>(count, 5); ++i) {  // ends by runs.size() + 5
      if (runs_.count(i)) continue;
      missing += (shown++ ? ", " : "") + std::to_string(i);
    }
    throw UsageError("--merge: the files do not cover the grid: " + std::to_string(count) + " of its " +
                     std::to_string(log_.grid_size) + " networks are missing (" + missing + (count > 5 ? ", ..." : "") +
                     "); give every shard's log");
  }

  SweepLog log_;
  std::map<uint64_t, std::pair<NetworkRun, std::string>> runs_;  // index -> run, the file it came from
  std::vector<std::string> flags_;                               // axis flags, in the grid's order
  std::string first_file_;
};

}  // namespace

SweepLog merge_logs(const std::vector<std::string>& files) {
  Merger merger;
  for (const std::string& file : files) merger.add_file(file);
  return merger.finish();
}

}  // namespace bp::sweep
