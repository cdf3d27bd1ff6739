// Launchers for the kernels of the minibatch step (see host/model/step.hpp for the algorithm). Each
// launches on the given stream and returns cudaGetLastError(), which the caller checks. Matrices
// are column-major with the minibatch as columns, as in cuBLAS.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "kernels/activations.cuh"
#include "kernels/shifts.cuh"

namespace bp::kernels {

// x(dim, m)[:, j] = pixels[idx[j] * dim ...] / 255;  labels_out[j] = labels[idx[j]]; with `e`
// expanding the images, sample idx[j] is a shifted image (kernels/shifts.cuh). Any m >= 0.
cudaError_t gather_normalise(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m,
                             float* x, uint8_t* labels_out, cudaStream_t stream, Expansion e = {});

// a(n, m) = sigmoid(a + b), b(n) broadcast along columns.
cudaError_t bias_sigmoid(int n, int m, const float* b, float* a, cudaStream_t stream);

// Each column of a(n, m) = softmax(column + b), the largest entry subtracted first.
cudaError_t bias_softmax(int n, int m, const float* b, float* a, cudaStream_t stream);

// d(n, m) = output_delta(cost, a, onehot(labels)); *cost_sum += sum of unit_cost (double atomics).
cudaError_t output_delta(Cost cost, int n, int m, const float* a, const uint8_t* labels, float* d, double* cost_sum,
                         cudaStream_t stream);

// d(n, m) *= a (1 - a).
cudaError_t hidden_delta(int n, int m, const float* a, float* d, cudaStream_t stream);

// c(n) = beta * c + alpha * rowsum(d(n, m)); beta == 0 does not read c.
cudaError_t add_row_sums(int n, int m, float alpha, const float* d, float beta, float* c, cudaStream_t stream);

// How many columns of a(n, m) have their largest entry at labels[j] (Thrust count_if; waits for
// the stream). Returns the error through *status.
size_t count_correct(int n, int m, const float* a, const uint8_t* labels, cudaStream_t stream, cudaError_t* status);

// counts[c] += how many columns of a(n, m) have their largest entry at row c, for c < n;
// counts[n] += how many of those are the label's row (atomics; counts in device memory).
cudaError_t count_predictions(int n, int m, const float* a, const uint8_t* labels, unsigned long long* counts,
                              cudaStream_t stream);

// cudaSuccess if this binary has machine code or PTX the current device can run.
cudaError_t check_kernel_image();

}  // namespace bp::kernels
