// The CUDA implementation of the step's operation set (see step.hpp): cuBLAS's strided batched
// SGEMM for the GEMMs and kernels/ for the rest, one launch for all K networks, all on one stream.
// Same arguments as CpuOps, device pointers; the scalar arrays are in device memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/device_buffer.hpp"
#include "kernels/model_math.cuh"
#include "kernels/shifts.cuh"

namespace bp {

struct CudaOps {
  cublasHandle_t blas = nullptr;
  cudaStream_t stream = nullptr;
  // Scratch for gemm_scaled's products when K > 1: at least m * n * count floats of its largest call.
  float* scratch = nullptr;
  size_t scratch_floats = 0;

  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, size_t sa, const float* B,
            int ldb, size_t sb, float beta, float* C, int ldc, size_t sc, size_t count);
  void gemm_scaled(bool ta, bool tb, int m, int n, int k, const float* alpha, const float* A, int lda, size_t sa,
                   const float* B, int ldb, size_t sb, const float* beta, float* C, int ldc, size_t sc, size_t count);
  void bias_sigmoid(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count);
  void bias_softmax(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count);
  void output_delta(Cost cost, int n, int m, const float* a, size_t sa, const uint8_t* labels, size_t sl, float* d,
                    size_t sd, double* cost_sums, size_t count);
  void hidden_delta(int n, int m, const float* a, size_t sa, float* d, size_t sd, size_t count);
  void add_row_sums(int n, int m, const float* alpha, const float* d, size_t sd, const float* beta, float* c, size_t sc,
                    size_t count);
  void axpy_scaled(size_t n, const float* alpha, const float* x, size_t sx, float* y, size_t sy, size_t count);
  void axpy(size_t n, float alpha, const float* x, float* y);
  void copy(size_t n, const float* src, float* dst);
  void gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si, int m, float* x,
              size_t sx, uint8_t* labels_out, size_t sl, size_t count, Expansion e = {});
  size_t count_correct(int n, int m, const float* a, const uint8_t* labels);
  // counts (device, count * (n + 1)) as CpuOps::count_predictions.
  void count_predictions(int n, int m, const float* a, size_t sa, const uint8_t* labels, unsigned long long* counts,
                         size_t count);
};

}  // namespace bp
