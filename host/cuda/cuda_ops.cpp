// CudaOps: checked calls into cuBLAS and the kernel launchers.
#include "cuda/cuda_ops.hpp"

#include <limits>
#include <string>

#include "kernels/step_kernels.cuh"
#include "model/step.hpp"

namespace bp {

static_assert(StepOps<CudaOps>);

namespace {

int batch_count(size_t count) {
  if (count > size_t(std::numeric_limits<int>::max())) throw Error("too many networks in one batched GEMM");
  return int(count);
}

cublasOperation_t op(bool t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }

// Device pointer mode for one call, host mode again after it (the mode is the handle's state).
struct DeviceScalars {
  cublasHandle_t blas;
  explicit DeviceScalars(cublasHandle_t h) : blas(h) {
    BP_CUBLAS_CHECK(cublasSetPointerMode(blas, CUBLAS_POINTER_MODE_DEVICE));
  }
  ~DeviceScalars() { (void)cublasSetPointerMode(blas, CUBLAS_POINTER_MODE_HOST); }
};

}  // namespace

// A stride of 0 (evaluation's shared input) makes every member of the batch read the same B;
// cuBLAS allows a batch stride of 0 for A and B (not C), and test_cuda_ops.cpp checks it.
void CudaOps::gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, size_t sa,
                   const float* B, int ldb, size_t sb, float beta, float* C, int ldc, size_t sc, size_t count) {
  if (count == 0) return;
  BP_CUBLAS_CHECK(cublasSgemmStridedBatched(blas, op(ta), op(tb), m, n, k, &alpha, A, lda, (long long)sa, B, ldb,
                                            (long long)sb, &beta, C, ldc, (long long)sc, batch_count(count)));
}

// One network: one SGEMM that reads alpha[0] and beta[0] from device memory when it runs
// (cuBLAS's device pointer mode), so a replayed graph sees the current eta. K networks: cuBLAS's
// batched GEMMs take one alpha and one beta for the whole batch, and each network has its own
// (-eta/m, and the L2 decay or mu). So the product goes with alpha 1 and beta 0 into a packed
// scratch buffer, and one kernel makes C_k = alpha[k] G_k + beta[k] C_k. This is the formula the
// CPU's GEMM evaluates, with the same roundings up to the order of the sum's terms (alpha times
// the rounded sum, rather than the sum of alpha times each product), well inside the 1e-3 after
// 100 steps the tests allow. Scaling the output delta by -eta_k/m instead would save the scratch
// but not the per-network decay, which needs its own pass over the weights anyway; the extra pass
// here reads K small gradients.
void CudaOps::gemm_scaled(bool ta, bool tb, int m, int n, int k, const float* alpha, const float* A, int lda, size_t sa,
                          const float* B, int ldb, size_t sb, const float* beta, float* C, int ldc, size_t sc,
                          size_t count) {
  if (count == 0) return;
  if (count == 1) {
    const DeviceScalars device(blas);
    BP_CUBLAS_CHECK(cublasSgemm(blas, op(ta), op(tb), m, n, k, alpha, A, lda, B, ldb, beta, C, ldc));
    return;
  }
  const size_t packed = size_t(m) * size_t(n);
  if (packed * count > scratch_floats)
    throw Error("batched GEMM scratch of " + std::to_string(scratch_floats) + " floats is smaller than the " +
                std::to_string(packed * count) + " needed");
  const float one = 1.0f, zero = 0.0f;
  BP_CUBLAS_CHECK(cublasSgemmStridedBatched(blas, op(ta), op(tb), m, n, k, &one, A, lda, (long long)sa, B, ldb,
                                            (long long)sb, &zero, scratch, m, (long long)packed, batch_count(count)));
  BP_CUDA_CHECK(kernels::scale_add(m, n, alpha, scratch, beta, C, ldc, sc, count, stream));
}

void CudaOps::bias_sigmoid(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count) {
  BP_CUDA_CHECK(kernels::bias_sigmoid(n, m, b, sb, a, sa, count, stream));
}

void CudaOps::bias_softmax(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count) {
  BP_CUDA_CHECK(kernels::bias_softmax(n, m, b, sb, a, sa, count, stream));
}

void CudaOps::output_delta(Cost cost, int n, int m, const float* a, size_t sa, const uint8_t* labels, size_t sl,
                           float* d, size_t sd, double* cost_sums, size_t count) {
  BP_CUDA_CHECK(kernels::output_delta(cost, n, m, a, sa, labels, sl, d, sd, cost_sums, count, stream));
}

void CudaOps::hidden_delta(int n, int m, const float* a, size_t sa, float* d, size_t sd, size_t count) {
  BP_CUDA_CHECK(kernels::hidden_delta(n, m, a, sa, d, sd, count, stream));
}

void CudaOps::add_row_sums(int n, int m, const float* alpha, const float* d, size_t sd, const float* beta, float* c,
                           size_t sc, size_t count) {
  BP_CUDA_CHECK(kernels::add_row_sums(n, m, alpha, d, sd, beta, c, sc, count, stream));
}

void CudaOps::axpy_scaled(size_t n, const float* alpha, const float* x, size_t sx, float* y, size_t sy, size_t count) {
  BP_CUDA_CHECK(kernels::axpy_scaled(n, alpha, x, sx, y, sy, count, stream));
}

void CudaOps::axpy(size_t n, float alpha, const float* x, float* y) {
  BP_CUBLAS_CHECK(cublasSaxpy_64(blas, int64_t(n), &alpha, x, 1, y, 1));
}

void CudaOps::copy(size_t n, const float* src, float* dst) {
  BP_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream));
}

void CudaOps::gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si, int m,
                     float* x, size_t sx, uint8_t* labels_out, size_t sl, size_t count, Expansion e) {
  BP_CUDA_CHECK(kernels::gather(pixels, labels, dim, idx, si, m, x, sx, labels_out, sl, count, stream, e));
}

void CudaOps::count_predictions(int n, int m, const float* a, size_t sa, const uint8_t* labels,
                                unsigned long long* counts, size_t count) {
  BP_CUDA_CHECK(kernels::count_predictions(n, m, a, sa, labels, counts, count, stream));
}

size_t CudaOps::count_correct(int n, int m, const float* a, const uint8_t* labels) {
  cudaError_t status = cudaSuccess;
  const size_t count = kernels::count_correct(n, m, a, labels, stream, &status);
  BP_CUDA_CHECK(status);
  return count;
}

}  // namespace bp
