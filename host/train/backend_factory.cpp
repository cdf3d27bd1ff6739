// Choosing a backend: --device auto takes the engine engine_choice.hpp predicts fastest, and
// falls back to the CPU with a one-line notice where no GPU is usable.
#include "train/backend_factory.hpp"

#include <algorithm>
#include <iostream>
#include <thread>

#include "cpu/cpu_backend.hpp"
#include "cuda/cuda_backend.hpp"
#include "base/error.hpp"
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

int capped_threads(int requested, bool quiet) {
  const int hardware = int(std::max(1u, std::thread::hardware_concurrency()));
  if (requested <= hardware) return requested;
  if (!quiet) std::cerr << "notice: --threads " << requested << " is more than the " << hardware
                        << " hardware threads; using " << hardware << "\n";
  return hardware;
}

namespace {

std::unique_ptr<Backend> make_cpu(const BackendOptions& options) {
  if (options.streamed && !options.quiet_fallback)
    std::cerr << "notice: --streamed applies to the CUDA backend only; ignored on the CPU\n";
  return make_cpu_backend(capped_threads(options.threads, options.quiet_fallback));
}

}  // namespace

std::unique_ptr<Backend> make_backend(const BackendOptions& options) {
  switch (options.device) {
    case Device::cpu:
      return make_cpu(options);
    case Device::reference:
      return reference::make_backend();
    case Device::cuda:
      return make_cuda_backend(options.streamed);
    case Device::auto_select:
      break;
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
  available.cuda = !status.emulated;
  available.cuda_emulated = status.emulated;
  StepWorkload work;
  work.sizes = options.sizes;
  work.batch = options.batch;
  work.threads = capped_threads(options.threads, true);
  const EngineChoice choice = choose_engine(work, available);
  // Without a workload a real GPU is taken silently, as before the cost model.
  const bool say = !options.quiet_fallback && (work.known() || status.emulated);
  if (choice.engine == Engine::cuda) {
    try {
      std::unique_ptr<Backend> backend = make_cuda_backend(options.streamed);
      if (say) std::cerr << "notice: --device auto: " << choice.reason << "\n";
      return backend;
    } catch (const Error& e) {
      if (!options.quiet_fallback) std::cerr << "notice: CUDA failed to start (" << e.what() << "); training on the CPU\n";
      return make_cpu(options);
    }
  }
  if (say) std::cerr << "notice: --device auto: " << choice.reason << "\n";
  return make_cpu(options);
}

}  // namespace bp
