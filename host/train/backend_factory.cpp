// Choosing a backend: --device auto prefers a usable CUDA device and otherwise falls back to the
// CPU with a one-line notice.
#include "train/backend_factory.hpp"

#include <algorithm>
#include <iostream>
#include <thread>

#include "cpu/cpu_backend.hpp"
#include "cuda/cuda_backend.hpp"
#include "base/error.hpp"
#include "reference/reference.hpp"

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
  if (status.usable) {
    try {
      return make_cuda_backend(options.streamed);
    } catch (const Error& e) {
      if (!options.quiet_fallback) std::cerr << "notice: CUDA failed to start (" << e.what() << "); training on the CPU\n";
      return make_cpu(options);
    }
  }
  if (!options.quiet_fallback) {
    if (status.built)
      std::cerr << "notice: no usable CUDA device (" << status.reason << "); using the CPU\n";
    else
      std::cerr << "notice: this build has no CUDA support; using the CPU\n";
  }
  return make_cpu(options);
}

}  // namespace bp
