// CudaOps: thin, checked calls into cuBLAS and the kernel launchers.
#include "cuda/cuda_ops.hpp"

#include "kernels/step_kernels.cuh"

namespace bp {

void CudaOps::gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B,
                   int ldb, float beta, float* C, int ldc) {
  BP_CUBLAS_CHECK(cublasSgemm(blas, ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, A,
                              lda, B, ldb, &beta, C, ldc));
}

void CudaOps::bias_sigmoid(int n, int m, const float* b, float* a) {
  BP_CUDA_CHECK(kernels::bias_sigmoid(n, m, b, a, stream));
}

void CudaOps::bias_softmax(int n, int m, const float* b, float* a) {
  BP_CUDA_CHECK(kernels::bias_softmax(n, m, b, a, stream));
}

void CudaOps::output_delta(Cost cost, int n, int m, const float* a, const uint8_t* labels, float* d,
                           double* cost_sum) {
  BP_CUDA_CHECK(kernels::output_delta(cost, n, m, a, labels, d, cost_sum, stream));
}

void CudaOps::hidden_delta(int n, int m, const float* a, float* d) {
  BP_CUDA_CHECK(kernels::hidden_delta(n, m, a, d, stream));
}

void CudaOps::add_row_sums(int n, int m, float alpha, const float* d, float beta, float* c) {
  BP_CUDA_CHECK(kernels::add_row_sums(n, m, alpha, d, beta, c, stream));
}

void CudaOps::copy(size_t n, const float* src, float* dst) {
  BP_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream));
}

void CudaOps::axpy(size_t n, float alpha, const float* x, float* y) {
  BP_CUBLAS_CHECK(cublasSaxpy_64(blas, int64_t(n), &alpha, x, 1, y, 1));
}

void CudaOps::gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m, float* x,
                     uint8_t* labels_out, Expansion e) {
  BP_CUDA_CHECK(kernels::gather_normalise(pixels, labels, dim, idx, m, x, labels_out, stream, e));
}

void CudaOps::count_predictions(int n, int m, const float* a, const uint8_t* labels, unsigned long long* counts) {
  BP_CUDA_CHECK(kernels::count_predictions(n, m, a, labels, counts, stream));
}

size_t CudaOps::count_correct(int n, int m, const float* a, const uint8_t* labels) {
  cudaError_t status = cudaSuccess;
  const size_t count = kernels::count_correct(n, m, a, labels, stream, &status);
  BP_CUDA_CHECK(status);
  return count;
}

}  // namespace bp
