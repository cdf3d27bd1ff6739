// --device auto's cost model: a prediction of the microseconds one SGD step takes on each engine,
// from the network's sizes, the mini-batch size and the CPU threads, and the choice of the
// fastest engine this machine has.
//
//   cpu   fixed overhead per step + the step's FLOPs / (a measured per-core rate x the threads
//         that help). FLOPs as bench's flops_per_sample (forward and weight gradient of every
//         layer, backward into every hidden layer: about 6 x parameters x batch), with the first
//         layer's counted at the share of nonzero inputs, since the CPU kernels skip zero pixels
//         (about 19% of MNIST's are nonzero). Extra threads help only steps of at least
//         cpu_flops_per_thread FLOPs per thread (the sparse kernels at mini-batch 10 run on one).
//   cuda  the cuBLAS path replayed from CUDA graphs: its dependent nodes per step (cuda_nodes_
//         per_step, 12 for 784-30-10) x a per-node floor, or the FLOPs at an effective SGEMM
//         rate, whichever is larger.
//   fused the persistent kernel of kernels/fused_step.cu, one thread block per network: its
//         thread instructions per step counted from the kernel's loops (fused_instructions),
//         issued at one SM's 4 x 32 lanes per cycle, plus its barriers and the batch's gather
//         from L2 (docs/fused-engine.md derives it). First-layer inputs count at the share of
//         pixels nonzero in some image of the batch (MNIST: 19% at 1, 49% at 10), which the
//         kernel skips.
//
// The CPU figures were measured on this project's machine (CostFigures); the GPU figures are
// estimates until `backprop bench` on the first GPU, which reports each row's prediction beside
// the measured µs/step, checks them. The emulated CUDA device of the test build is never chosen.
#pragma once

#include <string>
#include <vector>

namespace bp {

enum class Engine { cpu, cuda, fused };

const char* engine_name(Engine engine);

// One SGD step's shape.
struct StepWorkload {
  std::vector<size_t> sizes;  // layer widths, inputs first
  size_t batch = 0;           // mini-batch size
  int threads = 1;            // CPU threads; 0 = every hardware thread
  bool known() const { return sizes.size() >= 2 && batch > 0; }
};

// The figures the predictions rest on.
struct CostFigures {
  // CPU: fitted to `backprop bench --backends cpu --threads 1` on one core of an AMD EPYC (Zen 5,
  // AVX-512; BLIS SGEMM 32 GFLOP/s there): 784-15-10, 784-30-10, 784-100-10, 784-300-10 and
  // 784-1000-10 at mini-batch 10 measured 4.2, 4.3, 24, 45 and 164 µs/step, 784-1024-1024-10 at
  // 256 73 ms; the fit predicts each within a factor 1.6 (784-30-10: 6.6).
  double cpu_gflops_per_core = 35;  // sustained by the step's GEMMs, sparse first layer included
  double cpu_overhead_us = 1.0;     // per step: gathering and listing the batch, elementwise passes
  double input_density = 0.19;      // nonzero share of the first layer's inputs (MNIST's mean)
  // A thread beyond the first pays only for this much work per step (unmeasured: the 2-core
  // machine had no idle second core; --threads 2 there was slower at every size).
  double cpu_flops_per_thread = 2e7;
  // CUDA (cuBLAS graph path), estimates for an H200 until checked by `backprop bench` there.
  double cuda_us_per_node = 3.0;     // a dependent graph node's launch and drain
  double cuda_sgemm_gflops = 50000;  // a large cuBLAS SGEMM (H200: 67 TFLOP/s fp32 peak)
  double cuda_sgemm_fraction = 0.3;  // what the step's mid-size GEMMs get of it
  // Fused engine, estimates for an H200 (sm_90) until checked by `backprop bench` there.
  double gpu_clock_ghz = 1.98;        // H200 boost clock
  double sm_lanes_per_cycle = 128;    // 4 warp schedulers x 32 lanes issue per SM and cycle
  double fused_barrier_cycles = 100;  // a __syncthreads and the shared-memory latency before it
  double fused_gather_us = 0.4;       // a batch's reads from L2: about 3 dependent round trips
};

// The share of first-layer inputs that are nonzero in at least one of a batch's m images, from
// MNIST's training set (0.19 at m = 1, 0.49 at 10, 0.58 at 30, 0.66 at 100; log-linear between).
double batch_density(size_t m);

// Thread instructions of one fused step (kernels/fused_step.cu) for `sizes` at mini-batch m,
// first-layer inputs at `density`.
double fused_instructions(const std::vector<size_t>& sizes, size_t m, double density);

// What this machine can train on. cuda_emulated: the device that answered is the test build's
// emulation (never chosen by auto).
struct EngineAvailability {
  bool cpu = true;
  bool cuda = false;
  bool cuda_emulated = false;
  bool fused = false;  // the fused engine holds this network (cuda_backend.hpp's fused_engine_why_not)
};
EngineAvailability available_engines();  // from cuda_status(); fused wherever cuda is

// FLOPs of one step (multiply-add = 2), the first layer's at figures.input_density.
double step_flops(const std::vector<size_t>& sizes, size_t batch, const CostFigures& figures = {});

// Dependent operations of one plain SGD step of update_mini_batch (model/step.hpp) plus the
// gather, for L = sizes.size() - 1 layers: 1 gather + 2L forward (GEMM, activation) + 1 output
// delta + 2(L-1) backward (GEMM, hidden delta) + 2L update (GEMM, row sums) = 6L; 12 for
// 784-30-10. Momentum adds one axpy (and one per layer with L2 decay); the model leaves them out.
size_t cuda_nodes_per_step(const std::vector<size_t>& sizes);

struct EnginePrediction {
  Engine engine = Engine::cpu;
  double us_per_step = 0;
  std::string basis;  // the numbers behind it, e.g. "12 dependent launches per step at mini-batch 10"
};

EnginePrediction predict(Engine engine, const StepWorkload& work, const CostFigures& figures = {});

struct EngineChoice {
  Engine engine = Engine::cpu;
  std::vector<EnginePrediction> predictions;  // each available engine's, the chosen one first
  std::string reason;  // one line: "cpu (predicted 6 µs/step against 36 µs/step for cuda: ...)"
};

// The fastest available engine for `work`; the CPU is always available. With no known workload
// (no sizes or batch) a usable, real GPU is taken, as before this model. An emulated device is
// never chosen.
EngineChoice choose_engine(const StepWorkload& work, const EngineAvailability& available,
                           const CostFigures& figures = {});

}  // namespace bp
