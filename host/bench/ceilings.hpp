// The machine's ceilings, measured in the same run as the benchmark rows: a large SGEMM through
// the backend's own GEMM (the CPU's BLIS; cuBLAS on the GPU) and a large memory copy.
#pragma once

#include <nlohmann/json.hpp>

namespace bp::bench {

// {"sgemm_gflops", "sgemm_shape", "copy_gbps"}; copy bandwidth counts bytes read plus written.
nlohmann::json cpu_ceilings(int threads);
nlohmann::json cuda_ceilings();  // null in builds without CUDA

}  // namespace bp::bench
