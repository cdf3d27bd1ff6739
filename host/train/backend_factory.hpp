// Choosing a backend from the command line's --device: auto takes the engine the cost model of
// engine_choice.hpp predicts fastest for the network and mini-batch, and says why in one line.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cuda/cuda_backend.hpp"
#include "model/backend.hpp"

namespace bp {

enum class Device { auto_select, cpu, cuda, reference };

// How the GPU trains (cuda_backend.hpp's CudaEngine), or auto: the one the cost model predicts
// faster. An explicit engine also narrows --device auto's choice to it and the CPU.
enum class GpuEngine { auto_select, cublas, fused };

struct BackendOptions {
  Device device = Device::auto_select;
  int threads = 0;        // CPU threads; 0 = all cores
  bool streamed = false;  // CUDA: stream minibatches from pinned host memory
  GpuEngine engine = GpuEngine::auto_select;
  bool quiet_fallback = false;  // auto: print neither the choice's line nor a fallback's notice
  // auto: the step the backend will train, for the cost model (engine_choice.hpp). Unknown
  // (empty, 0) where the caller does not train, e.g. evaluation: auto then takes a real GPU.
  std::vector<size_t> sizes;  // layer widths, inputs first
  size_t batch = 0;           // mini-batch size
};

// Makes the backend the options ask for. auto takes the engine predicted fastest for sizes and
// batch (never the test build's emulated device) and prints one line on stderr naming it and the
// predicted µs/step of each engine; without a usable GPU, the CPU with a one-line notice. cuda
// without a usable device throws UsageError; so does --engine fused for a network it cannot hold
// (--engine auto then takes cuBLAS and says why in one line).
std::unique_ptr<Backend> make_backend(const BackendOptions& options);

// The CUDA engine --engine `requested` takes for this workload (sizes and batch; empty, 0 where
// unknown): cublas or fused as asked (fused on a network it cannot hold throws UsageError), or
// with auto the fused engine where it holds the network and the cost model predicts it faster.
// `notice` is the one line worth saying about an auto choice ("" for none). Needs a usable device.
struct GpuEngineChoice {
  CudaEngine engine = CudaEngine::cublas;
  std::string notice;
};
GpuEngineChoice choose_gpu_engine(GpuEngine requested, const std::vector<size_t>& sizes, size_t batch, bool streamed);

Device parse_device(const std::string& text);
GpuEngine parse_engine(const std::string& text);

// `requested` CPU threads, at most the hardware threads (more only time-slice one core among
// many OS threads); says so on stderr unless `quiet`. 0 (all cores) stays 0.
int capped_threads(int requested, bool quiet = false);

}  // namespace bp
