// See suite.hpp. Timing is wall-clock around Backend::train, which returns only when the work is
// done (the CUDA backend reads its cost back, which waits for the stream).
#include "bench/suite.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <thread>

#include "base/error.hpp"
#include "base/rng.hpp"
#include "bench/ceilings.hpp"
#include "cpu/cpu_gemm.hpp"
#include "cpu/cpu_path.hpp"
#include "cuda/cuda_backend.hpp"
#include "train/backend_factory.hpp"
#include "train/engine_choice.hpp"

namespace bp::bench {

extern const char* const kGitCommit;  // cmake/git_commit.cmake, at build time

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

bool small_enough_for_reference(const Config& c) { return flops_per_sample(c.sizes) < 2e5; }

// A row's predicted µs/step, "-" where the cost model has none (reference); reports of older
// builds have no such field.
std::string predicted_text(const json& row) {
  const json& p = row.value("predicted_us_per_step", json());
  if (!p.is_number()) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", p.get<double>());
  return text;
}

// The row's backend, holding the configuration's network, with the images prepared as the
// trainer prepares them for a run (the CPU backend lists their nonzero pixels), outside the timed
// epochs.
std::unique_ptr<Backend> row_backend(const Config& c, const std::string& device, const Options& o,
                                     std::span<const DataView> views) {
  BackendOptions bo;
  bo.device = parse_device(device == "fused" ? "cuda" : device);
  bo.engine = device == "fused" ? GpuEngine::fused : device == "cuda" ? GpuEngine::cublas : GpuEngine::auto_select;
  bo.threads = o.threads;
  bo.quiet_fallback = true;
  bo.sizes = c.sizes;
  bo.batch = c.batch;
  std::unique_ptr<Backend> backend = make_backend(bo);
  backend->load(initialise(c.sizes, c.init, o.seed, output_layer(c.cost)));
  backend->prepare(views);
  return backend;
}

struct EpochTimes {
  std::vector<double> seconds;  // one per timed epoch (extrapolated: from its timed steps)
  size_t steps_timed = 0;
  bool extrapolated = false;
};

// A short probe decides between whole epochs (after a warm-up one) and, for an epoch longer than
// o.max_epoch_seconds, an extrapolation from as many steps of each epoch as fit in that time.
EpochTimes time_epochs(Backend& backend, const Config& c, const DataView& train, const Hyper& h, const Options& o) {
  const size_t n = train.count, steps = (n + c.batch - 1) / c.batch;
  std::vector<uint32_t> order = epoch_permutation(o.seed, 0, n);
  const size_t probe_steps = std::min<size_t>(steps, c.large ? 2 : 20);
  auto t0 = Clock::now();
  backend.train(train, std::span(order).first(std::min(n, probe_steps * c.batch)), c.batch, h);
  const double per_step = seconds(t0) / double(probe_steps);
  EpochTimes t;
  t.extrapolated = per_step * double(steps) > o.max_epoch_seconds;
  if (!t.extrapolated) {
    backend.train(train, order, c.batch, h);  // warm-up epoch
    for (size_t e = 1; e <= o.epochs; ++e) {
      order = epoch_permutation(o.seed, e, n);
      t0 = Clock::now();
      backend.train(train, order, c.batch, h);
      t.seconds.push_back(seconds(t0));
      t.steps_timed += steps;
    }
  } else {
    const size_t chunk = std::clamp<size_t>(size_t(o.max_epoch_seconds / double(o.epochs + 1) / per_step), 1, steps);
    for (size_t e = 1; e <= o.epochs; ++e) {
      order = epoch_permutation(o.seed, e, n);
      t0 = Clock::now();
      backend.train(train, std::span(order).first(chunk * c.batch), c.batch, h);
      t.seconds.push_back(seconds(t0) * double(steps) / double(chunk));
      t.steps_timed += chunk;
    }
  }
  return t;
}

// What --device auto's cost model (train/engine_choice.hpp) predicts for this row, to check it:
// {µs per step, basis}, nulls where it has none (reference).
std::pair<json, json> predicted_step(const Config& c, const std::string& device, const Options& o) {
  if (device != "cpu" && device != "cuda" && device != "fused") return {nullptr, nullptr};
  StepWorkload work;
  work.sizes = c.sizes;
  work.batch = c.batch;
  work.threads = capped_threads(o.threads, true);
  const EnginePrediction p = predict(device == "cpu"     ? Engine::cpu
                                     : device == "fused" ? Engine::fused
                                                         : Engine::cuda,
                                     work);
  return {p.us_per_step, p.basis};
}

// Times one configuration on one backend.
json time_row(const Config& c, const std::string& device, const DataView& train, const DataView& validation,
              const DataView& test, const Options& o) {
  const DataView views[] = {train, validation, test};
  std::unique_ptr<Backend> backend = row_backend(c, device, o, views);
  Hyper h;
  h.eta = c.eta;
  h.lambda = c.lambda;
  h.cost = c.cost;
  h.n = train.count;
  const size_t n = train.count, steps = (n + c.batch - 1) / c.batch;
  const EpochTimes times = time_epochs(*backend, c, train, h, o);
  auto t0 = Clock::now();
  const size_t correct = backend->evaluate(test).correct;
  const double eval_seconds = seconds(t0);
  // What a training run adds to each epoch: the validation and test sets evaluated.
  t0 = Clock::now();
  backend->evaluate(validation);
  backend->evaluate(test);
  const double epoch_eval_seconds = seconds(t0);

  const double med = median(times.seconds);
  const double flops = flops_per_sample(c.sizes) * double(n);
  const auto [predicted, predicted_basis] = predicted_step(c, device, o);
  return {{"config", c.name},
          {"backend", device},
          {"layers", format_layers(c.sizes)},
          {"batch", c.batch},
          {"threads", device == "cuda" || device == "fused" ? 0 : o.threads},
          {"epoch_seconds", med},
          {"epoch_seconds_min", *std::min_element(times.seconds.begin(), times.seconds.end())},
          {"epoch_seconds_max", *std::max_element(times.seconds.begin(), times.seconds.end())},
          {"epochs_timed", times.seconds.size()},
          {"steps_timed", times.steps_timed},
          {"extrapolated", times.extrapolated},
          {"microseconds_per_step", med / double(steps) * 1e6},
          {"predicted_us_per_step", predicted},
          {"predicted_basis", predicted_basis},
          {"samples_per_second", double(n) / med},
          {"gflop_per_epoch", flops / 1e9},
          {"gflops", flops / med / 1e9},
          {"eval_seconds", eval_seconds},
          {"epoch_eval_seconds", epoch_eval_seconds},
          {"test_accuracy", double(correct) / double(test.count)}};
}

}  // namespace

