// Launchers for the batched step's kernels (host/model/batched_step.hpp): step_kernels' kernels
// for K networks in one launch, network k's operands at base + k * stride (a stride of 0 shares
// one operand), its scalars at alpha[k], beta[k] in device memory. Each launches on `stream` and
// returns cudaGetLastError(), which the caller checks. Matrices are column-major (n rows, m
// columns, leading dimension n unless given).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/activations.cuh"
#include "kernels/shifts.cuh"

namespace bp::kernels {

// Column j of network k's x = the pixels of sample idx[k * si + j] / 255; its label into
// labels_out[k * sl + j]. Any m, count >= 0.
cudaError_t gather_batched(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si,
                           int m, float* x, size_t sx, uint8_t* labels_out, size_t sl, size_t count,
                           cudaStream_t stream, Expansion e = {});

// a_k(n, m) = sigmoid(a_k + b_k).
cudaError_t bias_sigmoid_batched(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count,
                                 cudaStream_t stream);

// Each column of a_k(n, m) = softmax(column + b_k).
cudaError_t bias_softmax_batched(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count,
                                 cudaStream_t stream);

// d_k = output_delta(cost, a_k, onehot(labels_k)); cost_sums[k] += network k's sum of unit_cost.
cudaError_t output_delta_batched(Cost cost, int n, int m, const float* a, size_t sa, const uint8_t* labels, size_t sl,
                                 float* d, size_t sd, double* cost_sums, size_t count, cudaStream_t stream);

// d_k *= a_k (1 - a_k).
cudaError_t hidden_delta_batched(int n, int m, const float* a, size_t sa, float* d, size_t sd, size_t count,
                                 cudaStream_t stream);

// c_k(n) = beta[k] c_k + alpha[k] rowsum(d_k(n, m)); beta[k] == 0 does not read c_k.
cudaError_t add_row_sums_batched(int n, int m, const float* alpha, const float* d, size_t sd, const float* beta,
                                 float* c, size_t sc, size_t count, cudaStream_t stream);

// C_k(rows, cols; ldc) = alpha[k] G_k + beta[k] C_k, G_k (rows, cols) packed at G + k * rows * cols;
// beta[k] == 0 does not read C_k.
cudaError_t scale_add_batched(int rows, int cols, const float* alpha, const float* G, const float* beta, float* C,
                              int ldc, size_t sc, size_t count, cudaStream_t stream);

// y_k(n) += alpha[k] x_k(n).
cudaError_t axpy_batched(size_t n, const float* alpha, const float* x, size_t sx, float* y, size_t sy, size_t count,
                         cudaStream_t stream);

// counts[k * (n + 1) + c] += columns of a_k(n, m) whose largest entry is row c; counts[k * (n + 1) + n]
// += those that are the label's (labels shared by all networks).
cudaError_t count_predictions_batched(int n, int m, const float* a, size_t sa, const uint8_t* labels,
                                      unsigned long long* counts, size_t count, cudaStream_t stream);

}  // namespace bp::kernels
