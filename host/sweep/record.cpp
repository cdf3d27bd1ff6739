// See record.hpp.
#include "sweep/record.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>

#include <zlib.h>

#include "base/error.hpp"
#include "train/epoch_record.hpp"

namespace bp::sweep {

SweepId sweep_id(const Grid& grid, const std::string& data_fingerprint, const Shard& shard) {
  const std::string signature = grid.signature();
  char digest[64];
  std::snprintf(
      digest, sizeof digest, "crc32 %08lx of %zu bytes",
      (unsigned long)crc32_z(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(signature.data()), signature.size()),
      signature.size());
  SweepId id{digest, grid.size(), data_fingerprint, {}, shard};
  for (const Axis& a : grid.axes()) id.flags.push_back(a.flag);
  return id;
}

std::string record_line(const SweepId& id, const NetworkRun& run, const EpochReport& r) {
  nlohmann::ordered_json point = nlohmann::ordered_json::object();
  for (size_t i = 0; i < id.flags.size(); ++i) point[id.flags[i]] = run.point[i];
  nlohmann::ordered_json settings = nlohmann::ordered_json::object();
  for (const auto& [key, value] : to_metadata(run.settings)) settings[key] = value;
  // train --log's record (train/epoch_record), with the network's place in the grid around it.
  nlohmann::ordered_json j = {{"network", run.index}};
  const nlohmann::json epoch = epoch_record(r);
  for (const auto& [key, value] : epoch.items()) j[key] = value;
  j["finite"] = r.finite;
  // The network's last record: it diverged, its schedule stopped it, or its epochs are done.
  j["last"] = !r.finite || r.decision.stop != ScheduleDecision::go_on || r.epoch + 1 >= run.settings.epochs;
  j["point"] = point;
  j["settings"] = settings;
  j["grid_size"] = id.grid_size;
  j["grid"] = id.grid;
  j["data"] = id.data;
  j["shard"] = std::to_string(id.shard.index) + "/" + std::to_string(id.shard.count);
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

// A network's records as read: its run, the file, whether its last record says it is complete,
// and (for --continue) its lines.
struct Entry {
  NetworkRun run;
  std::string file;
  std::optional<bool> last;  // logs from before the "last" field have none
  std::string lines;

  // Complete: its last record says so; in an older log, it diverged or ran all its epochs.
  bool complete() const {
    if (last) return *last;
    return (!run.epochs.empty() && !run.epochs.back().finite) || run.epochs.size() == run.settings.epochs;
  }
};

// Logs of one sweep read one after another into one set of networks, each network from one file.
class Reader {
 public:
  explicit Reader(bool keep_lines, const SweepId* expected = nullptr) : keep_lines_(keep_lines) {
    if (expected) {
      id_ = *expected;
      first_file_ = "this sweep";
    }
  }

  // Reads `file`. A torn last line (a run killed as it wrote) is left out when `tolerate_torn`.
  void add_file(const std::string& file, bool tolerate_torn) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) throw UsageError("--merge: " + file + " is not a file");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error(file + ": cannot open");
    std::string text;
    Line line{file, 0};
    std::map<uint64_t, bool> mine;  // networks seen in this file
    while (std::getline(in, text)) {
      ++line.number;
      if (text.empty()) continue;
      const bool torn = in.eof();  // the file ends without this line's newline
      nlohmann::ordered_json j;
      try {
        j = nlohmann::ordered_json::parse(text);
      } catch (const nlohmann::json::exception& e) {
        if (torn && tolerate_torn) break;
        if (torn)
          throw UsageError(line.file + ":" + std::to_string(line.number) +
                           ": the file ends inside this line (an interrupted shard: run it again with --continue)");
        line.bad(e.what());
      }
      try {
        add_record(j, text, line, mine);
      } catch (const nlohmann::json::exception& e) {
        line.bad(e.what());
      }
    }
  }

  std::map<uint64_t, Entry>& entries() { return entries_; }
  const std::map<uint64_t, Entry>& entries() const { return entries_; }
  // The number of shards the logs were cut into (0: not recorded, or not the same in all), and
  // the file each shard's records came from.
  uint64_t shard_count() const { return shard_count_; }
  const std::map<uint64_t, std::string>& shard_files() const { return shard_files_; }
  const SweepId& id() const { return id_; }
  const std::string& first_file() const { return first_file_; }