double flops_per_sample(const std::vector<size_t>& sizes) {
  double f = 0;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    f += 4.0 * double(sizes[l]) * double(sizes[l + 1]);             // forward and weight gradient
    if (l > 0) f += 2.0 * double(sizes[l]) * double(sizes[l + 1]);  // backward into hidden layer l
  }
  return f;
}

std::vector<Config> configurations(const std::vector<size_t>& widths) {
  std::vector<Config> c = {
      {"seed", {784, 15, 10}, 10, 3.0, 0.0, Cost::quadratic, Init::normal, false},
      {"nielsen", {784, 30, 10}, 10, 3.0, 0.0, Cost::quadratic, Init::normal, false},
      {"nielsen2", {784, 100, 10}, 10, 0.5, 5.0, Cost::cross_entropy, Init::scaled, false},
      {"wide", {784, 1024, 1024, 10}, 256, 0.5, 0.0, Cost::cross_entropy, Init::scaled, false},
      {"large", {784, 4096, 4096, 4096, 10}, 1024, 0.5, 0.0, Cost::cross_entropy, Init::scaled, true},
  };
  for (size_t w : widths)
    c.push_back({"width-" + std::to_string(w), {784, w, 10}, 10, 3.0, 0.0, Cost::quadratic, Init::normal, false});
  return c;
}

