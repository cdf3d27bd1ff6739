// CudaBatchedOps: checked calls into cuBLAS's strided batched SGEMM and the batched kernels.
#include "cuda/cuda_batched_ops.hpp"

#include <limits>
#include <string>

#include "kernels/batched_kernels.cuh"
#include "model/batched_step.hpp"

namespace bp {

static_assert(BatchedStepOps<CudaBatchedOps>);

namespace {

int batch_count(size_t count) {
  if (count > size_t(std::numeric_limits<int>::max())) throw Error("too many networks in one batched GEMM");
  return int(count);
}

cublasOperation_t op(bool t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }

}  // namespace

// A stride of 0 (evaluation's shared input) makes every member of the batch read the same B;
// cuBLAS allows a batch stride of 0 for A and B (not C), and EveryOpMatchesTheCpuOps checks it.
void CudaBatchedOps::gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, size_t sa,
                          const float* B, int ldb, size_t sb, float beta, float* C, int ldc, size_t sc, size_t count) {
  if (count == 0) return;
  BP_CUBLAS_CHECK(cublasSgemmStridedBatched(blas, op(ta), op(tb), m, n, k, &alpha, A, lda, (long long)sa, B, ldb,
                                            (long long)sb, &beta, C, ldc, (long long)sc, batch_count(count)));
}

// cuBLAS's batched GEMMs take one alpha and one beta for the whole batch, and each network has
// its own (-eta/m, and the L2 decay or mu). So the product goes with alpha 1 and beta 0 into a
// packed scratch buffer, and one kernel makes C_k = alpha[k] G_k + beta[k] C_k. This is the
// formula the CPU's GEMM evaluates, with the same roundings up to the order of the sum's terms
// (alpha times the rounded sum, rather than the sum of alpha times each product): the single-
// network GPU path's error, well inside the 1e-3 after 100 steps its tests allow. Scaling the
// output delta by -eta_k/m instead would save the scratch but not the per-network decay, which
// needs its own pass over the weights anyway; the extra pass here reads K small gradients.
void CudaBatchedOps::gemm_scaled(bool ta, bool tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                                 size_t sa, const float* B, int ldb, size_t sb, const float* beta, float* C, int ldc,
                                 size_t sc, size_t count) {
  if (count == 0) return;
  const size_t packed = size_t(m) * size_t(n);
  if (packed * count > scratch_floats)
    throw Error("batched GEMM scratch of " + std::to_string(scratch_floats) + " floats is smaller than the " +
                std::to_string(packed * count) + " needed");
  const float one = 1.0f, zero = 0.0f;
  BP_CUBLAS_CHECK(cublasSgemmStridedBatched(blas, op(ta), op(tb), m, n, k, &one, A, lda, (long long)sa, B, ldb,
                                            (long long)sb, &zero, scratch, m, (long long)packed, batch_count(count)));
  BP_CUDA_CHECK(kernels::scale_add_batched(m, n, alpha, scratch, beta, C, ldc, sc, count, stream));
}

void CudaBatchedOps::bias_sigmoid(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count) {
  BP_CUDA_CHECK(kernels::bias_sigmoid_batched(n, m, b, sb, a, sa, count, stream));
}

void CudaBatchedOps::bias_softmax(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count) {
  BP_CUDA_CHECK(kernels::bias_softmax_batched(n, m, b, sb, a, sa, count, stream));
}

void CudaBatchedOps::output_delta(Cost cost, int n, int m, const float* a, size_t sa, const uint8_t* labels, size_t sl,
                                  float* d, size_t sd, double* cost_sums, size_t count) {
  BP_CUDA_CHECK(kernels::output_delta_batched(cost, n, m, a, sa, labels, sl, d, sd, cost_sums, count, stream));
}

void CudaBatchedOps::hidden_delta(int n, int m, const float* a, size_t sa, float* d, size_t sd, size_t count) {
  BP_CUDA_CHECK(kernels::hidden_delta_batched(n, m, a, sa, d, sd, count, stream));
}

void CudaBatchedOps::add_row_sums(int n, int m, const float* alpha, const float* d, size_t sd, const float* beta,
                                  float* c, size_t sc, size_t count) {
  BP_CUDA_CHECK(kernels::add_row_sums_batched(n, m, alpha, d, sd, beta, c, sc, count, stream));
}

void CudaBatchedOps::axpy_scaled(size_t n, const float* alpha, const float* x, size_t sx, float* y, size_t sy,
                                 size_t count) {
  BP_CUDA_CHECK(kernels::axpy_batched(n, alpha, x, sx, y, sy, count, stream));
}

void CudaBatchedOps::axpy(size_t n, float alpha, const float* x, float* y) {
  BP_CUBLAS_CHECK(cublasSaxpy_64(blas, int64_t(n), &alpha, x, 1, y, 1));
}

void CudaBatchedOps::gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si,
                            int m, float* x, size_t sx, uint8_t* labels_out, size_t sl, size_t count, Expansion e) {
  BP_CUDA_CHECK(kernels::gather_batched(pixels, labels, dim, idx, si, m, x, sx, labels_out, sl, count, stream, e));
}

void CudaBatchedOps::count_predictions(int n, int m, const float* a, size_t sa, const uint8_t* labels,
                                       unsigned long long* counts, size_t count) {
  BP_CUDA_CHECK(kernels::count_predictions_batched(n, m, a, sa, labels, counts, count, stream));
}

}  // namespace bp
