// The CPU implementation of the step's operation set (see step.hpp): cpu_gemm for the GEMMs and
// loops over the elementwise math that the CUDA kernels share (kernels/activations.cuh).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/activations.cuh"
#include "kernels/shifts.cuh"
#include "cpu/cpu_gemm.hpp"

namespace bp {

struct CpuOps {
  void gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
            float beta, float* C, int ldc) {
    cpu_gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  }
  // a(n, m) = sigmoid(a + b), b broadcast along the columns.
  void bias_sigmoid(int n, int m, const float* b, float* a);
  // Each column of a(n, m) = softmax(column + b).
  void bias_softmax(int n, int m, const float* b, float* a);
  // d(n, m) = output_delta(cost, a, onehot(labels)); *cost_sum += sum of unit_cost.
  void output_delta(Cost cost, int n, int m, const float* a, const uint8_t* labels, float* d, double* cost_sum);
  // d(n, m) *= a (1 - a)
  void hidden_delta(int n, int m, const float* a, float* d);
  // c(n) = beta * c + alpha * rowsum(d(n, m)); beta == 0 ignores c's old contents.
  void add_row_sums(int n, int m, float alpha, const float* d, float beta, float* c);
  void copy(size_t n, const float* src, float* dst);
  // y(n) += alpha * x(n)
  void axpy(size_t n, float alpha, const float* x, float* y);
  // x(dim, m): column j = pixels of sample idx[j], scaled to [0, 1]; labels_out[j] = its label.
  // Samples are images unless `e` expands them into shifted copies (kernels/shifts.cuh).
  void gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m, float* x,
              uint8_t* labels_out, Expansion e = {});
  // Asks the cache for the images gather() will read next, so that their misses overlap the
  // current step's arithmetic instead of stalling the next gather.
  void prefetch(const uint8_t* pixels, size_t dim, const uint32_t* idx, int m, Expansion e = {});
  // How many columns of a(n, m) have their largest entry at the label's row.
  size_t count_correct(int n, int m, const float* a, const uint8_t* labels);
  // counts[c] += how many columns of a(n, m) have their largest entry at row c, for c < n;
  // counts[n] += how many of those rows are the label's.
  void count_predictions(int n, int m, const float* a, const uint8_t* labels, uint64_t* counts);
};

}  // namespace bp
