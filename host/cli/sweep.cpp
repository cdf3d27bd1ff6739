// `backprop sweep`: trains every combination of lists of training flags (and seeds), one network
// per core, each exactly as `backprop train` would (on the GPU: the networks of one shape
// together, sweep/groups.hpp); prints a line per finished network and a
// table by setting at the end; --log, --out pictures, --save-best; --shard I/N runs a slice of
// the grid and --merge puts the slices' logs back together into the same table and pictures.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "base/atomic_file.hpp"
#include "base/error.hpp"
#include "base/same_file.hpp"
#include "base/write_target.hpp"
#include "cli/common.hpp"
#include "cli/epoch_report.hpp"
#include "cli/signals.hpp"
#include "cuda/cuda_backend.hpp"
#include "sweep/best.hpp"
#include "sweep/grid.hpp"
#include "sweep/learning.hpp"
#include "sweep/on_gpu.hpp"
#include "sweep/pictures.hpp"
#include "sweep/plans.hpp"
#include "sweep/record.hpp"
#include "sweep/runner.hpp"
#include "sweep/summary.hpp"
#include "train/checkpoint.hpp"
#include "train/engine_choice.hpp"
#include "train/epoch_record.hpp"
#include "train/resume.hpp"

namespace bp::cli {
namespace {

constexpr uint64_t kConfirm = 10000;    // more networks than this need --yes
constexpr uint64_t kMaxRun = 10000000;  // more than this in one process: split with --shard

class SweepCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    sub_ = app.add_subcommand("sweep",
                              "Train a grid of networks over lists of flags and seeds, one per core, and compare them");
    data_.add(*sub_, false);  // --train-size is a swept flag
    words_.resize(sweep::swept_flags().size());
    for (size_t i = 0; i < words_.size(); ++i) {
      const sweep::SweptFlag& f = sweep::swept_flags()[i];
      const std::string help = std::string(f.help) + (f.flag == std::string("--seeds") ? "" : " [default: train's]");
      sub_->add_option(f.flag, words_[i], help)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    }
    sub_->add_option("--device", device_,
                     "cpu (one network per thread), cuda (networks of one shape trained together), reference (one "
                     "network at a time), auto (cuda on a usable, real GPU, else cpu)")
        ->capture_default_str();
    sub_->add_option("--engine", engine_,
                     "cuda: how each group trains: auto (the engine predicted faster for its shape and mini-batch), "
                     "cublas, or fused (a network per thread block; shapes that fit)")
        ->capture_default_str();
    sub_->add_option("--group-size", group_size_,
                     "cuda: at most this many networks trained together (0 = as many as fit in device memory)")
        ->check(count(0, 1000000))
        ->capture_default_str();
    sub_->add_option("--threads", threads_, "Networks trained at once on the CPU (0 = one per usable core)")
        ->check(count(0, 4096))
        ->capture_default_str();
    sub_->add_option("--log", log_path_, "Write every network's per-epoch record as JSON lines to this file");
    sub_->add_option(
        "--out", out_,
        "Folder for heatmap.png, curves.png and, with a --train-size list, learning_curve.png (made if missing)");
    sub_->add_option("--save-best", save_best_,
                     "Write the network with the best validation accuracy, with its best epoch's parameters as "
                     "train --save would (safetensors)");
    sub_->add_option("--shard", shard_text_, "Train only the I-th of N slices of the grid (I/N, 1-based)");
    sub_->add_option("--merge", merge_, "Combine the --log files of a sweep's shards into its table and pictures")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    sub_->add_flag("--continue", continue_,
                   "Continue an interrupted sweep: keep the networks its --log holds to their last epoch and train "
                   "only the rest (the same flags, --shard and --log; a missing or empty log starts afresh)");
    sub_->add_flag("--yes", yes_, "Allow a grid of more than 10,000 networks");
    return sub_;
  }

  int run() override { return merge_.empty() ? train_grid() : merge(); }

 private:
  // --merge: the logs only; every training flag belongs to the shards' own runs.
  int merge() {
    for (const CLI::Option* o : sub_->get_options())
      if (o->count() > 0 && o->get_name() != "--merge" && o->get_name() != "--out")
        throw UsageError("--merge takes only the log files and --out, not " + o->get_name());
    std::vector<FileRole> inputs;
    for (const std::string& f : merge_) inputs.push_back({"--merge", f});
    check_distinct_files(prepare_out(), inputs);
    const sweep::SweepLog log = sweep::merge_logs(merge_);
    std::printf("merged %zu files: %zu networks\n", merge_.size(), log.runs.size());
    finish(log.axes, log.runs);
    return 0;
  }

