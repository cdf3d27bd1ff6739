#include "train/resume.hpp"

#include <zlib.h>

#include <cstdio>
#include <cstdlib>

#include "base/error.hpp"

namespace bp {
namespace {

// The backend a run trained on, in its checkpoints and saved models, so that a resume on another
// one says that it no longer repeats the uninterrupted run bit for bit.
constexpr const char* kBackendKey = "backend";
// What a file is for: "checkpoint" (resumable) or "model" (--save, --save-best, Python's save()).
constexpr const char* kKindKey = "kind";

void schedule_to_metadata(const ScheduleState& s, Metadata& md) {
  md["schedule_halvings"] = std::to_string(s.halvings);
  if (s.best_epoch) md["schedule_best_epoch"] = std::to_string(*s.best_epoch);
  md["schedule_best_correct"] = std::to_string(s.best_correct);
  md["schedule_since_best"] = std::to_string(s.since_best);
  md["schedule_since_change"] = std::to_string(s.since_change);
}

// Missing keys (a checkpoint from before the schedule existed) leave a fresh schedule.
ScheduleState schedule_from_metadata(const Metadata& md, const std::string& file) {
  ScheduleState s;
  const auto count = [&](const char* key, size_t& out) {
    if (md.count(key)) out = metadata_count(md, key, file);
  };
  count("schedule_halvings", s.halvings);
  if (md.count("schedule_best_epoch")) s.best_epoch = metadata_count(md, "schedule_best_epoch", file);
  count("schedule_best_correct", s.best_correct);
  count("schedule_since_best", s.since_best);
  count("schedule_since_change", s.since_change);
  if (s.halvings > ScheduleSettings::kMaxHalvings) throw Error(file + ": metadata 'schedule_halvings' is out of range");
  return s;
}

}  // namespace

void RunRecord::note(const EpochReport& r) {
  train_seconds += r.train_seconds;
  if (!r.finite) return;
  if (r.test_correct > best_test || epochs_run == 0) {
    best_test = r.test_correct;
    best_test_epoch = r.epoch;
  }
  if (r.decision.improved) test_at_best_validation = r.test_correct;
  ++epochs_run;
}

void RunRecord::to_metadata(Metadata& md) const {
  md["record_best_test"] = std::to_string(best_test);
  md["record_best_test_epoch"] = std::to_string(best_test_epoch);
  md["record_epochs_run"] = std::to_string(epochs_run);
  if (test_at_best_validation) md["record_test_at_best_validation"] = std::to_string(*test_at_best_validation);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", train_seconds);
  md["record_train_seconds"] = buf;
}

RunRecord RunRecord::from_metadata(const Metadata& md, const std::string& file) {
  RunRecord r;
  const auto count = [&](const char* key, size_t& out) {
    if (md.count(key)) out = metadata_count(md, key, file);
  };
  count("record_best_test", r.best_test);
  count("record_best_test_epoch", r.best_test_epoch);
  count("record_epochs_run", r.epochs_run);
  if (md.count("record_test_at_best_validation"))
    r.test_at_best_validation = metadata_count(md, "record_test_at_best_validation", file);
  if (md.count("record_train_seconds")) r.train_seconds = std::strtod(md.at("record_train_seconds").c_str(), nullptr);
  return r;
}

Resumed read_checkpoint(const std::string& path, RunSettings& settings,
                        const std::function<bool(const char* flag)>& given) {
  const ModelFile ck = load_model(path);
  // A --save model holds its best validation epoch's parameters beside the last epoch's counters,
  // and no velocities: resuming it would go on silently from a state the run never had. (Files
  // from before "kind" was written are known by the best epoch they record.)
  const auto kind = ck.metadata.find(kKindKey);
  if (kind != ck.metadata.end() ? kind->second == "model" : ck.metadata.count("best_validation_epoch") > 0)
    throw Error(path + " is a trained model (train --save), not a checkpoint: it holds the parameters of its best " +
                "epoch, not the run's last state, so it cannot be resumed exactly; resume from a --checkpoint file, " +
                "or start a new run");
  adopt_settings(settings, from_metadata(ck.metadata, path), path, given);
  Resumed r;
  r.net = ck.net;
  if (ck.metadata.count("data")) r.data_fingerprint = ck.metadata.at("data");
  if (ck.metadata.count(kBackendKey)) r.backend = ck.metadata.at(kBackendKey);
  r.start.epoch = metadata_count(ck.metadata, "next_epoch", path);
  r.start.sample = metadata_count(ck.metadata, "next_sample", path);
  r.start.schedule = schedule_from_metadata(ck.metadata, path);
  r.start.record = RunRecord::from_metadata(ck.metadata, path);
  if (ck.extra.count("best")) r.start.best = ck.extra.at("best");
  if (ck.extra.count("velocity")) r.start.velocity = ck.extra.at("velocity");
  const bool begun = r.start.epoch > 0 || r.start.sample > 0;
  if (settings.momentum != 0 && begun && r.start.velocity.sizes.empty())
    throw Error(path + ": a momentum run's checkpoint without its velocities cannot be resumed exactly");
  return r;
}

void check_resumable(const Resumed& r, const RunSettings& settings, const std::string& path) {
  // A crafted checkpoint's bad value is the file's fault, not a flag's: say which file.
  try {
    checked_hyper(settings);
    train_options(settings);
    init_from_name(settings.init);
    if (settings.epochs < 1) throw UsageError("epochs is 0");
  } catch (const UsageError& e) {
    throw Error(path + ": its recorded settings are not valid (" + e.what() + ")");
  }
  const StartPoint& start = r.start;
  if (start.epoch >= settings.epochs) {  // nothing would run
    const std::string done =
        start.sample == 0 ? std::to_string(start.epoch) + " epochs"
                          : std::to_string(start.epoch) + " epochs and part of epoch " + std::to_string(start.epoch);
    throw UsageError(path + " has already trained " + done + "; pass --epochs " + std::to_string(start.epoch + 1) +
                     " or more to continue");
  }
}

void check_resume_position(const StartPoint& start, size_t batch_size, size_t epoch_samples, const std::string& path) {
  if (start.sample % batch_size != 0 || (start.sample > 0 && start.sample >= epoch_samples))
    throw Error(path + ": next_sample " + std::to_string(start.sample) + " is not a minibatch boundary within the " +
                std::to_string(epoch_samples) + " samples of an epoch");
}

std::string data_fingerprint(const Dataset& d) {
  return data_fingerprint({d.training_file.view()}, d.test_file.view(), d.training_file.rows, d.training_file.cols);
}

std::string data_fingerprint(const std::vector<DataView>& training, const DataView& test, size_t rows, size_t cols) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // Nothing for an empty part: zlib takes a null buffer as a request for the initial value.
  const auto add = [&](const uint8_t* bytes, size_t n) {
    if (n > 0) crc = crc32_z(crc, bytes, n);
  };
  size_t training_count = 0;
  for (const DataView& v : training) {
    add(v.pixels, v.count * v.dim);
    training_count += v.count;
  }
  for (const DataView& v : training) add(v.labels, v.count);
  add(test.pixels, test.count * test.dim);
  add(test.labels, test.count);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%zu+%zu images of %zux%zu, crc32 %08lx", training_count, test.count, rows, cols,
                (unsigned long)crc);
  return buf;
}

