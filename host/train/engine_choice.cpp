// See engine_choice.hpp.
#include "train/engine_choice.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <thread>

#include "base/error.hpp"
#include "cuda/cuda_backend.hpp"

namespace bp {

namespace {

int hardware_threads() { return int(std::max(1u, std::thread::hardware_concurrency())); }

// "6", "36", "5.8", "230000": microseconds as a reader wants them.
std::string microseconds(double us) {
  char text[32];
  std::snprintf(text, sizeof text, us < 9.95 ? "%.1f" : "%.0f", us);
  return text;
}

// "197 kFLOP", "6.66 GFLOP", "15 TFLOP/s" (unit "FLOP" or "FLOP/s").
std::string scaled(double x, const char* unit) {
  const char* prefix = "";
  for (const char* p : {"k", "M", "G", "T"}) {
    if (x < 1000) break;
    x /= 1000;
    prefix = p;
  }
  char text[48];
  std::snprintf(text, sizeof text, "%.3g %s%s", x, prefix, unit);
  return text;
}

}  // namespace

const char* engine_name(Engine engine) {
  switch (engine) {
    case Engine::cpu: return "cpu";
    case Engine::cuda: return "cuda";
    case Engine::fused: return "fused";
  }
  return "?";
}

EngineAvailability available_engines() {
  const CudaStatus status = cuda_status();
  EngineAvailability a;
  a.cuda_emulated = status.usable && status.emulated;
  a.cuda = status.usable && !status.emulated;
  a.fused = a.cuda;  // whether it holds a given network is the workload's question (fused_engine_why_not)
  return a;
}

double step_flops(const std::vector<size_t>& sizes, size_t batch, const CostFigures& figures) {
  double f = 0;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    const double mn = double(sizes[l]) * double(sizes[l + 1]);
    f += l == 0 ? 4.0 * mn * figures.input_density : 4.0 * mn;  // forward and weight gradient
    if (l > 0) f += 2.0 * mn;                                   // backward into hidden layer l
  }
  return f * double(batch);
}

double batch_density(size_t m) {
  static const double at[][2] = {{1, 0.19}, {10, 0.49}, {30, 0.58}, {100, 0.66}};
  const double x = std::log(double(std::max<size_t>(m, 1)));
  for (size_t i = 1; i < std::size(at); ++i) {
    const double x0 = std::log(at[i - 1][0]), x1 = std::log(at[i][0]);
    if (x <= x1) return at[i - 1][1] + (at[i][1] - at[i - 1][1]) * (x - x0) / (x1 - x0);
  }
  return at[std::size(at) - 1][1];
}

// Each term follows a loop of fused_step.cu: its trip count times the instructions of one trip.
// At the mini-batch the kernel is compiled for (10) a unit's samples are read as float4s and its
// deltas held in registers; at any other, G samples at a time, one load each.
double fused_instructions(const std::vector<size_t>& sizes, size_t m, double density) {
  constexpr double G = 5;  // kFusedSampleGroup
  const double batch = double(m);
  const bool compiled = m == 10;  // kFusedCompiledBatch
  const double vectors = std::ceil(batch / 4);
  double n = double(sizes[0]) * batch * 8;  // gather: address, load, convert, store per pixel and sample
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    const double weights = double(sizes[l]) * double(sizes[l + 1]), share = l == 0 ? density : 1.0;
    // forward, per input: the zero-input test (2), then where live a weight, the samples and
    // their FMAs, and 3 of loop
    n += weights * (compiled ? 2 + share * (4 + vectors + batch) : std::ceil(batch / G) * (2 + share * (4 + 2 * G)));
    // update, per weight: where the input is live the samples (and, uncompiled, the deltas) and
    // the FMAs; 7 to test, read, scale and write the weight
    n += weights * (7 + share * (compiled ? vectors + batch : 3 * batch));
    if (l > 0) n += weights * batch * 3;  // backward: a weight, a delta and an FMA per term
  }
  return n;
}

size_t cuda_nodes_per_step(const std::vector<size_t>& sizes) {
  const size_t layers = sizes.size() < 2 ? 0 : sizes.size() - 1;
  return 6 * layers;
}

