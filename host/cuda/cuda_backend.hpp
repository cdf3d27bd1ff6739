// The CUDA backend's public face. In a build without the CUDA toolkit, cuda_stub.cpp provides
// these and reports that CUDA is not built in.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "model/backend.hpp"
#include "model/step.hpp"

namespace bp {

struct CudaStatus {
  bool built = false;     // this binary has the CUDA backend
  bool usable = false;    // and a device answered
  bool emulated = false;  // the device is the CUDA emulation of the test build (-DBACKPROP_CUDA_EMU=ON)
  std::string reason;     // why not usable, one sentence
  std::string report;     // runtime/driver versions and one line per device (for `backprop info`)
  // The same, field by field, for the benchmark's JSON (empty where unknown).
  std::string runtime_version, driver_version;  // CUDA runtime and the CUDA version the driver supports
  std::string nvidia_driver;                    // the kernel driver's version, as nvidia-smi shows it
  std::string gpu_name, compute_capability;     // GPU 0
};

CudaStatus cuda_status();

// A large cuBLAS SGEMM's rate and a device-to-device copy's bandwidth (bytes read plus written),
// for the benchmark's ceilings. measured is false in builds without CUDA.
struct CudaCeilings {
  bool measured = false;
  double sgemm_gflops = 0, copy_gbps = 0;
  std::string sgemm_shape;
};
CudaCeilings measure_cuda_ceilings();

// Columns of the shared input the CUDA backend evaluates at once (for every network it holds).
constexpr size_t kCudaEvalChunk = 2000;
// Steps per captured CUDA graph (and so the backend's preferred steps per train call, resident).
constexpr size_t kCudaGraphSteps = 100;

// Device bytes one network of a group needs on the resident path (parameters, velocities, the
// scaled GEMMs' scratch, training and evaluation workspaces, its sample order for a chunk of
// `chunk` samples and the graphs' window of it), for the memory check before a group is allocated.
inline size_t cuda_device_bytes(const std::vector<size_t>& sizes, size_t batch, bool momentum, size_t chunk) {
  const StepLayout train = step_layout(sizes, batch), eval = step_layout(sizes, kCudaEvalChunk, 1, true);
  const size_t floats = train.param_stride * (momentum ? 3 : 2) + train.work_stride + eval.work_stride;
  return floats * sizeof(float) + (chunk + kCudaGraphSteps * batch) * sizeof(uint32_t) + batch + 64;
}

// Free device memory in bytes (0 without a usable device).
size_t cuda_free_memory();

// How the CUDA backend runs a chunk of steps: cuBLAS and small kernels, one launch per line of the
// step (replayed from CUDA graphs), or the fused engine: one launch for the whole chunk, each
// network's parameters held in one thread block's shared memory (kernels/fused_step.cuh).
// Evaluation, gradients and everything else are the same for both.
enum class CudaEngine { cublas, fused };

// Empty where the fused engine can train this network at this mini-batch on the current device;
// else why not, in one sentence (too large for a block's shared memory, no usable device, ...).
std::string fused_engine_why_not(const std::vector<size_t>& sizes, size_t batch);

// Throws UsageError with the reason when no usable device exists. graphs = false runs every
// step eagerly (the resident path otherwise replays CUDA graphs; the tests compare the two).
// The fused engine keeps the data on the device (streamed must be false).
std::unique_ptr<Backend> make_cuda_backend(bool streamed, bool graphs = true, CudaEngine engine = CudaEngine::cublas);

}  // namespace bp