  int train_grid() {
    sweep::Grid grid = make_grid();
    const sweep::Shard shard = shard_text_.empty() ? sweep::Shard{} : sweep::parse_shard(shard_text_);
    check_size(grid, shard);
    sweep::RunnerOptions options;
    GpuEngine engine = GpuEngine::auto_select;
    options.backend.device = checked_device(engine);
    check_outputs();
    const Dataset data = load_data(grid);
    const sweep::SweepId id = sweep::sweep_id(grid, data_fingerprint(data), shard);
    // --continue: the networks an earlier run finished stay (in the log, rewritten without the
    // records of those it cut off), and only the rest train.
    sweep::FinishedNetworks before;
    if (continue_ && has_records(log_path_)) before = sweep::read_finished(log_path_, id);
    std::set<uint64_t> done;
    for (const sweep::NetworkRun& run : before.runs) done.insert(run.index);
    std::vector<sweep::Plan> plans = sweep::make_plans(grid, sweep::shard_indices(grid.size(), shard), data, done);
    options.backend.threads = 1;  // each network single-threaded: the cores go to networks
    options.backend.quiet_fallback = true;
    const bool gpu = options.backend.device == Device::cuda;
    options.workers = sweep::sweep_workers(options.backend.device, threads_, plans.size());
    announce(grid, plans.size(), options, data);
    if (continue_ && has_records(log_path_)) {
      write_file_atomically(log_path_, before.lines);
      std::printf("continuing: %zu networks of this run were finished in %s; %zu left to train\n", before.runs.size(),
                  log_path_.c_str(), plans.size());
    }
    if (!log_path_.empty()) log_.open(log_path_, continue_);
    sweep::BestNetwork best(save_best_, id);
    if (continue_ && !save_best_.empty()) best.adopt_saved();
    const StopOnSignal signals;
    options.stop = &signals.requested();
    size_t finished = 0;
    const auto on_epoch = [&](const sweep::NetworkRun& run, const EpochReport& r) {
      if (log_.is_open()) log_.write_line(sweep::record_line(id, run, r));
    };
    const auto on_network = [&](const sweep::NetworkRun& run, const Network& net, const TrainOutcome& outcome) {
      ++finished;
      done.insert(run.index);
      print_network(grid, run, finished, plans.size());
      if (!save_best_.empty()) best.offer(run, net, outcome);
    };
    const auto say = [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    };
    const bool finished_all =
        gpu ? sweep::run_on_gpu(plans, data, options, engine, group_size_, on_epoch, on_network, say)
            : sweep::run_plans(plans, data, options, on_epoch, on_network);
    // The table, pictures and best network of what finished: all of it, or up to an interruption.
    std::vector<sweep::NetworkRun> runs = std::move(before.runs);
    for (sweep::Plan& p : plans)
      if (done.count(p.run.index)) runs.push_back(std::move(p.run));
    std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    if (!finished_all)
      std::printf("interrupted: %zu of the %zu networks of this run are finished%s\n", runs.size(),
                  runs.size() + plans.size() - finished, log_.is_open() ? "; their records are in the --log file" : "");
    if (!runs.empty()) finish(grid.axes(), runs);
    if (!save_best_.empty() && (finished > 0 || finished_all)) save_best(best, options.backend.device);
    if (!finished_all) {
      std::printf(log_.is_open() ? "to train the rest, run the same command with --continue\n"
                                 : "(with --log FILE, --continue would train only the rest)\n");
      return 128 + signals.signal_number();
    }
    return log_.failed() ? 1 : 0;
  }

  // The data, loaded once: with a --train-size list, the largest, whose prefixes the others train on.
  Dataset load_data(const sweep::Grid& grid) const {
    RunSettings settings = base_;
    for (const sweep::Axis& a : grid.axes())
      if (a.flag == "--train-size")
        for (const std::string& v : a.values) {
          const uint64_t n = std::stoull(v);
          if (n < 1 || n > UINT32_MAX) throw UsageError("--train-size must be 1.." + std::to_string(UINT32_MAX));
          settings.train_size = std::max<uint64_t>(settings.train_size.value_or(0), n);
        }
    DataOptions options(settings);
    options.dir = data_.dir;
    return options.load();
  }

