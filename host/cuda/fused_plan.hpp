// Whether the fused engine (kernels/fused_step.cuh) can train a network, and where its arrays go
// in a thread block's shared memory: the parameters, the activations and deltas of a full batch,
// the forward pass's partial sums and the batch's indices must fit in what one block may have
// (227 KiB on sm_90); momentum's velocities go there too where they also fit, else they stay in
// global memory.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kernels/fused_step.cuh"

namespace bp {

struct FusedPlan {
  kernels::FusedShape shape;
  size_t shared_bytes = 0;  // needed, velocities included where they fit
  std::string why_not;      // empty where the engine applies; else one sentence
  bool fits() const { return why_not.empty(); }
};

// For `sizes` at mini-batch `batch`, with `shared_limit` bytes of shared memory a block may opt
// into (cudaDeviceProp::sharedMemPerBlockOptin).
FusedPlan plan_fused(const std::vector<size_t>& sizes, size_t batch, bool momentum, size_t shared_limit);

}  // namespace bp
