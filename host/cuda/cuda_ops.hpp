// The CUDA implementation of the step's operation set (see step.hpp): cuBLAS SGEMM for the GEMMs,
// kernels/ for the rest, all on one stream. Same arguments as CpuOps, device pointers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/activations.cuh"
#include "kernels/shifts.cuh"
#include "cuda/device_buffer.hpp"

namespace bp {

struct CudaOps {
  cublasHandle_t blas;
  cudaStream_t stream;

  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
            float beta, float* C, int ldc);
  void bias_sigmoid(int n, int m, const float* b, float* a);
  void bias_softmax(int n, int m, const float* b, float* a);
  void output_delta(Cost cost, int n, int m, const float* a, const uint8_t* labels, float* d, double* cost_sum);
  void hidden_delta(int n, int m, const float* a, float* d);
  void add_row_sums(int n, int m, float alpha, const float* d, float beta, float* c);
  void copy(size_t n, const float* src, float* dst);
  void axpy(size_t n, float alpha, const float* x, float* y);
  void gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m, float* x,
              uint8_t* labels_out, Expansion e = {});
  size_t count_correct(int n, int m, const float* a, const uint8_t* labels);
  // As CpuOps::count_predictions, into counts(n + 1) in device memory.
  void count_predictions(int n, int m, const float* a, const uint8_t* labels, unsigned long long* counts);
};

}  // namespace bp
