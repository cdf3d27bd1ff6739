// `backprop train`: network.py's run from the command line, with network.py's epoch lines plus
// timing, a JSONL log, a progress bar, checkpoints that resume exactly, a clean stop on Ctrl-C or
// SIGTERM, and the trained model saved as safetensors.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "train/checkpoint.hpp"
#include "cli/common.hpp"
#include "base/error.hpp"
#include "cli/progress.hpp"
#include "cli/signals.hpp"
#include "train/trainer.hpp"

namespace bp::cli {
namespace {

std::string exact(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

size_t metadata_size(const Metadata& md, const std::string& key, const std::string& file) {
  const auto it = md.find(key);
  if (it == md.end()) throw Error(file + ": not a checkpoint (its metadata has no '" + key + "')");
  try {
    size_t used = 0;
    const unsigned long long v = std::stoull(it->second, &used);
    if (used == it->second.size()) return size_t(v);
  } catch (const std::exception&) {
  }
  throw Error(file + ": metadata '" + key + "' is not a count: '" + it->second + "'");
}

class TrainCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    sub_ = app.add_subcommand("train", "Train a network with mini-batch SGD (defaults: network.py's book run)");
    data_.add(*sub_);
    net_.add(*sub_);
    device_.add(*sub_);
    sub_->add_option("--epochs", epochs_, "Epochs (in all, counting those before a --resume)")->capture_default_str();
    sub_->add_option("--log", log_, "Write one JSON object per epoch to this file (appended to on --resume)");
    sub_->add_option("--save", save_, "Write the trained model (safetensors) to this file");
    sub_->add_option("--checkpoint", checkpoint_, "Checkpoint file: written every --checkpoint-every epochs and on Ctrl-C");
    sub_->add_option("--checkpoint-every", every_, "Epochs between checkpoints (0: only on Ctrl-C or SIGTERM)")
        ->capture_default_str();
    sub_->add_option("--resume", resume_, "Continue the run saved in this checkpoint (its settings are used)");
    sub_->add_flag("--shuffle-labels", shuffle_labels_,
                   "Train on the training labels permuted at random (once, seeded): data with no regularity");
    sub_->add_flag("--quiet,-q", quiet_, "Print only the epoch lines, no progress bar");
    return sub_;
  }

