// The batched CUDA backend's public face (cuda_stub.cpp stands in where the toolkit is missing):
// K networks of one shape resident on the device, stepped together by model/batched_step.hpp
// over CudaBatchedOps.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "model/batched_backend.hpp"
#include "model/batched_step.hpp"

namespace bp {

// Columns of the shared input the batched CUDA backend evaluates at once.
constexpr size_t kBatchedEvalChunk = 2000;
// Batched steps per captured CUDA graph (and so the backend's preferred steps per train call).
constexpr size_t kBatchedGraphSteps = 100;

// Device bytes one network of the group needs (parameters, velocities, the scaled GEMMs' scratch,
// training and evaluation workspaces, its sample order for a chunk of `chunk` samples and the
// graphs' window of it), for the memory check before a group is allocated.
inline size_t batched_device_bytes(const std::vector<size_t>& sizes, size_t batch, bool momentum, size_t chunk) {
  const BatchedLayout train = batched_layout(sizes, batch, false), eval = batched_layout(sizes, kBatchedEvalChunk, true);
  const size_t floats = train.param_stride * (momentum ? 3 : 2) + train.work_stride + eval.work_stride;
  return floats * sizeof(float) + (chunk + kBatchedGraphSteps * batch) * sizeof(uint32_t) + batch + 64;
}

// Free device memory in bytes (0 without a usable device).
size_t cuda_free_memory();

// Throws UsageError with the reason when no usable device exists. graphs = false runs every step
// eagerly (the tests compare the two).
std::unique_ptr<BatchedBackend> make_cuda_batched_backend(bool graphs = true);

}  // namespace bp
