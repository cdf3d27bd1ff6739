// Launchers for the kernels of the minibatch step (see host/model/step.hpp for the algorithm),
// each for K networks in one launch: network k's operands at base + k * stride (a stride of 0
// shares one operand), its scalars at alpha[k], beta[k] in device memory. Each launches on the
// given stream and returns cudaGetLastError(), which the caller checks. Matrices are column-major
// (n rows, m columns, leading dimension n unless given) with the minibatch as columns, as in cuBLAS.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/model_math.cuh"
#include "kernels/shifts.cuh"

namespace bp::kernels {

// Column j of network k's x(dim, m) = the pixels of sample idx[k * si + j] / 255; its label into
// labels_out[k * sl + j]. With `e` expanding the images, a sample is a shifted image
// (kernels/shifts.cuh). Any m, count >= 0.
cudaError_t gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si, int m,
                   float* x, size_t sx, uint8_t* labels_out, size_t sl, size_t count, cudaStream_t stream,
                   Expansion e = {});

// a_k(n, m) = sigmoid(a_k + b_k), b_k broadcast along columns.
cudaError_t bias_sigmoid(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count,
                         cudaStream_t stream);

// Each column of a_k(n, m) = softmax(column + b_k), the largest entry subtracted first.
cudaError_t bias_softmax(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count,
                         cudaStream_t stream);

// d_k = output_delta(cost, a_k, onehot(labels_k)); cost_sums[k] += network k's sum of unit_cost
// (double atomics).
cudaError_t output_delta(Cost cost, int n, int m, const float* a, size_t sa, const uint8_t* labels, size_t sl, float* d,
                         size_t sd, double* cost_sums, size_t count, cudaStream_t stream);

// d_k *= a_k (1 - a_k).
cudaError_t hidden_delta(int n, int m, const float* a, size_t sa, float* d, size_t sd, size_t count,
                         cudaStream_t stream);

// c_k(n) = beta[k] c_k + alpha[k] rowsum(d_k(n, m)); beta[k] == 0 does not read c_k.
cudaError_t add_row_sums(int n, int m, const float* alpha, const float* d, size_t sd, const float* beta, float* c,
                         size_t sc, size_t count, cudaStream_t stream);

// C_k(rows, cols; ldc) = alpha[k] G_k + beta[k] C_k, G_k (rows, cols) packed at G + k * rows * cols;
// beta[k] == 0 does not read C_k.
cudaError_t scale_add(int rows, int cols, const float* alpha, const float* G, const float* beta, float* C, int ldc,
                      size_t sc, size_t count, cudaStream_t stream);

// y_k(n) += alpha[k] x_k(n).
cudaError_t axpy_scaled(size_t n, const float* alpha, const float* x, size_t sx, float* y, size_t sy, size_t count,
                        cudaStream_t stream);

// counts[k * (n + 1) + c] += columns of a_k(n, m) whose largest entry is row c; counts[k * (n + 1) + n]
// += those that are the label's (labels shared by all networks; atomics, counts in device memory).
cudaError_t count_predictions(int n, int m, const float* a, size_t sa, const uint8_t* labels,
                              unsigned long long* counts, size_t count, cudaStream_t stream);

// How many columns of a(n, m) have their largest entry at labels[j] (Thrust count_if; waits for
// the stream). Returns the error through *status.
size_t count_correct(int n, int m, const float* a, const uint8_t* labels, cudaStream_t stream, cudaError_t* status);

// cudaSuccess if this binary has machine code or PTX the current device can run.
cudaError_t check_kernel_image();

}  // namespace bp::kernels