json run(const Dataset& full, bool synthetic_data, double load_seconds, const Options& o) {
  // The quick run trains on the first 10,000 images.
  const DataView train = o.quick ? full.train.slice(0, std::min<size_t>(full.train.count, 10000)) : full.train;

  std::vector<std::string> backends = o.backends;
  const CudaStatus cuda = cuda_status();
  if (backends.empty()) {
    if (cuda.usable && !cuda.emulated) {
      backends.push_back("fused");
      backends.push_back("cuda");
    }
    backends.push_back("cpu");
    backends.push_back("reference");
  }
  for (const std::string& b : backends) {
    if (b != "fused" && b != "cuda" && b != "cpu" && b != "reference")
      throw UsageError("--backends must list fused, cuda, cpu or reference, got '" + b + "'");
    const bool gpu = b == "cuda" || b == "fused";
    if (gpu && !cuda.usable) throw UsageError("--backends " + b + ": no usable CUDA device: " + cuda.reason);
    if (gpu && cuda.emulated)
      throw UsageError(
          "backprop bench: the CUDA emulation (test build) is not timed; build without "
          "-DBACKPROP_CUDA_EMU for benchmarks");
  }
  std::vector<Config> configs;
  for (const Config& c : configurations(o.widths)) {
    const bool wanted = o.configs.empty() ? (!o.quick || c.name == "seed" || c.name == "nielsen")
                                          : std::count(o.configs.begin(), o.configs.end(), c.name) > 0;
    if (wanted) configs.push_back(c);
  }
  for (const std::string& name : o.configs) {
    if (std::none_of(configs.begin(), configs.end(), [&](const Config& c) { return c.name == name; }))
      throw UsageError("--config " + name + ": no such configuration (seed, nielsen, nielsen2, wide, large, width-H)");
  }

  json report;
  report["version"] = "0.1.0";
  report["git_commit"] = kGitCommit;
  report["build"] = cuda.built ? "CUDA" : "CPU-only";
  report["cuda"] = cuda.report;
  report["gpu"] = nullptr;
  if (cuda.built)
    report["gpu"] = {{"name", cuda.gpu_name},
                     {"compute_capability", cuda.compute_capability},
                     {"usable", cuda.usable},
                     {"cuda_runtime", cuda.runtime_version},
                     {"cuda_driver", cuda.driver_version},
                     {"nvidia_driver", cuda.nvidia_driver}};
  report["cpu_model"] = cpu_model_name();
  report["cpu_kernel_path"] = cpu_path();
  report["cpu_gemm"] = cpu_gemm_description();
  report["load_seconds"] = load_seconds;
  report["hardware_threads"] = std::thread::hardware_concurrency();
  report["threads"] = o.threads;
  report["data"] = synthetic_data ? "synthetic" : "mnist";
  report["train_images"] = train.count;
  report["test_images"] = full.test.count;
  report["timed_epochs"] = o.epochs;
  report["ceilings"] = json::object();
  for (const std::string& b : backends) {
    if (b == "cpu") report["ceilings"]["cpu"] = cpu_ceilings(o.threads);
    if (b == "cuda") report["ceilings"]["cuda"] = cuda_ceilings();
  }
  report["rows"] = json::array();
  for (const Config& c : configs) {
    for (const std::string& b : backends) {
      if (b == "reference" && !small_enough_for_reference(c)) continue;
      if (b == "fused") {
        const std::string why_not = fused_engine_why_not(c.sizes, c.batch);
        if (!why_not.empty()) {
          std::fprintf(stderr, "bench: %s on fused: skipped: %s\n", c.name.c_str(), why_not.c_str());
          continue;
        }
      }
      std::fprintf(stderr, "bench: %s on %s...\n", c.name.c_str(), b.c_str());
      json row = time_row(c, b, train, full.validation, full.test, o);
      const json& ceiling = report["ceilings"].value(b, json::object());
      row["fraction_of_sgemm_ceiling"] = nullptr;
      if (ceiling.contains("sgemm_gflops"))
        row["fraction_of_sgemm_ceiling"] = row["gflops"].get<double>() / ceiling["sgemm_gflops"].get<double>();
      report["rows"].push_back(row);
    }
  }
  return report;
}