 private:
  void add_record(const nlohmann::ordered_json& j, const std::string& text, const Line& line,
                  std::map<uint64_t, bool>& mine) {
    SweepId id{j.at("grid").get<std::string>(),
               j.at("grid_size").get<uint64_t>(),
               j.contains("data") ? j.at("data").get<std::string>() : std::string(),
               {},
               {}};
    for (const auto& [flag, value] : j.at("point").items()) id.flags.push_back(flag);
    const uint64_t index = j.at("network").get<uint64_t>();
    if (j.contains("shard")) {  // logs from before the field have none
      try {
        const Shard shard = parse_shard(j.at("shard").get<std::string>());
        if (shard_counts_.insert(shard.count).second && shard_counts_.size() > 1) shard_count_ = 0;
        if (shard_counts_.size() == 1) shard_count_ = shard.count;
        shard_files_[shard.index] = line.file;
      } catch (const UsageError& e) {
        line.bad(e.what());
      }
    }
    if (first_file_.empty()) {
      first_file_ = line.file;
      id_ = id;
    } else if (id.grid != id_.grid || id.grid_size != id_.grid_size || id.flags != id_.flags) {
      throw UsageError(line.file + " is from another sweep than " + first_file_ + " (their grids differ: " + id.grid +
                       ", " + std::to_string(id.grid_size) + " networks vs " + id_.grid + ", " +
                       std::to_string(id_.grid_size) + " networks)");
    } else if (id.data != id_.data) {
      throw UsageError(line.file + " was trained on other data than " + first_file_ + " (" +
                       (id.data.empty() ? "not recorded" : id.data) + " vs " +
                       (id_.data.empty() ? "not recorded" : id_.data) + ")");
    }
    if (index >= id_.grid_size)
      line.bad("network " + std::to_string(index) + " is outside a grid of " + std::to_string(id_.grid_size));
    auto it = entries_.find(index);
    if (it != entries_.end() && !mine.count(index))
      throw UsageError("network " + std::to_string(index) + " is in both " + it->second.file + " and " + line.file +
                       " (overlapping shards)");
    if (it == entries_.end()) {
      it = entries_.emplace(index, Entry{run_from(j, index, id_.flags, line), line.file, {}, {}}).first;
      mine[index] = true;
    }
    Entry& entry = it->second;
    if (entry.last && *entry.last) line.bad("network " + std::to_string(index) + " has a record after its last");
    std::vector<EpochReport>& epochs = entry.run.epochs;
    epochs.push_back(epoch_from(j));
    if (epochs.back().epoch != epochs.size() - 1)
      line.bad("network " + std::to_string(index) + " has epoch " + std::to_string(epochs.back().epoch) + " where " +
               std::to_string(epochs.size() - 1) + " was due");
    if (j.contains("last")) entry.last = j.at("last").get<bool>();
    if (keep_lines_) entry.lines += text + "\n";
  }

  bool keep_lines_;
  SweepId id_;
  std::map<uint64_t, Entry> entries_;
  std::string first_file_;
  std::set<uint64_t> shard_counts_;
  uint64_t shard_count_ = 0;
  std::map<uint64_t, std::string> shard_files_;
};

