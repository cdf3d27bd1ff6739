// The fused engine: K networks' SGD steps, the whole of update_mini_batch (host/model/step.hpp)
// for a chunk of minibatches, in one launch. One thread block per network holds that network's
// parameters in shared memory from the first step of the launch to the last, gathers each
// minibatch from the training bytes in global memory, and runs forward, deltas and update between
// barriers; nothing leaves the block until the parameters go back at the end. The mapping of
// threads to work is in fused_step.cu, the performance model in docs/fused-engine.md.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/model_math.cuh"
#include "kernels/shifts.cuh"

namespace bp::kernels {

constexpr int kFusedMaxLayers = 6;       // weight layers
constexpr int kFusedThreads = 256;       // per block: 8 warps
constexpr int kFusedSampleGroup = 5;     // forward: samples summed at once, a register each
constexpr int kFusedCompiledBatch = 10;  // the book's mini-batch: a kernel compiled for it

// One network's shape and where each of its arrays lives in its block's dynamic shared memory
// (offsets in floats, each a multiple of 4), planned on the host (host/cuda/fused_plan.hpp).
// Plain data, passed to the kernel by value.
struct FusedShape {
  int layers = 0;                                        // L
  int sizes[kFusedMaxLayers + 1] = {};                   // inputs first
  int w[kFusedMaxLayers] = {}, b[kFusedMaxLayers] = {};  // offsets in the flat parameters (step_layout)
  int parts[kFusedMaxLayers] = {};                       // threads that split each sum of layer l's forward pass
  int param_floats = 0;                                  // a network's parameter block (param_stride)
  int capacity = 0;                                      // M: the full batch, the samples every step computes
  int stride = 0;                // S: a unit's run of samples (M, or M rounded up to 4 for float4 reads)
  bool velocity_shared = false;  // momentum's velocities in shared memory too (else in global memory)
  // Shared memory: the parameters at 0, then these.
  int velocity = 0;
  int act[kFusedMaxLayers + 1] = {}, delta[kFusedMaxLayers + 1] = {};  // unit i's samples at i * S
  int partial = 0;                          // the forward's partial sums; also the output costs and the final cost sums
  int samples = 0, labels = 0, active = 0;  // the batch's sample indices, labels, nonzero-pixel flags
  int shared_floats = 0;
};

// Network k (block k) trains on orders[k * length, (k + 1) * length) in consecutive batches of
// shape.capacity, the last one possibly shorter; its scalars are StepScalars' runs (alpha,
// beta_w, beta_b, l2; count floats each) for a full batch in `scalars`, for the shorter last one
// in `last_scalars`. params and velocity: count blocks of shape.param_floats (velocity null
// without momentum). cost_sums[k] += network k's summed cost before each step. Sets the kernel's
// shared memory attribute, launches, and returns cudaGetLastError().
cudaError_t fused_sgd_steps(const FusedShape& shape, Cost cost, bool momentum, bool l2_decay, const uint8_t* pixels,
                            const uint8_t* labels, size_t dim, Expansion e, const uint32_t* orders, size_t length,
                            const float* scalars, const float* last_scalars, size_t count, float* params,
                            float* velocity, double* cost_sums, cudaStream_t stream);

}  // namespace bp::kernels
