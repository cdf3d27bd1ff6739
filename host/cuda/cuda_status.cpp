// Whether this machine has a CUDA device the binary can use, and a report of the runtime,
// driver and devices for `backprop info`. A machine without a driver is an ordinary answer.
#include <cstdio>

#include "kernels/step_kernels.cuh"
#include "cuda/cuda_backend.hpp"

namespace bp {
namespace {

std::string version_text(int v) { return v ? std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10) : "none"; }

CudaStatus probe() {
  CudaStatus s;
  s.built = true;
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  s.report = "CUDA runtime " + version_text(runtime) + ", driver " + version_text(driver);
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    s.reason = std::string(cudaGetErrorString(status)) + " (" + cudaGetErrorName(status) + ")";
    cudaGetLastError();
    return s;
  }
  if (count == 0) {
    s.reason = "no CUDA devices found";
    return s;
  }
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, d) != cudaSuccess) continue;
    char line[512];
    std::snprintf(line, sizeof line, "\nGPU %d: %s, compute capability %d.%d, %d SMs, %.1f GiB, %zu KiB shared memory per SM",
                  d, p.name, p.major, p.minor, p.multiProcessorCount, double(p.totalGlobalMem) / (1u << 30),
                  p.sharedMemPerMultiprocessor / 1024);
    s.report += line;
  }
  if (cudaSetDevice(0) != cudaSuccess || kernels::check_kernel_image() != cudaSuccess) {
    cudaGetLastError();
    s.reason = "this binary has no code for GPU 0; rebuild with -DCMAKE_CUDA_ARCHITECTURES=native";
    return s;
  }
  s.usable = true;
  return s;
}

}  // namespace

CudaStatus cuda_status() {
  static const CudaStatus status = probe();
  return status;
}

}  // namespace bp