std::string backend_family(const std::string& name) { return name.substr(0, name.find(" (")); }

// The settings, where in which epoch's order the run stands (the order itself is a function of
// seed and epoch, so no generator state is stored), the schedule, the summary's figures, and the
// best-validation parameters and momentum's velocities as the extra sets "best" and "velocity".
void save_checkpoint(const std::string& path, const Network& net, const RunSettings& settings, const StartPoint& at,
                     const std::string& data_fingerprint, const std::string& backend) {
  Metadata md = to_metadata(settings);
  md[kKindKey] = "checkpoint";
  md["data"] = data_fingerprint;
  md[kBackendKey] = backend;
  md["next_epoch"] = std::to_string(at.epoch);
  md["next_sample"] = std::to_string(at.sample);
  schedule_to_metadata(at.schedule, md);
  at.record.to_metadata(md);
  ExtraNetworks extra;
  if (!at.best.sizes.empty()) extra["best"] = at.best;
  if (!at.velocity.sizes.empty()) extra["velocity"] = at.velocity;
  save_model(path, net, md, extra);
}

std::optional<size_t> save_trained_model(const std::string& path, const Network& last, const TrainOutcome& outcome,
                                         const RunSettings& settings, const std::string& backend,
                                         const Metadata& extra) {
  Metadata md = to_metadata(settings);
  for (const auto& [key, value] : extra) md[key] = value;
  md[kKindKey] = "model";
  md[kBackendKey] = backend;
  md["next_epoch"] = std::to_string(settings.epochs);
  md["next_sample"] = std::to_string(0);  // not = "0": GCC 12 -O3 warns falsely (-Wrestrict, PR105329)
  if (outcome.schedule.best_epoch && !outcome.best.sizes.empty()) {
    md["best_validation_epoch"] = std::to_string(*outcome.schedule.best_epoch);
    save_model(path, outcome.best, md);
    return outcome.schedule.best_epoch;
  }
  save_model(path, last, md);
  return std::nullopt;
}

}  // namespace bp
