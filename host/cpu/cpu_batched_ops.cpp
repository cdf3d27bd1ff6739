// CpuBatchedOps: each op is CpuOps's on network k's operands, for k = 0..count-1.
#include "cpu/cpu_batched_ops.hpp"

#include "model/batched_step.hpp"

namespace bp {

static_assert(BatchedStepOps<CpuBatchedOps>);

void CpuBatchedOps::gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, size_t sa,
                         const float* B, int ldb, size_t sb, float beta, float* C, int ldc, size_t sc, size_t count) {
  for (size_t i = 0; i < count; ++i)
    one_.gemm(ta, tb, m, n, k, alpha, A + i * sa, lda, B + i * sb, ldb, beta, C + i * sc, ldc);
}

void CpuBatchedOps::gemm_scaled(bool ta, bool tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                                size_t sa, const float* B, int ldb, size_t sb, const float* beta, float* C, int ldc,
                                size_t sc, size_t count) {
  for (size_t i = 0; i < count; ++i)
    one_.gemm(ta, tb, m, n, k, alpha[i], A + i * sa, lda, B + i * sb, ldb, beta[i], C + i * sc, ldc);
}

void CpuBatchedOps::bias_sigmoid(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count) {
  for (size_t i = 0; i < count; ++i) one_.bias_sigmoid(n, m, b + i * sb, a + i * sa);
}

void CpuBatchedOps::bias_softmax(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count) {
  for (size_t i = 0; i < count; ++i) one_.bias_softmax(n, m, b + i * sb, a + i * sa);
}

void CpuBatchedOps::output_delta(Cost cost, int n, int m, const float* a, size_t sa, const uint8_t* labels, size_t sl,
                                 float* d, size_t sd, double* cost_sums, size_t count) {
  for (size_t i = 0; i < count; ++i) one_.output_delta(cost, n, m, a + i * sa, labels + i * sl, d + i * sd, cost_sums + i);
}

void CpuBatchedOps::hidden_delta(int n, int m, const float* a, size_t sa, float* d, size_t sd, size_t count) {
  for (size_t i = 0; i < count; ++i) one_.hidden_delta(n, m, a + i * sa, d + i * sd);
}

void CpuBatchedOps::add_row_sums(int n, int m, const float* alpha, const float* d, size_t sd, const float* beta,
                                 float* c, size_t sc, size_t count) {
  for (size_t i = 0; i < count; ++i) one_.add_row_sums(n, m, alpha[i], d + i * sd, beta[i], c + i * sc);
}

void CpuBatchedOps::axpy_scaled(size_t n, const float* alpha, const float* x, size_t sx, float* y, size_t sy,
                                size_t count) {
  for (size_t i = 0; i < count; ++i) one_.axpy(n, alpha[i], x + i * sx, y + i * sy);
}

void CpuBatchedOps::gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si,
                           int m, float* x, size_t sx, uint8_t* labels_out, size_t sl, size_t count, Expansion e) {
  for (size_t i = 0; i < count; ++i) one_.gather(pixels, labels, dim, idx + i * si, m, x + i * sx, labels_out + i * sl, e);
}

void CpuBatchedOps::count_predictions(int n, int m, const float* a, size_t sa, const uint8_t* labels, uint64_t* counts,
                                      size_t count) {
  for (size_t i = 0; i < count; ++i) one_.count_predictions(n, m, a + i * sa, labels, counts + i * (size_t(n) + 1));
}

}  // namespace bp
