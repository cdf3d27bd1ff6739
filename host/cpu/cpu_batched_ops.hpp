// The batched step's operation set on the CPU (see model/batched_step.hpp): a loop over the
// networks calling CpuOps (and so cpu_gemm) with network k's operands and scalars. It exists so
// that the batched step, with every GEMM argument, stride and scalar array the GPU gets, runs
// and is checked on the CPU, where it must equal K single-network steps bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/cpu_ops.hpp"

namespace bp {

struct CpuBatchedOps {
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
  void axpy(size_t n, float alpha, const float* x, float* y) { one_.axpy(n, alpha, x, y); }
  // Network k's batch: samples idx[k * si ..] into x + k * sx, labels into labels_out + k * sl.
  void gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si, int m, float* x,
              size_t sx, uint8_t* labels_out, size_t sl, size_t count, Expansion e = {});
  // counts[k * (n + 1) ..]: CpuOps::count_predictions of network k's a(n, m).
  void count_predictions(int n, int m, const float* a, size_t sa, const uint8_t* labels, uint64_t* counts,
                         size_t count);

  CpuOps one_;
};

}  // namespace bp
