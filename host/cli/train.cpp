// `backprop train`: network.py's run from the command line, with network.py's epoch lines plus
// timing, a JSONL log, a progress bar, checkpoints that resume exactly, a clean stop on Ctrl-C or
// SIGTERM, and the trained model saved as safetensors. `run` is the order of the jobs; each job
// is one function below (settings, resume, outputs, the run itself, its end).
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/error.hpp"
#include "base/write_target.hpp"
#include "cli/common.hpp"
#include "cli/epoch_report.hpp"
#include "cli/progress.hpp"
#include "cli/signals.hpp"
#include "train/checkpoint.hpp"
#include "train/run_settings.hpp"
#include "train/trainer.hpp"

namespace bp::cli {
namespace {

// Where a resumed run starts: the epoch, and the samples of its shuffled order already done.
struct StartPoint {
  size_t epoch = 0, sample = 0;
};

class TrainCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    sub_ = app.add_subcommand("train", "Train a network with mini-batch SGD (defaults: network.py's book run)");
    data_.add(*sub_);
    net_.add(*sub_);
    device_.add(*sub_);
    sub_->add_option("--epochs", settings_.epochs, "Epochs (in all, counting those before a --resume)")
        ->check(count(1, 1000000))
        ->capture_default_str();
    sub_->add_option("--log", log_path_, "Write one JSON object per epoch to this file (appended to on --resume)");
    sub_->add_option("--save", save_, "Write the trained model (safetensors) to this file");
    sub_->add_option("--checkpoint", checkpoint_, "Checkpoint file: written every --checkpoint-every epochs and on Ctrl-C");
    sub_->add_option("--checkpoint-every", every_, "Epochs between checkpoints (0: only on Ctrl-C or SIGTERM)")
        ->check(count(0, 1000000))
        ->capture_default_str();
    sub_->add_option("--resume", resume_, "Continue the run saved in this checkpoint (its settings are used)");
    sub_->add_flag("--shuffle-labels", settings_.shuffle_labels,
                   "Train on the training labels permuted at random (once, seeded): data with no regularity");
    sub_->add_flag("--quiet,-q", quiet_, "Print only the epoch lines, no progress bar");
    return sub_;
  }

  int run() override {
    if (every_ > 0 && checkpoint_.empty()) throw UsageError("--checkpoint-every needs --checkpoint FILE");
    check_outputs();
    Network net;
    const StartPoint start = resume_.empty() ? StartPoint{} : resume(net);
    check_epochs(start);
    const Hyper hyper = net_.hyper();
    const Init init = net_.initialisation();
    Dataset data = data_.load();
    const std::vector<size_t> sizes = net_.checked_layers(data);
    std::vector<uint8_t> shuffled;
    if (settings_.shuffle_labels) {
      shuffled = shuffled_labels(data.train, settings_.seed);
      data.train.labels = shuffled.data();
    }
    if (!resume_.empty() && net.sizes != sizes) throw Error(resume_ + ": parameters do not match its own layers");
    std::unique_ptr<Backend> backend = device_.make();
    open_outputs();
    if (resume_.empty()) net = initialise(sizes, init, settings_.seed, output_layer(hyper.cost));
    announce(net, *backend, data, start);
    return train_and_finish(*backend, net, data, hyper, start);
  }

 private:
  // Job: a resume. Adopts the checkpoint's settings (flags given must agree) and parameters.
  StartPoint resume(Network& net) {
    const ModelFile ck = load_model(resume_);
    adopt_settings(settings_, from_metadata(ck.metadata, resume_), resume_,
                   [&](const char* flag) { return sub_->count(flag) > 0; });
    net = ck.net;
    const auto velocity = ck.extra.find("velocity");
    if (velocity != ck.extra.end()) velocity_ = velocity->second;
    return {metadata_count(ck.metadata, "next_epoch", resume_), metadata_count(ck.metadata, "next_sample", resume_)};
  }

  void check_epochs(const StartPoint& start) const {
    if (settings_.epochs < 1) throw UsageError("--epochs must be >= 1, got 0");
    if (start.epoch >= settings_.epochs && start.sample == 0) {
      throw UsageError(resume_ + " has already trained " + std::to_string(start.epoch) + " epochs; pass --epochs " +
                       std::to_string(start.epoch + 1) + " or more to continue");
    }
  }

  // Job: the output files, checked before anything is loaded or trained, so that a run is never
  // lost to a missing folder or a bad path at its end.
  void check_outputs() const {
    std::vector<std::pair<std::string, WriteTarget>> targets;
    for (const auto& [flag, path] : {std::pair{"--save", &save_}, {"--checkpoint", &checkpoint_}, {"--log", &log_path_}}) {
      if (sub_->count(flag) == 0) continue;
      const WriteTarget t = check_write_target(*path, flag, std::string(flag) == "--log");
      if (t.via_symlink) std::fprintf(stderr, "note: %s %s is a symlink: writing through it to %s\n", flag, path->c_str(), t.real.c_str());
      for (const auto& [other, u] : targets) {
        if (std::filesystem::weakly_canonical(u.real) == std::filesystem::weakly_canonical(t.real))
          throw UsageError(std::string(flag) + " " + *path + " is the same file as " + other + " " + u.path);
      }
      targets.emplace_back(flag, t);
    }
    const auto log = std::find_if(targets.begin(), targets.end(), [](const auto& t) { return t.first == "--log"; });
    if (log != targets.end() && resume_.empty() && log->second.exists && std::filesystem::is_regular_file(log->second.real) &&
        std::filesystem::file_size(log->second.real) > 0) {
      throw UsageError("--log " + log_path_ + " already exists; remove it or choose another name (--resume appends to it)");
    }
  }

