// CPU ceilings; the CUDA ones come from host/cuda/cuda_ceilings.cpp (or null without CUDA).
#include "bench/ceilings.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "cpu/cpu_gemm.hpp"
#include "cuda/cuda_backend.hpp"

namespace bp::bench {

nlohmann::json cpu_ceilings(int threads) {
  using Clock = std::chrono::steady_clock;
  set_blas_threads(threads);
  const int n = 1024;
  std::vector<float> a(size_t(n) * n, 0.5f), b(a), c(a);
  double best = 1e30;
  for (int rep = 0; rep < 4; ++rep) {
    const auto t0 = Clock::now();
    blas_gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::vector<char> src(size_t{256} << 20, 1), dst(src.size());
  double copy = 1e30;
  for (int rep = 0; rep < 4; ++rep) {
    const auto t0 = Clock::now();
    std::memcpy(dst.data(), src.data(), src.size());
    copy = std::min(copy, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return {{"sgemm_gflops", 2.0 * n * n * n / best / 1e9},
          {"sgemm_shape", "1024x1024x1024 (BLIS)"},
          {"copy_gbps", 2.0 * double(src.size()) / copy / 1e9}};
}

nlohmann::json cuda_ceilings() {
  const CudaCeilings c = measure_cuda_ceilings();
  if (!c.measured) return nullptr;
  return {{"sgemm_gflops", c.sgemm_gflops}, {"sgemm_shape", c.sgemm_shape}, {"copy_gbps", c.copy_gbps}};
}

}  // namespace bp::bench
