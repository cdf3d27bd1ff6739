// The GPU's ceilings for the benchmark: cuBLAS SGEMM on 8192^3 (full float32, no TF32) on random
// operands (a product of zeros runs faster than real data) and a 1 GiB device-to-device copy, each
// the best of a few timed with CUDA events.
#include <algorithm>
#include <vector>

#include "base/rng.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/device_buffer.hpp"

namespace bp {
namespace {

// Best milliseconds of `reps` runs of f on stream s.
template <class F>
float best_ms(cudaStream_t s, int reps, F f) {
  Event start(true), stop(true);
  float best = 1e30f;
  for (int r = 0; r < reps; ++r) {
    start.record(s);
    f();
    stop.record(s);
    best = std::min(best, stop.elapsed_ms_since(start));
  }
  return best;
}

}  // namespace

CudaCeilings measure_cuda_ceilings() {
  CudaCeilings c;
  if (!cuda_status().usable || cuda_status().emulated) return c;  // the emulation is never timed
  Stream stream;
  CublasHandle blas;
  BP_CUBLAS_CHECK(cublasSetStream(blas.get(), stream.get()));
  BP_CUBLAS_CHECK(cublasSetMathMode(blas.get(), CUBLAS_DEFAULT_MATH));
  const int n = 8192;
  DeviceBuffer<float> a(size_t(n) * n), b(size_t(n) * n), d(size_t(n) * n);
  {
    std::vector<float> host(a.size());
    Rng rng(8192);
    for (float& x : host) x = float(rng.uniform() - 0.5);
    a.upload(host.data(), host.size(), stream.get());
    b.upload(host.data(), host.size(), stream.get());
    stream.synchronize();  // before the host copy goes
  }
  const float one = 1, zero = 0;
  const float gemm_ms = best_ms(stream.get(), 4, [&] {
    BP_CUBLAS_CHECK(
        cublasSgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a.data(), n, b.data(), n, &zero, d.data(), n));
  });
  const size_t bytes = size_t{1} << 30;
  DeviceBuffer<uint8_t> src(bytes), dst(bytes);
  const float copy_ms = best_ms(stream.get(), 4, [&] {
    BP_CUDA_CHECK(cudaMemcpyAsync(dst.data(), src.data(), bytes, cudaMemcpyDeviceToDevice, stream.get()));
  });
  c.measured = true;
  c.sgemm_gflops = 2.0 * n * double(n) * n / (gemm_ms * 1e-3) / 1e9;
  c.sgemm_shape = "8192x8192x8192 (cuBLAS)";
  c.copy_gbps = 2.0 * double(bytes) / (copy_ms * 1e-3) / 1e9;
  return c;
}

}  // namespace bp