// Why a set of logs is not a whole sweep: the networks cut off before their last epoch (by file),
// and those missing, named by shard where the logs say how the grid was cut. Empty when whole.
std::string what_is_missing(const Reader& reader) {
  const std::map<uint64_t, Entry>& entries = reader.entries();
  const uint64_t size = reader.id().grid_size, shards = reader.shard_count();
  std::map<uint64_t, std::vector<uint64_t>> cut, never;  // by shard (0: shard unknown)
  std::map<uint64_t, std::string> cut_file;
  const auto shard_of = [&](uint64_t index) { return shards ? index % shards + 1 : 0; };
  for (const auto& [index, entry] : entries)
    if (!entry.complete()) {
      cut[shard_of(index)].push_back(index);
      cut_file[shard_of(index)] = entry.file;
    }
  uint64_t missing = size - entries.size();
  for (uint64_t i = 0; i < size && missing > 0; ++i)  // at most entries.size() + missing steps
    if (!entries.count(i)) {
      never[shard_of(i)].push_back(i);
      --missing;
    }
  if (cut.empty() && never.empty()) return "";
  const auto list = [](const std::vector<uint64_t>& v) {
    std::string text;
    for (size_t k = 0; k < v.size() && k < 5; ++k) text += (k ? ", " : "") + std::to_string(v[k]);
    return text + (v.size() > 5 ? ", ..." : "");
  };
  std::set<uint64_t> named;
  for (const auto& [shard, v] : cut) named.insert(shard);
  for (const auto& [shard, v] : never) named.insert(shard);
  std::string text;
  for (uint64_t shard : named) {
    std::string part;
    if (cut.count(shard))
      part += std::to_string(cut[shard].size()) + " network(s) cut off before their last epoch (" + list(cut[shard]) +
              ")" + (shard == 0 ? " in " + cut_file[shard] : "");
    if (never.count(shard))
      part += std::string(part.empty() ? "" : ", ") + std::to_string(never[shard].size()) + " network(s) missing (" +
              list(never[shard]) + ")";
    if (shard == 0) {
      text += (text.empty() ? "" : "; ") + part;
      continue;
    }
    const auto file = reader.shard_files().find(shard);
    text += (text.empty() ? "" : "; ") + std::string("shard ") + std::to_string(shard) + "/" + std::to_string(shards) +
            " (" + (file == reader.shard_files().end() ? "no log given" : file->second) + "): " + part;
  }
  return text;
}

// Every network of the grid, each complete, and the axes rebuilt from their points.
SweepLog finish(Reader& reader) {
  if (reader.first_file().empty()) throw UsageError("--merge: the files hold no sweep records");
  const SweepId& id = reader.id();
  std::map<uint64_t, Entry>& entries = reader.entries();
  const std::string missing = what_is_missing(reader);
  if (!missing.empty())
    throw UsageError("--merge: the logs do not hold the whole sweep of " + std::to_string(id.grid_size) +
                     " networks: " + missing + ". " +
                     (reader.shard_count() ? "Run each shard named again with its own command and --log, adding "
                                             "--continue (it keeps the networks already done), then merge again"
                                           : "Give every shard's log; run an interrupted one again with --continue"));
  SweepLog log;
  log.signature = id.grid;
  log.grid_size = id.grid_size;
  for (auto& [index, entry] : entries) log.runs.push_back(std::move(entry.run));
  // Each axis's values in grid order: value k of an axis first appears before value k+1 does.
  log.axes.resize(id.flags.size());
  for (size_t a = 0; a < id.flags.size(); ++a) {
    log.axes[a].flag = id.flags[a];
    std::unordered_set<std::string> seen;  // a million seeds would be quadratic in a list
    for (const NetworkRun& run : log.runs)
      if (seen.insert(run.point[a]).second) log.axes[a].values.push_back(run.point[a]);
  }
  return log;
}

}  // namespace

SweepLog merge_logs(const std::vector<std::string>& files) {
  Reader reader(false);
  try {
    for (const std::string& file : files) reader.add_file(file, false);
  } catch (const UsageError& e) {
    const std::string what = e.what();
    throw UsageError(what.rfind("--merge", 0) == 0 ? what : "--merge: " + what);
  }
  return finish(reader);
}

FinishedNetworks read_finished(const std::string& file, const SweepId& id) {
  Reader reader(true, &id);
  try {
    reader.add_file(file, true);
  } catch (const UsageError& e) {
    throw UsageError(std::string("--continue: ") + e.what());
  }
  FinishedNetworks out;
  for (auto& [index, entry] : reader.entries()) {
    if (index % id.shard.count + 1 != id.shard.index)
      throw UsageError("--continue: " + file + " holds network " + std::to_string(index) + ", which is not in shard " +
                       std::to_string(id.shard.index) + "/" + std::to_string(id.shard.count) +
                       " (the log of another shard?)");
    if (!entry.complete()) continue;
    out.runs.push_back(std::move(entry.run));
    out.lines += entry.lines;
  }
  return out;
}

}  // namespace bp::sweep
