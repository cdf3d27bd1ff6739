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
#include "base/same_file.hpp"
#include "base/write_target.hpp"
#include "cli/common.hpp"
#include "cli/epoch_report.hpp"
#include "cli/progress.hpp"
#include "cli/signals.hpp"
#include "train/checkpoint.hpp"
#include "train/epoch_record.hpp"
#include "train/resume.hpp"
#include "train/run_settings.hpp"
#include "train/trainer.hpp"

namespace bp::cli {
namespace {

class TrainCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    sub_ = app.add_subcommand("train", "Train a network with mini-batch SGD (defaults: network.py's book run)");
    data_.add(*sub_);
    net_.add(*sub_);
    device_.add(*sub_);
    device_.add_engine(*sub_);
    sub_->add_option("--epochs", settings_.epochs, "Epochs (in all, counting those before a --resume)")
        ->check(count(1, 1000000))
        ->capture_default_str();
    sub_->add_option("--log", log_path_, "Write one JSON object per epoch to this file (appended to on --resume)");
    sub_->add_option("--save", save_, "Write the trained model (safetensors) to this file");
    sub_->add_option("--checkpoint", checkpoint_,
                     "Checkpoint file: written every --checkpoint-every epochs and on Ctrl-C");
    sub_->add_option("--checkpoint-every", every_, "Epochs between checkpoints (0: only on Ctrl-C or SIGTERM)")
        ->check(count(0, 1000000))
        ->capture_default_str();
    sub_->add_option("--resume", resume_, "Continue the run saved in this checkpoint (its settings are used)");
    sub_->add_flag("--shuffle-labels", settings_.shuffle_labels,
                   "Train on the training labels permuted at random (once, seeded): data with no regularity");
    sub_->add_option("--schedule", settings_.schedule,
                     "none, or plateau:N: halve eta after N epochs without a better validation accuracy, and stop "
                     "once eta has fallen to eta/128 (network2 / chapter 3)")
        ->capture_default_str();
    sub_->add_option("--early-stop", settings_.early_stop,
                     "Stop after this many epochs without a better validation accuracy (0: never)")
        ->check(count(0, 1000000))
        ->capture_default_str();
    sub_->add_option("--expand", settings_.expand,
                     "none, or shifts: also train on each image shifted one pixel up, down, left and right (5x the "
                     "samples, made on the fly; chapter 6)")
        ->capture_default_str();
    sub_->add_flag("--quiet,-q", quiet_, "Print only the epoch lines, no progress bar");
    return sub_;
  }

  int run() override {
    if (every_ > 0 && checkpoint_.empty()) throw UsageError("--checkpoint-every needs --checkpoint FILE");
    check_outputs();
    Network net;
    std::optional<Resumed> resumed = resume();
    if (settings_.epochs < 1) throw UsageError("--epochs must be >= 1, got 0");
    check_tools();
    const Hyper hyper = net_.hyper();
    const Init init = net_.initialisation();
    Dataset data = data_.load(net_.classes());
    const std::vector<size_t> sizes = net_.checked_layers(data);
    // Needed only by checkpoints and resumes; a CRC of 55 MB is a noticeable part of a short run.
    if (!checkpoint_.empty() || !resume_.empty()) data_fingerprint_ = data_fingerprint(data);
    if (resumed && !resumed->data_fingerprint.empty() && resumed->data_fingerprint != data_fingerprint_) {
      std::fprintf(stderr, "warning: --data %s is not the data set %s was trained on (%s, now %s); going on\n",
                   data_.dir.c_str(), resume_.c_str(), resumed->data_fingerprint.c_str(), data_fingerprint_.c_str());
    }
    // An epoch of shifted images is kShiftVariants samples an image, so a run stopped late in it
    // stands past the image count.
    if (resumed)
      check_resume_position(resumed->start, settings_.batch_size,
                            data.train.count * (settings_.expand == "shifts" ? kShiftVariants : 1), resume_);
    const StartPoint start = resumed ? std::move(resumed->start) : StartPoint{};
    if (resumed) net = std::move(resumed->net);
    if (settings_.batch_size > data.train.count) {
      throw UsageError("--batch " + std::to_string(settings_.batch_size) + " exceeds the " +
                       std::to_string(data.train.count) + " training images");
    }
    std::vector<uint8_t> shuffled;
    if (settings_.shuffle_labels) {
      shuffled = shuffled_labels(data.train, settings_.seed);
      data.train.labels = shuffled.data();
    }
    if (!resume_.empty() && net.sizes != sizes) throw Error(resume_ + ": parameters do not match its own layers");
    std::unique_ptr<Backend> backend = device_.make(sizes, settings_.batch_size);
    backend_name_ = backend->name();
    // Checkpoints from before the backend was recorded say nothing.
    if (resumed && !resumed->backend.empty() && backend_family(resumed->backend) != backend_family(backend_name_)) {
      std::fprintf(stderr,
                   "notice: %s was trained on %s; resuming on %s: the run continues, but is no longer "
                   "bit-identical to an uninterrupted one\n",
                   resume_.c_str(), resumed->backend.c_str(), backend_name_.c_str());
    }
    open_outputs();
    if (resume_.empty()) net = initialise(sizes, init, settings_.seed, output_layer(hyper.cost));
    announce(net, *backend, data, start);
    return train_and_finish(*backend, net, data, hyper, start);
  }