std::string table(const json& r) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "%-10s %-10s %-22s %5s %11s %13s %12s %9s %9s %8s %7s %9s %8s\n", "config",
                "backend", "layers", "batch", "s/epoch", "(min-max)", "samples/s", "us/step", "predicted", "GFLOP/s",
                "ceil%", "accuracy", "eval s");
  out << line;
  for (const json& row : r["rows"]) {
    char spread[64];
    std::snprintf(spread, sizeof spread, "%.3g-%.3g", row["epoch_seconds_min"].get<double>(),
                  row["epoch_seconds_max"].get<double>());
    const json& frac = row["fraction_of_sgemm_ceiling"];
    char ceiling[16] = "      -";
    if (frac.is_number()) std::snprintf(ceiling, sizeof ceiling, "%6.1f%%", 100 * frac.get<double>());
    std::snprintf(line, sizeof line, "%-10s %-10s %-22s %5zu %10.4g%s %13s %12.0f %9.2f %9s %8.2f %7s %8.2f%% %8.3f\n",
                  row["config"].get<std::string>().c_str(), row["backend"].get<std::string>().c_str(),
                  row["layers"].get<std::string>().c_str(), row["batch"].get<size_t>(),
                  row["epoch_seconds"].get<double>(), row["extrapolated"].get<bool>() ? "*" : " ", spread,
                  row["samples_per_second"].get<double>(), row["microseconds_per_step"].get<double>(),
                  predicted_text(row).c_str(), row["gflops"].get<double>(), ceiling,
                  100 * row["test_accuracy"].get<double>(), row["epoch_eval_seconds"].get<double>());
    out << line;
  }
  for (const auto& [backend, c] : r["ceilings"].items()) {
    std::snprintf(line, sizeof line, "ceiling %-5s: SGEMM %s at %.1f GFLOP/s, memory copy %.1f GB/s\n", backend.c_str(),
                  c["sgemm_shape"].get<std::string>().c_str(), c["sgemm_gflops"].get<double>(),
                  c["copy_gbps"].get<double>());
    out << line;
  }
  out << "data: " << r["data"].get<std::string>() << ", " << r["train_images"].get<size_t>() << " training images; "
      << r["timed_epochs"].get<size_t>() << " timed epochs after a warm-up, median shown; * = extrapolated from "
      << "timed steps; accuracy on the test set after the timed epochs; eval s = validation + test evaluated once "
      << "(what each epoch of a run adds); predicted = --device auto's cost model, us/step\n"
      << "CPU: " << r["cpu_model"].get<std::string>() << "; kernels: " << r["cpu_gemm"].get<std::string>() << "\n";
  std::snprintf(line, sizeof line, "data loaded in %.3f s\n", r["load_seconds"].get<double>());
  out << line;
  return out.str();
}

std::string markdown(const json& r) {
  std::ostringstream out;
  out << "# backprop bench\n\n"
      << "- commit " << r["git_commit"].get<std::string>() << ", " << r["build"].get<std::string>() << " build\n"
      << "- CPU: " << r["cpu_model"].get<std::string>() << ", " << r["threads"].get<int>() << " thread(s) used of "
      << r["hardware_threads"].get<unsigned>() << "\n"
      << "- CPU kernels: " << r["cpu_gemm"].get<std::string>() << "\n"
      << "- " << r["cuda"].get<std::string>() << "\n"
      << "- data (" << r["data"].get<std::string>() << ") loaded in " << r["load_seconds"].get<double>() << " s\n\n"
      << "| config | backend | layers | batch | s/epoch (median) | min-max | samples/s | µs/step | predicted µs/step | "
         "GFLOP/s | of SGEMM ceiling | test accuracy | eval s/epoch |\n"
      << "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  char line[512];
  for (const json& row : r["rows"]) {
    const json& frac = row["fraction_of_sgemm_ceiling"];
    char ceiling[16] = "-";
    if (frac.is_number()) std::snprintf(ceiling, sizeof ceiling, "%.1f%%", 100 * frac.get<double>());
    std::snprintf(line, sizeof line,
                  "| %s | %s | %s | %zu | %.4g%s | %.3g-%.3g | %.0f | %.2f | %s | %.2f | %s | %.2f%% | %.3f |\n",
                  row["config"].get<std::string>().c_str(), row["backend"].get<std::string>().c_str(),
                  row["layers"].get<std::string>().c_str(), row["batch"].get<size_t>(),
                  row["epoch_seconds"].get<double>(), row["extrapolated"].get<bool>() ? " (extrapolated)" : "",
                  row["epoch_seconds_min"].get<double>(), row["epoch_seconds_max"].get<double>(),
                  row["samples_per_second"].get<double>(), row["microseconds_per_step"].get<double>(),
                  predicted_text(row).c_str(), row["gflops"].get<double>(), ceiling,
                  100 * row["test_accuracy"].get<double>(), row["epoch_eval_seconds"].get<double>());
    out << line;
  }
  out << "\n";
  for (const auto& [backend, c] : r["ceilings"].items()) {
    std::snprintf(line, sizeof line, "Ceiling (%s): SGEMM %s at %.1f GFLOP/s; memory copy %.1f GB/s.\n",
                  backend.c_str(), c["sgemm_shape"].get<std::string>().c_str(), c["sgemm_gflops"].get<double>(),
                  c["copy_gbps"].get<double>());
    out << line;
  }
  return out.str();
}

}  // namespace bp::bench