  static bool has_records(const std::string& path) {
    std::error_code ec;
    return !path.empty() && std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) > 0;
  }

  void save_best(const sweep::BestNetwork& best, Device device) const {
    const char* backend = device == Device::cuda ? "cuda (sweep)" : device == Device::cpu ? "cpu (sweep)" : "reference";
    if (!best.save(backend))
      std::printf("the best network (%llu) is the one %s already holds\n", (unsigned long long)best.index(),
                  save_best_.c_str());
    else
      std::printf("saved the best network (%llu) to %s\n", (unsigned long long)best.index(), save_best_.c_str());
  }

  // --device (sweep_device decides auto), and --engine and the flags that apply to the GPU only;
  // checked before any data are loaded.
  Device checked_device(GpuEngine& engine) const {
    const Device device = sweep::sweep_device(parse_device(device_));
    if (sub_->count("--group-size") > 0 && device != Device::cuda)
      throw UsageError("--group-size applies to --device cuda only (networks trained together on the GPU)");
    engine = parse_engine(engine_);
    if (sub_->count("--engine") > 0 && device != Device::cuda)
      throw UsageError("--engine applies to --device cuda only (how the GPU trains)");
    if (device == Device::cuda && !cuda_status().usable)
      throw UsageError("--device cuda: no usable CUDA device: " + cuda_status().reason);
    return device;
  }

  void announce(const sweep::Grid& grid, size_t networks, const sweep::RunnerOptions& options,
                const Dataset& data) const {
    const Device device = options.backend.device;
    const std::string how = device == Device::cuda ? "those of one shape together on the GPU"
                                                   : std::to_string(options.workers) + " at a time on " +
                                                         (device == Device::cpu ? "the CPU" : "the float64 reference");
    const std::string shard =
        shard_text_.empty() ? "" : " (shard " + shard_text_ + " of a grid of " + std::to_string(grid.size()) + ")";
    std::printf("backprop sweep: %zu networks%s, %s, %zu training / %zu validation / %zu test images\n", networks,
                shard.c_str(), how.c_str(), data.train.count, data.validation.count, data.test.count);
    std::fflush(stdout);
  }

  sweep::Grid make_grid() const {
    std::vector<sweep::Axis> axes;
    for (size_t i = 0; i < words_.size(); ++i) {
      const sweep::SweptFlag& f = sweep::swept_flags()[i];
      if (sub_->count(f.flag) == 0) continue;
      axes.push_back({f.flag, sweep::parse_values(f, words_[i])});
    }
    return sweep::Grid(base_, std::move(axes));
  }

  void check_size(const sweep::Grid& grid, const sweep::Shard& shard) const {
    const uint64_t mine = grid.size() / shard.count + (grid.size() % shard.count >= shard.index);
    if (grid.size() > kConfirm && !yes_)
      throw UsageError("the grid has " + std::to_string(grid.size()) + " networks, more than " +
                       std::to_string(kConfirm) + "; pass --yes to train them all");
    if (mine > kMaxRun)
      throw UsageError("this run would train " + std::to_string(mine) + " networks, more than " +
                       std::to_string(kMaxRun) + " in one process; split the grid with --shard I/N");
    if (mine == 0)
      throw UsageError("--shard " + shard_text_ + " has no networks: the grid has only " + std::to_string(grid.size()) +
                       " (use at most " + std::to_string(grid.size()) + " shards)");
  }

  // Every output checked before any data are loaded: none may be another, an input, or a file
  // that is already there (the log).
  void check_outputs() const {
    if (continue_ && log_path_.empty())
      throw UsageError("--continue needs the --log of the run it continues (its finished networks are read from it)");
    if (!log_path_.empty()) {
      const WriteTarget t = check_write_target(log_path_, "--log", true);
      const bool has = t.exists && std::filesystem::is_regular_file(t.real) && std::filesystem::file_size(t.real) > 0;
      if (has && !continue_)
        throw UsageError("--log " + log_path_ +
                         " already exists; remove it, choose another name, or continue that sweep with --continue");
      if (continue_ && t.exists && !std::filesystem::is_regular_file(t.real))
        throw UsageError("--continue: --log " + log_path_ + " is not a regular file");
      if (has && !is_epoch_log(log_path_))
        throw UsageError("--continue: --log " + log_path_ + " is not a sweep's log; it was left as it was");
    }
    if (!save_best_.empty()) check_write_target(save_best_, "--save-best");
    std::vector<FileRole> outputs = {{"--log", log_path_}, {"--save-best", save_best_}};
    for (const FileRole& f : prepare_out()) outputs.push_back(f);
    std::vector<FileRole> inputs;
    for (const std::string& f : data_files(data_.dir)) inputs.push_back({"--data", f});
    check_distinct_files(outputs, inputs);
  }

  // The --out folder, made if missing, and the pictures that will be written in it.
  std::vector<FileRole> prepare_out() const {
    if (out_.empty()) return {};
    std::error_code ec;
    if (std::filesystem::exists(out_, ec) && !std::filesystem::is_directory(out_, ec))
      throw UsageError("--out " + out_ + " exists and is not a folder");
    std::filesystem::create_directories(out_, ec);
    if (ec) throw UsageError("--out " + out_ + ": cannot make the folder: " + ec.message());
    std::vector<FileRole> pictures;
    for (const char* name : {"heatmap.png", "curves.png", "learning_curve.png"}) {
      check_write_target(out_ + "/" + name, "--out");
      pictures.push_back({"--out", out_ + "/" + name});
    }
    return pictures;
  }

  void print_network(const sweep::Grid& grid, const sweep::NetworkRun& run, size_t finished, size_t total) const {
    std::string point;
    for (size_t a = 0; a < grid.axes().size(); ++a)
      if (grid.axes()[a].values.size() > 1)
        point += " " + (grid.axes()[a].flag == "--seeds" ? std::string("seed") : grid.axes()[a].flag.substr(2)) + " " +
                 run.point[a];
    double seconds = 0;
    for (const EpochReport& r : run.epochs) seconds += r.train_seconds + r.eval_seconds;
    const EpochReport& last = run.epochs.back();
    if (!last.finite) {
      std::printf("[%zu/%zu] network %llu%s: diverged in epoch %zu\n", finished, total, (unsigned long long)run.index,
                  point.c_str(), last.epoch);
    } else {
      std::printf("[%zu/%zu] network %llu%s: validation %.2f%%, test %.2f%% after %zu epochs, %.1f s\n", finished,
                  total, (unsigned long long)run.index, point.c_str(), sweep::final_validation(run),
                  last.test_count ? 100.0 * double(last.test_correct) / double(last.test_count) : 0.0,
                  run.epochs.size(), seconds);
    }
    std::fflush(stdout);
  }

  // The table and the pictures, the same for a run and a merge.
  void finish(const std::vector<sweep::Axis>& axes, const std::vector<sweep::NetworkRun>& runs) const {
    const std::vector<sweep::Setting> settings = sweep::summarise(axes, runs);
    std::printf("\n%s", sweep::format_table(axes, settings).c_str());
    if (out_.empty()) return;
    if (sweep::heatmap_axes(axes).first >= 0) {
      sweep::write_heatmap(out_ + "/heatmap.png", axes, settings);
      std::printf("wrote %s/heatmap.png\n", out_.c_str());
    }
    sweep::write_curves(out_ + "/curves.png", settings);
    std::printf("wrote %s/curves.png\n", out_.c_str());
    const std::vector<sweep::LearningSeries> learning = sweep::learning_series(axes, runs);
    if (!learning.empty()) {
      sweep::write_learning_curve(out_ + "/learning_curve.png", learning);
      std::printf("wrote %s/learning_curve.png\n", out_.c_str());
    }
  }

  CLI::App* sub_ = nullptr;
  RunSettings base_;
  DataOptions data_{base_};
  std::vector<std::vector<std::string>> words_;
  std::string device_ = "cpu";
  std::string engine_ = "auto";
  int threads_ = 0;
  size_t group_size_ = 0;
  std::string log_path_, out_, save_best_, shard_text_;
  std::vector<std::string> merge_;
  bool yes_ = false, continue_ = false;
  LogFile log_;
};

}  // namespace

std::unique_ptr<Command> make_sweep_command() { return std::make_unique<SweepCommand>(); }

}  // namespace bp::cli
