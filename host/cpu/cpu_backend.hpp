// The product's CPU mode: float32, whole minibatches as column-major matrices, the step of
// step.hpp over CpuOps (AVX-512 kernels for skinny GEMMs, BLIS for the rest), for one network or
// K of one shape.
#pragma once

#include <memory>

#include "model/backend.hpp"

namespace bp {

std::unique_ptr<Backend> make_cpu_backend(int threads);

}  // namespace bp