  int run() override {
    if (every_ > 0 && checkpoint_.empty()) throw UsageError("--checkpoint-every needs --checkpoint FILE");
    Network net;
    size_t first_epoch = 0, first_sample = 0;
    if (!resume_.empty()) {
      const ModelFile ck = load_model(resume_);
      adopt_settings(ck.metadata);
      net = ck.net;
      first_epoch = metadata_size(ck.metadata, "next_epoch", resume_);
      first_sample = metadata_size(ck.metadata, "next_sample", resume_);
    }
    if (epochs_ < 1) throw UsageError("--epochs must be >= 1, got 0");
    if (first_epoch >= epochs_ && first_sample == 0) {
      throw UsageError(resume_ + " has already trained " + std::to_string(first_epoch) + " epochs; pass --epochs " +
                       std::to_string(first_epoch + 1) + " or more to continue");
    }
    const Hyper hyper = net_.hyper();
    const Init init = net_.initialisation();
    Dataset data = data_.load();
    const std::vector<size_t> sizes = net_.checked_layers(data);
    std::vector<uint8_t> shuffled;
    if (shuffle_labels_) {
      shuffled = shuffled_labels(data.train, net_.seed);
      data.train.labels = shuffled.data();
    }
    if (!resume_.empty() && net.sizes != sizes) throw Error(resume_ + ": parameters do not match its own layers");
    std::unique_ptr<Backend> backend = device_.make();
    std::ofstream log;
    if (!log_.empty()) {
      log.open(log_, resume_.empty() ? std::ios::trunc : std::ios::app);
      if (!log) throw UsageError(log_ + ": cannot open the log file for writing");
    }
    if (resume_.empty()) net = initialise(sizes, init, net_.seed, output_layer(hyper.cost));
    std::printf("backprop: %s network (%zu parameters), %s backend, %zu training / %zu validation / %zu test images\n",
                format_layers(sizes).c_str(), net.parameter_count(), backend->name().c_str(), data.train.count,
                data.validation.count, data.test.count);
    if (!resume_.empty())
      std::printf("resuming %s at epoch %zu, sample %zu\n", resume_.c_str(), first_epoch, first_sample);
    if (shuffle_labels_) std::printf("training labels shuffled at random (seed %llu)\n", (unsigned long long)net_.seed);
    std::fflush(stdout);

    TrainOptions options;
    options.epochs = epochs_;
    options.batch_size = net_.batch_size;
    options.hyper = hyper;
    options.seed = net_.seed;
    options.first_epoch = first_epoch;
    options.first_sample = first_sample;
    const StopOnSignal signals;
    options.stop = &signals.requested();
    ProgressBar bar(!quiet_ && stderr_is_terminal());
    size_t best = 0, best_epoch = 0, epochs_run = 0;
    double total_train_seconds = 0;
    const auto on_epoch = [&](const EpochReport& r) {
      bar.clear();
      total_train_seconds += r.train_seconds;
      if (!r.finite) {
        std::printf("Epoch %zu: training diverged (cost or parameters are not finite); try a smaller --eta than %g"
                    "%s\n", r.epoch, hyper.eta, hyper.lambda > 0 ? " or a smaller --lambda" : "");
        return;
      }
      if (r.test_correct > best || epochs_run == 0) {
        best = r.test_correct;
        best_epoch = r.epoch;
      }
      ++epochs_run;
      std::printf("Epoch %zu: %zu / %zu   train %.3f s (%.0f samples/s), cost %.5f", r.epoch, r.test_correct,
                  r.test_count, r.train_seconds, double(data.train.count) / r.train_seconds, r.training_cost);
      if (r.validation_count) std::printf(", validation %zu / %zu", r.validation_correct, r.validation_count);
      std::printf(", change %.3f\n", r.parameter_change);
      std::fflush(stdout);
      if (log.is_open()) log << epoch_json(r, data.train.count).dump() << "\n" << std::flush;
      if (every_ > 0 && (r.epoch + 1) % every_ == 0) save(checkpoint_, net, r.epoch + 1, 0);
    };
    const auto on_progress = [&](size_t done, size_t total) { bar.update(done, total); };
    bar.start("training");
    const TrainOutcome outcome = train(*backend, net, data, options, on_epoch,
                                       bar.enabled() ? ProgressCallback(on_progress) : ProgressCallback());
    bar.clear();
    if (outcome.status == TrainOutcome::interrupted) {
      if (checkpoint_.empty()) {
        std::printf("interrupted in epoch %zu; nothing saved (no --checkpoint given)\n", outcome.epoch);
      } else {
        save(checkpoint_, net, outcome.epoch, outcome.sample);
        std::printf("interrupted in epoch %zu after %zu samples; checkpoint written to %s (continue with: backprop "
                    "train --resume %s)\n", outcome.epoch, outcome.sample, checkpoint_.c_str(), checkpoint_.c_str());
      }
      return 128 + signals.signal_number();
    }
    if (outcome.status == TrainOutcome::diverged) return 1;
    std::printf("best test accuracy: %.2f%% (epoch %zu); %.2f s training in all, %.3f s per epoch\n",
                100.0 * double(best) / double(data.test.count), best_epoch, total_train_seconds,
                total_train_seconds / double(std::max<size_t>(epochs_run, 1)));
    if (!save_.empty()) {
      save(save_, net, epochs_, 0);
      std::printf("saved %s\n", save_.c_str());
    }
    return 0;
  }

 private:
  static nlohmann::json epoch_json(const EpochReport& r, size_t train_count) {
    return {{"epoch", r.epoch},
            {"train_seconds", r.train_seconds},
            {"eval_seconds", r.eval_seconds},
            {"samples_per_second", double(train_count) / r.train_seconds},
            {"training_cost", r.training_cost},
            {"validation_correct", r.validation_correct},
            {"validation_count", r.validation_count},
            {"test_correct", r.test_correct},
            {"test_count", r.test_count},
            {"parameter_change", r.parameter_change}};
  }

