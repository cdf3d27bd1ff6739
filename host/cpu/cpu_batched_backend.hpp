// The batched step (model/batched_step.hpp) over CpuBatchedOps: the CPU twin of the CUDA batched
// backend, one thread, every network's floats exactly as a lone CpuBackend's.
#pragma once

#include <memory>

#include "model/batched_backend.hpp"

namespace bp {

std::unique_ptr<BatchedBackend> make_cpu_batched_backend();

}  // namespace bp
