// Loops for the elementwise operations of CpuOps; the formulas live in kernels/activations.cuh.
#include "cpu/cpu_ops.hpp"

#include <cstring>

namespace bp {

void CpuOps::bias_sigmoid(int n, int m, const float* b, float* a) {
  for (int j = 0; j < m; ++j)
    for (int i = 0; i < n; ++i) a[i + size_t(j) * n] = sigmoid(a[i + size_t(j) * n] + b[i]);
}

void CpuOps::bias_softmax(int n, int m, const float* b, float* a) {
  for (int j = 0; j < m; ++j) bias_softmax_column(n, b, a + size_t(j) * n);
}

void CpuOps::output_delta(Cost cost, int n, int m, const float* a, const uint8_t* labels, float* d,
                          double* cost_sum) {
  double total = 0;
  for (int j = 0; j < m; ++j) {
    for (int i = 0; i < n; ++i) {
      const size_t at = i + size_t(j) * n;
      const float y = labels[j] == i ? 1.0f : 0.0f;
      d[at] = bp::output_delta(cost, a[at], y);
      total += unit_cost(cost, a[at], y);
    }
  }
  *cost_sum += total;
}

void CpuOps::hidden_delta(int n, int m, const float* a, float* d) {
  for (size_t i = 0; i < size_t(n) * m; ++i) d[i] *= sigmoid_prime_from_activation(a[i]);
}

void CpuOps::add_row_sums(int n, int m, float alpha, const float* d, float beta, float* c) {
  for (int i = 0; i < n; ++i) {
    float sum = 0;
    for (int j = 0; j < m; ++j) sum += d[i + size_t(j) * n];
    c[i] = alpha * sum + (beta == 0.0f ? 0.0f : beta * c[i]);
  }
}

void CpuOps::copy(size_t n, const float* src, float* dst) { std::memcpy(dst, src, n * sizeof(float)); }

void CpuOps::axpy(size_t n, float alpha, const float* __restrict x, float* __restrict y) {
  for (size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

void CpuOps::gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m, float* x,
                    uint8_t* labels_out) {
  for (int j = 0; j < m; ++j) {
    const uint8_t* __restrict p = pixels + size_t(idx[j]) * dim;
    float* __restrict col = x + size_t(j) * dim;
    for (size_t i = 0; i < dim; ++i) col[i] = normalise_pixel(p[i]);
    labels_out[j] = labels[idx[j]];
  }
}

void CpuOps::prefetch(const uint8_t* pixels, size_t dim, const uint32_t* idx, int m) {
  for (int j = 0; j < m; ++j) {
    const uint8_t* p = pixels + size_t(idx[j]) * dim;
    for (size_t offset = 0; offset < dim; offset += 64) __builtin_prefetch(p + offset);
  }
}

size_t CpuOps::count_correct(int n, int m, const float* a, const uint8_t* labels) {
  size_t correct = 0;
  for (int j = 0; j < m; ++j) correct += argmax(a + size_t(j) * n, n) == labels[j];
  return correct;
}

}  // namespace bp