  // Opens the log (appended to on a resume).
  void open_outputs() {
    if (!log_path_.empty()) log_.open(log_path_, !resume_.empty());
  }

  void announce(const Network& net, const Backend& backend, const Dataset& data, const StartPoint& start) const {
    std::printf("backprop: %s network (%zu parameters), %s backend, %zu training / %zu validation / %zu test images\n",
                format_layers(net.sizes).c_str(), net.parameter_count(), backend.name().c_str(), data.train.count,
                data.validation.count, data.test.count);
    if (!resume_.empty()) std::printf("resuming %s at epoch %zu, sample %zu\n", resume_.c_str(), start.epoch, start.sample);
    if (settings_.shuffle_labels)
      std::printf("training labels shuffled at random (seed %llu)\n", (unsigned long long)settings_.seed);
    std::fflush(stdout);
  }

  // Job: the run itself, with the epoch printer, checkpoints, and what an interruption leaves.
  int train_and_finish(Backend& backend, Network& net, const Dataset& data, const Hyper& hyper, const StartPoint& start) {
    TrainOptions options;
    options.epochs = settings_.epochs;
    options.batch_size = settings_.batch_size;
    options.hyper = hyper;
    options.seed = settings_.seed;
    options.first_epoch = start.epoch;
    options.first_sample = start.sample;
    options.velocity = &velocity_;
    const StopOnSignal signals;
    options.stop = &signals.requested();
    ProgressBar bar(!quiet_ && stderr_is_terminal());
    EpochPrinter printer(hyper, data.train.count, log_);
    const auto on_epoch = [&](const EpochReport& r) {
      bar.clear();
      printer.epoch(r);
      if (every_ > 0 && (r.epoch + 1) % every_ == 0) save(checkpoint_, net, r.epoch + 1, 0, true);
    };
    const auto on_progress = [&](size_t done, size_t total) { bar.update(done, total); };
    bar.start("training");
    const TrainOutcome outcome = train(backend, net, data, options, on_epoch,
                                       bar.enabled() ? ProgressCallback(on_progress) : ProgressCallback());
    bar.clear();
    if (outcome.status == TrainOutcome::interrupted) return interrupted(net, outcome, signals.signal_number());
    if (outcome.status == TrainOutcome::diverged) return 1;
    printer.summary(data.test.count);
    if (!save_.empty()) {
      save(save_, net, settings_.epochs, 0, false);
      std::printf("saved %s\n", save_.c_str());
    }
    return log_.failed() ? 1 : 0;  // the run is saved, but its log is incomplete
  }

  int interrupted(const Network& net, const TrainOutcome& outcome, int signal) const {
    if (checkpoint_.empty()) {
      std::printf("interrupted in epoch %zu; nothing saved (no --checkpoint given)\n", outcome.epoch);
    } else {
      save(checkpoint_, net, outcome.epoch, outcome.sample, true);
      std::printf("interrupted in epoch %zu after %zu samples; checkpoint written to %s (continue with: backprop "
                  "train --resume %s)\n", outcome.epoch, outcome.sample, checkpoint_.c_str(), checkpoint_.c_str());
    }
    return 128 + signal;
  }

  // Job: saving. The settings and where in which epoch's order the run stands (the order itself
  // is a function of seed and epoch, so no generator state is stored). A checkpoint of a run with
  // momentum also holds the velocities ("velocity.layers.0.weight", ...); a model never does, so
  // it stays a plain parameter file.
  void save(const std::string& path, const Network& net, size_t next_epoch, size_t next_sample,
            bool checkpoint) const {
    Metadata md = to_metadata(settings_);
    md["next_epoch"] = std::to_string(next_epoch);
    md["next_sample"] = std::to_string(next_sample);
    ExtraNetworks extra;
    if (checkpoint && settings_.momentum != 0 && !velocity_.sizes.empty()) extra["velocity"] = velocity_;
    save_model(path, net, md, extra);
  }

  CLI::App* sub_ = nullptr;
  RunSettings settings_;
  Network velocity_;  // momentum velocities: from --resume, then kept by the trainer (no sizes: zero)
  DataOptions data_{settings_};
  NetworkOptions net_{settings_};
  DeviceOptions device_;
  size_t every_ = 0;
  std::string log_path_, save_, checkpoint_, resume_;
  LogFile log_;
  bool quiet_ = false;
};

}  // namespace

std::unique_ptr<Command> make_train_command() { return std::make_unique<TrainCommand>(); }

}  // namespace bp::cli