 private:
  // Job: a resume. Adopts the checkpoint's settings (flags given must agree), checked; its
  // position is checked against the data once they are loaded.
  std::optional<Resumed> resume() {
    if (resume_.empty()) return std::nullopt;
    Resumed r = read_checkpoint(resume_, settings_, [&](const char* flag) { return sub_->count(flag) > 0; });
    check_resumable(r, settings_, resume_);
    return r;
  }

  // The training tools' flags, before any data is read.
  void check_tools() const {
    train_options(settings_);  // throws on a bad --schedule or --expand
    const bool needs_validation = settings_.schedule != "none" || settings_.early_stop > 0;
    if (needs_validation && settings_.validation_size && *settings_.validation_size == 0)
      throw UsageError("--schedule and --early-stop need validation data: --validation-size must be above 0");
  }

  // Job: the output files, checked before anything is loaded or trained, so that a run is never
  // lost to a missing folder or a bad path at its end.
  void check_outputs() const {
    std::vector<FileRole> outputs;
    for (const auto& [flag, path] :
         {std::pair{"--save", &save_}, {"--checkpoint", &checkpoint_}, {"--log", &log_path_}}) {
      if (sub_->count(flag) == 0) continue;
      const WriteTarget t = check_write_target(*path, flag, std::string(flag) == "--log");
      if (t.via_symlink)
        std::fprintf(stderr, "note: %s %s is a symlink: writing through it to %s\n", flag, path->c_str(),
                     t.real.c_str());
      outputs.push_back({flag, *path});
    }
    std::vector<FileRole> data;
    for (const std::string& f : data_files(data_.dir)) data.push_back({"--data", f});
    check_distinct_files(outputs, data);
    // The checkpoint resumed from is read whole before anything is written, so --checkpoint may
    // name it (the run goes on updating its own checkpoint, each write atomic); nothing else may.
    std::vector<FileRole> others;
    for (const FileRole& o : outputs)
      if (o.flag != "--checkpoint") others.push_back(o);
    check_distinct_files(others, {{"--resume", resume_}});
    if (log_path_.empty() || !std::filesystem::is_regular_file(log_path_)) return;
    if (resume_.empty() && std::filesystem::file_size(log_path_) > 0)
      throw UsageError("--log " + log_path_ +
                       " already exists; remove it or choose another name (--resume appends to it)");
    if (!resume_.empty() && !is_epoch_log(log_path_))
      throw UsageError("--log " + log_path_ + " is not a backprop log (its first line is no epoch record); " +
                       "refusing to append to it: choose another name");
  }

  // Opens the log (appended to on a resume).
  void open_outputs() {
    if (!log_path_.empty()) log_.open(log_path_, !resume_.empty());
  }

