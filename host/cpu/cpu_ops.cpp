// Loops for the elementwise operations of CpuOps; the formulas live in kernels/activations.cuh.
#include "cpu/cpu_ops.hpp"

#include <cstring>

#include "cpu/cpu_path.hpp"

namespace bp {

void CpuOps::bias_sigmoid(int n, int m, const float* b, float* a) {
  if (const BiasSigmoidKernel kernel = cpu_path_bias_sigmoid()) return kernel(n, m, b, a);  // vectorised exp
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

namespace {

// Variant v of an image, row by row: each row is a blank one or a row of the image read from
// `dc` columns further along, so the loops stay as simple as the plain copy's.
void gather_shifted(const uint8_t* __restrict p, size_t dim, size_t width, unsigned v, float* __restrict col) {
  const long height = long(dim / width), w = long(width), dr = shift_rows(v), dc = shift_cols(v);
  for (long r = 0; r < height; ++r) {
    float* out = col + r * w;
    const long from = r + dr;
    if (from < 0 || from >= height) {
      for (long c = 0; c < w; ++c) out[c] = 0.0f;
      continue;
    }
    const uint8_t* row = p + from * w;
    for (long c = 0; c < w; ++c) out[c] = c + dc < 0 || c + dc >= w ? 0.0f : normalise_pixel(row[c + dc]);
  }
}

}  // namespace

void CpuOps::gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m, float* x,
                    uint8_t* labels_out, Expansion e) {
  for (int j = 0; j < m; ++j) {
    const size_t image = e.image(idx[j]);
    const unsigned v = e.variant(idx[j]);
    const uint8_t* __restrict p = pixels + image * dim;
    float* __restrict col = x + size_t(j) * dim;
    if (v == 0) {
      for (size_t i = 0; i < dim; ++i) col[i] = normalise_pixel(p[i]);
    } else {
      gather_shifted(p, dim, e.width, v, col);
    }
    labels_out[j] = labels[image];
  }
}

void CpuOps::prefetch(const uint8_t* pixels, size_t dim, const uint32_t* idx, int m, Expansion e) {
  for (int j = 0; j < m; ++j) {
    const uint8_t* p = pixels + e.image(idx[j]) * dim;
    for (size_t offset = 0; offset < dim; offset += 64) __builtin_prefetch(p + offset);
  }
}

size_t CpuOps::count_correct(int n, int m, const float* a, const uint8_t* labels) {
  size_t correct = 0;
  for (int j = 0; j < m; ++j) correct += argmax(a + size_t(j) * n, n) == labels[j];
  return correct;
}

void CpuOps::count_predictions(int n, int m, const float* a, const uint8_t* labels, uint64_t* counts) {
  for (int j = 0; j < m; ++j) {
    const int predicted = argmax(a + size_t(j) * n, n);
    ++counts[predicted];
    counts[n] += predicted == labels[j];
  }
}

}  // namespace bp
