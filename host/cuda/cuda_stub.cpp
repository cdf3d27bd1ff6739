// Stands in for the CUDA backend in builds made without the CUDA toolkit.
#include "base/error.hpp"
#include "cuda/cuda_backend.hpp"

namespace bp {

CudaStatus cuda_status() {
  CudaStatus s;
  s.reason = "this build of backprop has no CUDA support (the CUDA toolkit was not found at configure time)";
  s.report = "CUDA: not built in";
  return s;
}

CudaCeilings measure_cuda_ceilings() { return {}; }

std::unique_ptr<Backend> make_cuda_backend(bool, bool, CudaEngine) {
  throw UsageError("--device cuda: " + cuda_status().reason);
}

std::string fused_engine_why_not(const std::vector<size_t>&, size_t) { return cuda_status().reason; }

size_t cuda_free_memory() { return 0; }

}  // namespace bp
