// Choosing a backend: --device auto takes the engine engine_choice.hpp predicts fastest, and
// falls back to the CPU with a one-line notice where no GPU is usable.
#include "train/backend_factory.hpp"

#include <algorithm>
#include <iostream>
#include <thread>

#include "base/error.hpp"
#include "cpu/cpu_backend.hpp"
#include "cuda/cuda_backend.hpp"
#include "reference/reference.hpp"
#include "train/engine_choice.hpp"

namespace bp {

Device parse_device(const std::string& text) {
  if (text == "auto") return Device::auto_select;
  if (text == "cpu") return Device::cpu;
  if (text == "cuda") return Device::cuda;
  if (text == "reference") return Device::reference;
  throw UsageError("--device must be auto, cpu, cuda or reference, got '" + text + "'");
}

GpuEngine parse_engine(const std::string& text) {
  if (text == "auto") return GpuEngine::auto_select;
  if (text == "cublas") return GpuEngine::cublas;
  if (text == "fused") return GpuEngine::fused;
  throw UsageError("--engine must be auto, cublas or fused, got '" + text + "'");
}

int capped_threads(int requested, bool quiet) {
  const int hardware = int(std::max(1u, std::thread::hardware_concurrency()));
  if (requested <= hardware) return requested;
  if (!quiet)
    std::cerr << "notice: --threads " << requested << " is more than the " << hardware << " hardware threads; using "
              << hardware << "\n";
  return hardware;
}

namespace {

std::unique_ptr<Backend> make_cpu(const BackendOptions& options) {
  if (options.streamed && !options.quiet_fallback)
    std::cerr << "notice: --streamed applies to the CUDA backend only; ignored on the CPU\n";
  return make_cpu_backend(capped_threads(options.threads, options.quiet_fallback));
}

const char* engine_flag(GpuEngine e) {
  return e == GpuEngine::fused ? "fused" : e == GpuEngine::cublas ? "cublas" : "auto";
}

// Where the fused engine cannot hold the network (empty where it can, or where nothing is known
// of the workload to check).
std::string fused_why_not(const std::vector<size_t>& sizes, size_t batch, bool streamed) {
  if (streamed) return "--streamed takes the cuBLAS engine";
  if (sizes.size() < 2 || batch == 0) return "";
  return fused_engine_why_not(sizes, batch);
}

// --device cuda: the engine asked for, or with --engine auto the one predicted faster.
std::unique_ptr<Backend> make_gpu(const BackendOptions& o) {
  // Without a usable device make_cuda_backend says so in one line, whatever the engine.
  if (!cuda_status().usable) return make_cuda_backend(o.streamed);
  const GpuEngineChoice c = choose_gpu_engine(o.engine, o.sizes, o.batch, o.streamed);
  if (!c.notice.empty() && !o.quiet_fallback) std::cerr << "notice: " << c.notice << "\n";
  return make_cuda_backend(o.streamed, true, c.engine);
}

}  // namespace

GpuEngineChoice choose_gpu_engine(GpuEngine requested, const std::vector<size_t>& sizes, size_t batch, bool streamed) {
  if (requested == GpuEngine::cublas) return {CudaEngine::cublas, ""};
  const std::string why_not = fused_why_not(sizes, batch, streamed);
  if (requested == GpuEngine::fused) {
    if (!why_not.empty()) throw UsageError("--engine fused: " + why_not + "; --engine cublas trains it");
    return {CudaEngine::fused, ""};
  }
  const StepWorkload work{sizes, batch, 1};
  if (!why_not.empty()) return {CudaEngine::cublas, streamed ? "" : "training with cuBLAS: " + why_not};
  if (!work.known()) return {CudaEngine::cublas, ""};
  EngineAvailability gpu_only;
  gpu_only.cpu = false;
  gpu_only.cuda = gpu_only.fused = true;
  const EngineChoice choice = choose_engine(work, gpu_only);
  return {choice.engine == Engine::fused ? CudaEngine::fused : CudaEngine::cublas, "--engine auto: " + choice.reason};
}

std::unique_ptr<Backend> make_backend(const BackendOptions& options) {
  if (options.engine != GpuEngine::auto_select &&
      (options.device == Device::cpu || options.device == Device::reference))
    throw UsageError(std::string("--engine ") + engine_flag(options.engine) + " chooses how the GPU trains; --device " +
                     (options.device == Device::cpu ? "cpu" : "reference") + " has no GPU engine");
  switch (options.device) {
    case Device::cpu: return make_cpu(options);
    case Device::reference: return reference::make_backend();
    case Device::cuda: return make_gpu(options);
    case Device::auto_select: break;
  }
  const CudaStatus status = cuda_status();
  if (!status.usable) {
    if (!options.quiet_fallback) {
      if (status.built)
        std::cerr << "notice: no usable CUDA device (" << status.reason << "); using the CPU\n";
      else
        std::cerr << "notice: this build has no CUDA support; using the CPU\n";
    }
    return make_cpu(options);
  }
  EngineAvailability available;
  available.cuda = !status.emulated && options.engine != GpuEngine::fused;
  available.cuda_emulated = status.emulated;
  // The fused engine where the workload is known and fits it (never on the emulated device).
  available.fused = !status.emulated && options.engine != GpuEngine::cublas && options.sizes.size() >= 2 &&
                    options.batch > 0 && fused_why_not(options.sizes, options.batch, options.streamed).empty();
  StepWorkload work;
  work.sizes = options.sizes;
  work.batch = options.batch;
  work.threads = capped_threads(options.threads, true);
  const EngineChoice choice = choose_engine(work, available);
  // Without a workload a real GPU is taken silently, as before the cost model.
  const bool say = !options.quiet_fallback && (work.known() || status.emulated);
  if (choice.engine == Engine::cuda || choice.engine == Engine::fused) {
    try {
      std::unique_ptr<Backend> backend = choice.engine == Engine::fused
                                             ? make_cuda_backend(false, true, CudaEngine::fused)
                                             : make_cuda_backend(options.streamed);
      if (say) std::cerr << "notice: --device auto: " << choice.reason << "\n";
      return backend;
    } catch (const Error& e) {
      if (!options.quiet_fallback)
        std::cerr << "notice: CUDA failed to start (" << e.what() << "); training on the CPU\n";
      return make_cpu(options);
    }
  }
  if (say) std::cerr << "notice: --device auto: " << choice.reason << "\n";
  return make_cpu(options);
}

}  // namespace bp