  // Everything a resumed run needs: the settings, and where in which epoch's order it stopped
  // (the order itself is a function of seed and epoch, so no generator state is stored).
  Metadata settings() const {
    Metadata md = {{"cost", net_.cost}, {"init", net_.init}, {"eta", exact(net_.eta)}, {"lambda", exact(net_.lambda)},
                   {"mini_batch", std::to_string(net_.batch_size)}, {"seed", std::to_string(net_.seed)},
                   {"epochs", std::to_string(epochs_)}, {"shuffle_labels", shuffle_labels_ ? "1" : "0"}};
    if (data_.train_size) md["train_size"] = std::to_string(*data_.train_size);
    if (data_.validation_size) md["validation_size"] = std::to_string(*data_.validation_size);
    return md;
  }

  void save(const std::string& path, const Network& net, size_t next_epoch, size_t next_sample) const {
    Metadata md = settings();
    md["next_epoch"] = std::to_string(next_epoch);
    md["next_sample"] = std::to_string(next_sample);
    save_model(path, net, md);
  }

  // Takes the run's settings from a checkpoint; a flag given explicitly must agree with it.
  void adopt_settings(const Metadata& md) {
    const auto take = [&](const char* flag, const char* key, auto& field, auto parse, auto show) {
      const auto it = md.find(key);
      if (it == md.end()) throw Error(resume_ + ": not a checkpoint (its metadata has no '" + key + "')");
      const auto value = parse(it->second);
      if (sub_->count(flag) > 0 && show(field) != show(value)) {
        throw UsageError(std::string(flag) + " " + show(field) + " conflicts with the checkpoint's " + show(value) +
                         " (drop the flag to resume)");
      }
      field = value;
    };
    const auto to_double = [&](const std::string& s) {
      try {
        return std::stod(s);
      } catch (const std::exception&) {
        throw Error(resume_ + ": bad number '" + s + "' in metadata");
      }
    };
    const auto to_size = [&](const std::string& s) { return size_t(to_double(s)); };
    const auto same = [](const std::string& s) { return s; };
    const auto show_double = [](double x) { return exact(x); };
    const auto show_size = [](size_t x) { return std::to_string(x); };
    take("--layers", "layers", net_.layers, same, same);
    take("--cost", "cost", net_.cost, same, same);
    take("--init", "init", net_.init, same, same);
    take("--eta", "eta", net_.eta, to_double, show_double);
    take("--lambda", "lambda", net_.lambda, to_double, show_double);
    take("--batch", "mini_batch", net_.batch_size, to_size, show_size);
    uint64_t seed = net_.seed;
    take("--seed", "seed", seed, [&](const std::string& s) { return uint64_t(to_double(s)); },
         [](uint64_t x) { return std::to_string(x); });
    net_.seed = seed;
    if (sub_->count("--epochs") == 0) epochs_ = metadata_size(md, "epochs", resume_);
    if (md.count("shuffle_labels")) shuffle_labels_ = md.at("shuffle_labels") == "1";
    if (md.count("train_size") && sub_->count("--train-size") == 0) data_.train_size = metadata_size(md, "train_size", resume_);
    if (md.count("validation_size") && sub_->count("--validation-size") == 0)
      data_.validation_size = metadata_size(md, "validation_size", resume_);
  }

  CLI::App* sub_ = nullptr;
  DataOptions data_;
  NetworkOptions net_;
  DeviceOptions device_;
  size_t epochs_ = 30, every_ = 0;
  std::string log_, save_, checkpoint_, resume_;
  bool quiet_ = false, shuffle_labels_ = false;
};

}  // namespace

std::unique_ptr<Command> make_train_command() { return std::make_unique<TrainCommand>(); }

}  // namespace bp::cli