  void announce(const Network& net, const Backend& backend, const Dataset& data, const StartPoint& start) const {
    std::printf("backprop: %s network (%zu parameters), %s backend, %zu training / %zu validation / %zu test images\n",
                format_layers(net.sizes).c_str(), net.parameter_count(), backend.name().c_str(), data.train.count,
                data.validation.count, data.test.count);
    if (!resume_.empty())
      std::printf("resuming %s at epoch %zu, sample %zu\n", resume_.c_str(), start.epoch, start.sample);
    if (settings_.shuffle_labels)
      std::printf("training labels shuffled at random (seed %llu)\n", (unsigned long long)settings_.seed);
    if (settings_.expand == "shifts")
      std::printf("each training image also shifted one pixel up, down, left and right: %zu samples per epoch\n",
                  data.train.count * kShiftVariants);
    std::fflush(stdout);
  }

  // Job: the run itself, with the epoch printer, checkpoints, and what an interruption leaves.
  int train_and_finish(Backend& backend, Network& net, const Dataset& data, const Hyper& hyper, StartPoint start) {
    TrainOptions options = train_options(settings_);
    options.hyper = hyper;
    options.first_epoch = start.epoch;
    options.first_sample = start.sample;
    options.schedule = start.schedule;
    options.best = start.best;
    options.velocity = &start.velocity;
    const StopOnSignal signals;
    options.stop = &signals.requested();
    ProgressBar bar(!quiet_ && stderr_is_terminal());
    const ScheduleSettings schedule{hyper.eta, options.plateau, options.early_stop};
    EpochPrinter printer(hyper, data.train.count * (options.shifts ? kShiftVariants : 1), log_, schedule, start.record);
    const auto on_epoch = [&](const EpochReport& r) {
      bar.clear();
      printer.epoch(r);
      bar.start("training");  // the next epoch's rate and ETA are its own
      // A diverged epoch's parameters are not finite: the last good checkpoint stays.
      if (r.finite && every_ > 0 && (r.epoch + 1) % every_ == 0)
        save_checkpoint(checkpoint_, net,
                        {r.epoch + 1, 0, r.schedule, r.best ? *r.best : Network{}, printer.record(), start.velocity});
    };
    const auto on_progress = [&](size_t done, size_t total) { bar.update(done, total); };
    bar.start("training", start.sample);
    const TrainOutcome outcome = train(backend, net, data, options, on_epoch,
                                       bar.enabled() ? ProgressCallback(on_progress) : ProgressCallback());
    bar.clear();
    if (outcome.status == TrainOutcome::interrupted)
      return interrupted(net, outcome, printer.record(), start.velocity, signals.signal_number());
    if (outcome.status == TrainOutcome::diverged) return 1;
    printer.summary(data.test.count, outcome.schedule.best_epoch);
    if (!save_.empty()) save_model_file(net, outcome);
    return log_.failed() ? 1 : 0;  // the run is saved, but its log is incomplete
  }

  // Job: --save. The best-validation epoch's parameters where there was validation, else the last.
  void save_model_file(const Network& last, const TrainOutcome& outcome) const {
    if (const std::optional<size_t> best = save_trained_model(save_, last, outcome, settings_, backend_name_))
      std::printf("saved %s: the parameters of epoch %zu, the best validation accuracy (%zu correct)\n", save_.c_str(),
                  *best, outcome.schedule.best_correct);
    else
      std::printf("saved %s\n", save_.c_str());
  }

  int interrupted(const Network& net, const TrainOutcome& outcome, const RunRecord& record, const Network& velocity,
                  int signal) const {
    if (checkpoint_.empty()) {
      std::printf("interrupted in epoch %zu; nothing saved (no --checkpoint given)\n", outcome.epoch);
    } else {
      save_checkpoint(checkpoint_, net,
                      {outcome.epoch, outcome.sample, outcome.schedule, outcome.best, record, velocity});
      std::printf(
          "interrupted in epoch %zu after %zu samples; checkpoint written to %s (continue with: backprop "
          "train --resume %s)\n",
          outcome.epoch, outcome.sample, checkpoint_.c_str(), checkpoint_.c_str());
    }
    return 128 + signal;
  }

  // Job: checkpoints (train/resume.hpp says what they hold).
  void save_checkpoint(const std::string& path, const Network& net, const StartPoint& at) const {
    bp::save_checkpoint(path, net, settings_, at, data_fingerprint_, backend_name_);
  }

  CLI::App* sub_ = nullptr;
  std::string data_fingerprint_;
  std::string backend_name_;
  RunSettings settings_;
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
