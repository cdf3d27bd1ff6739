// `backprop train`: network.py's run from the command line, with network.py's epoch lines plus
// timing, a JSONL log, a progress bar and the trained model saved as safetensors.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "checkpoint.hpp"
#include "common.hpp"
#include "error.hpp"
#include "progress.hpp"
#include "trainer.hpp"

namespace bp::cli {
namespace {

class TrainCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    CLI::App* sub = app.add_subcommand("train", "Train a network with mini-batch SGD (defaults: network.py's book run)");
    data_.add(*sub);
    net_.add(*sub);
    device_.add(*sub);
    sub->add_option("--epochs", epochs_, "Epochs")->capture_default_str();
    sub->add_option("--log", log_, "Write one JSON object per epoch to this file");
    sub->add_option("--save", save_, "Write the trained model (safetensors) to this file");
    sub->add_flag("--quiet,-q", quiet_, "Print only the epoch lines, no progress bar");
    return sub;
  }

  int run() override {
    if (epochs_ < 1) throw UsageError("--epochs must be >= 1, got 0");
    const Hyper hyper = net_.hyper();
    const Init init = net_.initialisation();
    const Dataset data = data_.load();
    const std::vector<size_t> sizes = net_.checked_layers(data);
    std::unique_ptr<Backend> backend = device_.make();
    std::ofstream log;
    if (!log_.empty()) {
      log.open(log_, std::ios::trunc);
      if (!log) throw UsageError(log_ + ": cannot open the log file for writing");
    }
    Network net = initialise(sizes, init, net_.seed);
    std::printf("backprop: %s network (%zu parameters), %s backend, %zu training / %zu validation / %zu test images\n",
                format_layers(sizes).c_str(), net.parameter_count(), backend->name().c_str(), data.train.count,
                data.validation.count, data.test.count);
    std::fflush(stdout);

    TrainOptions options;
    options.epochs = epochs_;
    options.batch_size = net_.batch_size;
    options.hyper = hyper;
    options.seed = net_.seed;
    ProgressBar bar(!quiet_ && stderr_is_terminal());
    size_t best = 0, best_epoch = 0;
    double total_train_seconds = 0;
    const auto on_epoch = [&](const EpochReport& r) {
      bar.clear();
      total_train_seconds += r.train_seconds;
      if (!r.finite) {
        std::printf("Epoch %zu: training diverged (cost or parameters are not finite); try a smaller --eta than %g\n",
                    r.epoch, hyper.eta);
        return;
      }
      if (r.test_correct > best || r.epoch == options.first_epoch) {
        best = r.test_correct;
        best_epoch = r.epoch;
      }
      std::printf("Epoch %zu: %zu / %zu   train %.3f s (%.0f samples/s), cost %.5f", r.epoch, r.test_correct,
                  r.test_count, r.train_seconds, double(data.train.count) / r.train_seconds, r.training_cost);
      if (r.validation_count) std::printf(", validation %zu / %zu", r.validation_correct, r.validation_count);
      std::printf(", change %.3f\n", r.parameter_change);
      std::fflush(stdout);
      if (log.is_open()) {
        nlohmann::json j = {{"epoch", r.epoch},
                            {"train_seconds", r.train_seconds},
                            {"eval_seconds", r.eval_seconds},
                            {"samples_per_second", double(data.train.count) / r.train_seconds},
                            {"training_cost", r.training_cost},
                            {"validation_correct", r.validation_correct},
                            {"validation_count", r.validation_count},
                            {"test_correct", r.test_correct},
                            {"test_count", r.test_count},
                            {"parameter_change", r.parameter_change}};
        log << j.dump() << "\n" << std::flush;
      }
    };
    const auto on_progress = [&](size_t done, size_t total) { bar.update(done, total); };
    bar.start("training");
    const bool ok = train(*backend, net, data, options, on_epoch,
                          bar.enabled() ? ProgressCallback(on_progress) : ProgressCallback());
    if (!ok) return 1;
    std::printf("best test accuracy: %.2f%% (epoch %zu); %.2f s training in all, %.3f s per epoch\n",
                100.0 * double(best) / double(data.test.count), best_epoch, total_train_seconds,
                total_train_seconds / double(epochs_));
    if (!save_.empty()) {
      save_model(save_, net,
                 {{"cost", net_.cost}, {"eta", std::to_string(hyper.eta)}, {"lambda", std::to_string(hyper.lambda)},
                  {"mini_batch", std::to_string(net_.batch_size)}, {"epochs", std::to_string(epochs_)},
                  {"seed", std::to_string(net_.seed)}, {"init", net_.init}});
      std::printf("saved %s\n", save_.c_str());
    }
    return 0;
  }

 private:
  DataOptions data_;
  NetworkOptions net_;
  DeviceOptions device_;
  size_t epochs_ = 30;
  std::string log_, save_;
  bool quiet_ = false;
};

}  // namespace

std::unique_ptr<Command> make_train_command() { return std::make_unique<TrainCommand>(); }

}  // namespace bp::cli