EnginePrediction predict(Engine engine, const StepWorkload& work, const CostFigures& figures) {
  if (!work.known()) throw Error("predict: the workload needs the network's sizes and the mini-batch size");
  EnginePrediction p;
  p.engine = engine;
  const std::string batch = "mini-batch " + std::to_string(work.batch);
  switch (engine) {
    case Engine::cpu: {
      // The CPU's FLOPs count the first layer's at the input density: its kernels skip zero pixels.
      const double flops = step_flops(work.sizes, work.batch, figures);
      const int threads = work.threads > 0 ? work.threads : hardware_threads();
      const int helping = int(std::clamp(flops / figures.cpu_flops_per_thread, 1.0, double(threads)));
      const double rate = figures.cpu_gflops_per_core * 1e3 * helping;  // FLOP per µs
      p.us_per_step = figures.cpu_overhead_us + flops / rate;
      p.basis = scaled(flops, "FLOP") + " per step at " + scaled(rate * 1e6, "FLOP/s") + " on " +
                std::to_string(helping) + (helping == 1 ? " thread" : " threads") + ", " + batch;
      return p;
    }
    case Engine::cuda: {
      // cuBLAS does every pixel: dense FLOPs.
      CostFigures dense = figures;
      dense.input_density = 1;
      const double flops = step_flops(work.sizes, work.batch, dense);
      const double rate = figures.cuda_sgemm_gflops * figures.cuda_sgemm_fraction * 1e3;  // FLOP per µs
      const size_t nodes = cuda_nodes_per_step(work.sizes);
      const double launches = double(nodes) * figures.cuda_us_per_node, arithmetic = flops / rate;
      p.us_per_step = std::max(launches, arithmetic);
      p.basis = launches >= arithmetic
                    ? std::to_string(nodes) + " dependent launches per step at " + batch
                    : scaled(flops, "FLOP") + " per step at " + scaled(rate * 1e6, "FLOP/s") + ", " + batch;
      return p;
    }
    case Engine::fused: {
      const size_t layers = work.sizes.size() - 1;
      const double density = batch_density(work.batch);
      const double instructions = fused_instructions(work.sizes, work.batch, density);
      const double barriers = double(3 * layers + 3);  // fused_step.cu: 2, 2L forward, 1, L - 1 backward, 1
      const double cycles = instructions / figures.sm_lanes_per_cycle + barriers * figures.fused_barrier_cycles;
      p.us_per_step = cycles / (figures.gpu_clock_ghz * 1e3) + figures.fused_gather_us;
      char text[160];
      std::snprintf(text, sizeof text, "%.3g thread instructions and %.0f barriers per step on one SM, %s",
                    instructions, barriers, batch.c_str());
      p.basis = text;
      return p;
    }
  }
  throw Error("predict: unknown engine");
}

EngineChoice choose_engine(const StepWorkload& work, const EngineAvailability& available, const CostFigures& figures) {
  EngineChoice c;
  const std::string emulation = "the CUDA device is the test build's emulation, which auto never chooses";
  if (!work.known()) {
    c.engine = available.cuda ? Engine::cuda : Engine::cpu;
    c.reason = std::string(engine_name(c.engine)) +
               (available.cuda_emulated ? " (" + emulation + ")" : " (no workload to predict from)");
    return c;
  }
  std::vector<Engine> candidates;
  if (available.cpu || (!available.cuda && !available.fused)) candidates.push_back(Engine::cpu);
  if (available.cuda) candidates.push_back(Engine::cuda);
  if (available.fused) candidates.push_back(Engine::fused);
  for (Engine e : candidates) c.predictions.push_back(predict(e, work, figures));
  std::stable_sort(c.predictions.begin(), c.predictions.end(),
                   [](const EnginePrediction& a, const EnginePrediction& b) { return a.us_per_step < b.us_per_step; });
  const EnginePrediction& best = c.predictions.front();
  c.engine = best.engine;
  c.reason = std::string(engine_name(best.engine)) + " (predicted " + microseconds(best.us_per_step) + " µs/step";
  if (c.predictions.size() == 1) {
    c.reason += ": " + best.basis + (available.cuda_emulated ? "; " + emulation : "; no other engine") + ")";
    return c;
  }
  for (size_t i = 1; i < c.predictions.size(); ++i) {
    const EnginePrediction& other = c.predictions[i];
    c.reason += (i == 1 ? " against " : "; ") + microseconds(other.us_per_step) + " µs/step for " +
                engine_name(other.engine) + ": " + other.basis;
  }
  c.reason += ")";
  return c;
}

}  // namespace bp
