// Whether this machine has a CUDA device the binary can use, and a report of the runtime,
// driver and devices for `backprop info`. A machine without a driver is an ordinary answer.
#include <cstdio>
#include <fstream>

#include "cuda/cuda_status.hpp"

#include "cuda/cuda_backend.hpp"
#include "kernels/step_kernels.cuh"

namespace bp {

std::string device_unusable_reason(const std::string& call, cudaError_t status) {
  std::string reason = call + " failed: " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
  if (status == cudaErrorNoKernelImageForDevice || status == cudaErrorInvalidDeviceFunction ||
      status == cudaErrorUnsupportedPtxVersion)
    reason += "; this binary has no code for GPU 0: rebuild with -DCMAKE_CUDA_ARCHITECTURES=native";
  return reason;
}

namespace {

std::string version_text(int v) { return v ? std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10) : "none"; }

// The NVIDIA kernel driver's version (as nvidia-smi shows it), from the kernel module's report;
// empty where that file is absent.
std::string kernel_driver_version() {
  std::ifstream in("/proc/driver/nvidia/version");
  std::string line;
  if (!std::getline(in, line)) return "";
  const size_t module = line.find("Kernel Module");
  if (module == std::string::npos) return "";
  const size_t begin = line.find_first_not_of(' ', module + 13);
  if (begin == std::string::npos) return "";
  return line.substr(begin, line.find(' ', begin) - begin);
}

CudaStatus probe() {
  CudaStatus s;
  s.built = true;
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  s.runtime_version = version_text(runtime);
  s.driver_version = version_text(driver);
  s.nvidia_driver = kernel_driver_version();
  s.report = "CUDA runtime " + s.runtime_version + ", driver " + s.driver_version +
             (s.nvidia_driver.empty() ? "" : " (NVIDIA driver " + s.nvidia_driver + ")");
#if defined(BACKPROP_CUDA_EMULATION)
  // The test build's device (tests/cuda_emu): named as such wherever the device is reported.
  s.emulated = true;
  s.runtime_version = s.driver_version = "emulation";
  s.nvidia_driver.clear();
  s.report = "CUDA emulation (test build): the CUDA code runs on the host, for tests; not a GPU";
#endif
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
    std::snprintf(line, sizeof line,
                  "\nGPU %d: %s, compute capability %d.%d, %d SMs, %.1f GiB, %zu KiB shared memory per SM", d, p.name,
                  p.major, p.minor, p.multiProcessorCount, double(p.totalGlobalMem) / (1u << 30),
                  p.sharedMemPerMultiprocessor / 1024);
    s.report += line;
    if (d == 0) {
      s.gpu_name = p.name;
      s.compute_capability = std::to_string(p.major) + "." + std::to_string(p.minor);
    }
  }
  cudaError_t failed = cudaSetDevice(0);
  if (failed != cudaSuccess) {
    cudaGetLastError();
    s.reason = device_unusable_reason("cudaSetDevice(0)", failed);
    return s;
  }
  failed = kernels::check_kernel_image();
  if (failed != cudaSuccess) {
    cudaGetLastError();
    s.reason = device_unusable_reason("the kernel-image probe", failed);
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
