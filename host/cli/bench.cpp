// `backprop bench`: the benchmark suite (host/bench/suite.hpp) from the command line. The table is
// printed last; --json and --markdown write the full report.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "base/atomic_file.hpp"
#include "base/error.hpp"
#include "base/same_file.hpp"
#include "base/write_target.hpp"
#include "bench/suite.hpp"
#include "cli/common.hpp"

namespace bp::cli {
namespace {

class BenchCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    CLI::App* sub = app.add_subcommand("bench", "Time every configuration on every available backend");
    sub->add_flag("--quick", o_.quick, "A small subset for CI: seed and nielsen on 10,000 images");
    sub->add_option("--config", o_.configs, "Only these configurations: seed, nielsen, nielsen2, wide, large, width-H")
        ->delimiter(',');
    sub->add_option("--backends", o_.backends,
                    "Only these backends: fused (the fused GPU engine), cuda (the cuBLAS engine), cpu, reference")
        ->delimiter(',')
        ->check(CLI::IsMember({"cuda", "cpu", "reference"}));
    sub->add_option("--widths", o_.widths, "Also time 784-H-10 at mini-batch 10 for each H (width-H rows)")
        ->delimiter(',')
        ->check(count(1, 1000000));
    sub->add_option("--epochs", o_.epochs, "Timed epochs after the warm-up epoch")
        ->check(count(1, 10000))
        ->capture_default_str();
    sub->add_option("--max-epoch-seconds", o_.max_epoch_seconds, "Longer epochs are extrapolated from timed steps")
        ->check(finite())
        ->capture_default_str();
    sub->add_option("--threads", o_.threads, "CPU threads (default 1: the single-core comparison)")
        ->check(count(0, 4096))
        ->capture_default_str();
    sub->add_option("--seed", o_.seed, "Seed of the initial weights and shuffles")
        ->check(count(0, kAny))
        ->capture_default_str();
    sub->add_option("--data", data_dir_, "MNIST folder (random images are used if it has none)")->capture_default_str();
    sub->add_option("--json", json_, "Write the full report as JSON");
    sub->add_option("--markdown", markdown_, "Write the report as Markdown");
    return sub;
  }

  int run() override {
    if (o_.epochs < 1) throw UsageError("--epochs must be >= 1, got 0");
    if (o_.threads < 0) throw UsageError("--threads must be >= 0, got " + std::to_string(o_.threads));
    if (!(o_.max_epoch_seconds > 0)) throw UsageError("--max-epoch-seconds must be > 0");
    if (o_.quick && o_.epochs == 3) o_.epochs = 2;
    o_.threads = capped_threads(o_.threads);                  // the report states the threads really used
    if (!json_.empty()) check_write_target(json_, "--json");  // before the minutes of timing
    if (!markdown_.empty()) check_write_target(markdown_, "--markdown");
    check_distinct_files({{"--json", json_}, {"--markdown", markdown_}}, {});
    bool synthetic = false;
    Dataset data;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      data = load_dataset(data_dir_, {});
    } catch (const UsageError&) {
      std::fprintf(stderr, "bench: no MNIST in %s; timing on random images (accuracies are meaningless)\n",
                   data_dir_.c_str());
      synthetic = true;
      data.training_file = synthetic_images(60000, 28, 28, 10, 1);
      data.test_file = synthetic_images(10000, 28, 28, 10, 2);
      data.train = data.training_file.view().slice(0, 50000);
      data.validation = data.training_file.view().slice(50000, 10000);
      data.test = data.test_file.view();
      data.classes = 10;
    }
    const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const nlohmann::json report = bench::run(data, synthetic, load_seconds, o_);
    if (!json_.empty()) write_file_atomically(json_, report.dump(2) + "\n");
    if (!markdown_.empty()) write_file_atomically(markdown_, bench::markdown(report));
    std::cout << bench::table(report);
    return 0;
  }

 private:
  bench::Options o_;
  std::string data_dir_ = default_data_dir(), json_, markdown_;
};

}  // namespace

std::unique_ptr<Command> make_bench_command() { return std::make_unique<BenchCommand>(); }

}  // namespace bp::cli
