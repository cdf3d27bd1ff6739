// Loops for the elementwise operations of CpuOps; the formulas live in kernels/activations.cuh.
#include "cpu/cpu_ops.hpp"

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "cpu/cpu_path.hpp"

namespace bp {

void CpuOps::gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, const float* B,
                  int ldb, float beta, float* C, int ldc) {
  if (!listed_ || (A != listed_ && B != listed_)) return cpu_gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  const SparseColumns& X = columns_;
  if (B == listed_ && !ta && !tb && k == X.rows && n == X.cols && ldb == X.rows)
    return kernels_->gemm(m, alpha, A, lda, X, beta, C, ldc);
  if (B == listed_ && !ta && tb && n == X.rows && k == X.cols && ldb == X.rows)
    return kernels_->update(m, alpha, A, lda, X, beta, C, ldc);
  throw Error("internal error: a GEMM reads the listed input batch in a way the sparse kernels do not serve");
}

void CpuOps::bias_sigmoid(int n, int m, const float* b, float* a) {
  if (const BiasSigmoidKernel kernel = cpu_path_bias_sigmoid()) return kernel(n, m, b, a);  // vectorised exp
  for (int j = 0; j < m; ++j)
    for (int i = 0; i < n; ++i) a[i + size_t(j) * n] = sigmoid(a[i + size_t(j) * n] + b[i]);
}

void CpuOps::bias_softmax(int n, int m, const float* b, float* a) {
  for (int j = 0; j < m; ++j) bias_softmax_column(n, b, a + size_t(j) * n);
}

namespace {

// The cost of a(n, m) against the labels, in four interleaved double sums: one chain of dependent
// adds would take longer than the rest of output_delta. One instance per cost, so that the
// quadratic one has no call to log in its loop (which made the sums live on the stack).
template <Cost kCost>
double cost_total(int n, int m, const float* a, const uint8_t* labels) {
  double total = 0;
  for (int j = 0; j < m; ++j) {
    const float* aj = a + size_t(j) * n;
    const int label = labels[j];
    const auto unit = [&](int i) { return double(unit_cost(kCost, aj[i], i == label ? 1.0f : 0.0f)); };
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
    for (; i + 3 < n; i += 4) {
      s0 += unit(i);
      s1 += unit(i + 1);
      s2 += unit(i + 2);
      s3 += unit(i + 3);
    }
    for (; i < n; ++i) (i % 4 == 0 ? s0 : i % 4 == 1 ? s1 : s2) += unit(i);
    total += (s0 + s1) + (s2 + s3);
  }
  return total;
}

}  // namespace

void CpuOps::output_delta(Cost cost, int n, int m, const float* a, const uint8_t* labels, float* d,
                          double* cost_sum) {
  // One loop per cost, so that each vectorises (y is 1 at the label's row, else 0).
  for (int j = 0; j < m; ++j) {
    const float* __restrict aj = a + size_t(j) * n;
    float* __restrict dj = d + size_t(j) * n;
    const int label = labels[j];
    if (cost == Cost::quadratic) {
      for (int i = 0; i < n; ++i) dj[i] = bp::output_delta(Cost::quadratic, aj[i], i == label ? 1.0f : 0.0f);
    } else {
      for (int i = 0; i < n; ++i) dj[i] = bp::output_delta(Cost::cross_entropy, aj[i], i == label ? 1.0f : 0.0f);
    }
  }
  *cost_sum += cost == Cost::quadratic       ? cost_total<Cost::quadratic>(n, m, a, labels)
               : cost == Cost::cross_entropy ? cost_total<Cost::cross_entropy>(n, m, a, labels)
                                             : cost_total<Cost::log_likelihood>(n, m, a, labels);
}

void CpuOps::hidden_delta(int n, int m, const float* a, float* d) {
  for (size_t i = 0; i < size_t(n) * m; ++i) d[i] *= sigmoid_prime_from_activation(a[i]);
}

// Not contracted into FMAs: alpha * sum and beta * c are rounded, then added, on every build (a
// native one would otherwise fuse one of the products, and which one the vectoriser decides).
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("fp-contract=off")))
#endif
void CpuOps::add_row_sums(int n, int m, float alpha, const float* d, float beta, float* c) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  // Column after column, so that the rows' sums advance side by side in vectors; each row still
  // adds its entries in column order, as a loop along the row would.
  constexpr int kBlock = 64;
  float sum[kBlock];
  for (int i0 = 0; i0 < n; i0 += kBlock) {
    const int rows = std::min(kBlock, n - i0);
    for (int i = 0; i < rows; ++i) sum[i] = 0.0f;
    for (int j = 0; j < m; ++j) {
      const float* col = d + i0 + size_t(j) * n;
      for (int i = 0; i < rows; ++i) sum[i] += col[i];
    }
    for (int i = 0; i < rows; ++i) c[i0 + i] = alpha * sum[i] + (beta == 0.0f ? 0.0f : beta * c[i0 + i]);
  }
}

void CpuOps::copy(size_t n, const float* src, float* dst) { std::memcpy(dst, src, n * sizeof(float)); }

void CpuOps::axpy(size_t n, float alpha, const float* __restrict x, float* __restrict y) {
  for (size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

namespace {

// Variant v of an image, row by row, each pixel through `convert`: each row is a blank one or a
// row of the image read from `dc` columns further along, so the loops stay as simple as the
// plain copy's.
template <class T, class Convert>
void gather_shifted(const uint8_t* __restrict p, size_t dim, size_t width, unsigned v, T* __restrict col,
                    Convert convert) {
  const long height = long(dim / width), w = long(width), dr = shift_rows(v), dc = shift_cols(v);
  for (long r = 0; r < height; ++r) {
    T* out = col + r * w;
    const long from = r + dr;
    if (from < 0 || from >= height) {
      for (long c = 0; c < w; ++c) out[c] = T(0);
      continue;
    }
    const uint8_t* row = p + from * w;
    for (long c = 0; c < w; ++c) out[c] = c + dc < 0 || c + dc >= w ? T(0) : convert(row[c + dc]);
  }
}

// An image's list (positions increasing) made the list of its variant v (kernels/shifts.cuh), in
// place: pixel (r, c) of the image is pixel (r - shift_rows(v), c - shift_cols(v)) of the
// variant, or falls off its edge. The same subtraction for every pixel keeps the order, so this
// is exactly the list of the shifted image. Returns the new count.
int shift_list(int32_t* index, float* value, int count, size_t dim, size_t width, unsigned v) {
  const long w = long(width), height = long(dim / width), dr = shift_rows(v), dc = shift_cols(v);
  int kept = 0;
  for (int q = 0; q < count; ++q) {
    const long r = index[q] / w - dr, c = index[q] % w - dc;
    if (r < 0 || r >= height || c < 0 || c >= w) continue;
    index[kept] = int32_t(r * w + c);
    value[kept++] = value[q];
  }
  return kept;
}

// A sparse batch that is denser than this goes to the dense kernels, which do fewer loads and
// stores per multiply-add.
constexpr double kMaxListedDensity = 0.5;

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
      gather_shifted(p, dim, e.width, v, col, normalise_pixel);
    }
    labels_out[j] = labels[image];
  }
  listed_ = nullptr;
}

bool CpuOps::gather_input(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m,
                          float* x, uint8_t* labels_out, Expansion e, const ListedImages* lists) {
  listed_ = nullptr;
  kernels_ = cpu_path_sparse_input();
  if (!kernels_ || m <= 0 || dim > (size_t(1) << 20) || size_t(m) * dim > (size_t(1) << 30)) {
    gather(pixels, labels, dim, idx, m, x, labels_out, e);
    return false;
  }
  if (index_.size() < size_t(m) * dim + 64) {
    index_.resize(size_t(m) * dim + 64);
    value_.resize(index_.size());
  }
  start_.resize(size_t(m) + 1);
  const float scale = normalise_pixel(1);
  size_t end = 0;
  start_[0] = 0;
  const bool use_lists = lists && lists->pixels == pixels && lists->dim == dim;
  for (int j = 0; j < m; ++j) {
    const size_t image = e.image(idx[j]);
    const unsigned v = e.variant(idx[j]);
    int32_t* index = index_.data() + end;
    float* value = value_.data() + end;
    int count;
    if (use_lists) {
      const uint32_t from = lists->start[image];
      count = int(lists->start[image + 1] - from);
      kernels_->widen(lists->index.data() + from, lists->value.data() + from, count, scale, index, value);
    } else {
      // The listing loop keeps few loads in flight: the next images' lines are asked for now.
      if (j + 2 < m) prefetch(pixels, dim, idx + j + 2, 1, e);
      count = kernels_->nonzeros(pixels + image * dim, int(dim), scale, index, value);
    }
    if (v != 0) count = shift_list(index, value, count, dim, e.width, v);
    end += size_t(count);
    start_[j + 1] = int32_t(end);
    labels_out[j] = labels[image];
  }
  return finish_listing(pixels, labels, dim, idx, m, x, labels_out, e, end);
}

// The batch listed (end entries) stands for x, unless it is too dense for the sparse kernels.
bool CpuOps::finish_listing(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m,
                            float* x, uint8_t* labels_out, Expansion e, size_t end) {
  if (double(end) > kMaxListedDensity * double(dim) * m) {
    gather(pixels, labels, dim, idx, m, x, labels_out, e);
    return false;
  }
  columns_ = SparseColumns{int(dim), m, index_.data(), value_.data(), start_.data()};
  listed_ = x;
  return true;
}

void CpuOps::prefetch(const uint8_t* pixels, size_t dim, const uint32_t* idx, int m, Expansion e) {
  for (int j = 0; j < m; ++j) {
    const uint8_t* p = pixels + e.image(idx[j]) * dim;
    for (size_t offset = 0; offset < dim; offset += 64) __builtin_prefetch(p + offset);
  }
}

void CpuOps::prefetch(const ListedImages& lists, const uint32_t* idx, int m, Expansion e) {
  for (int j = 0; j < m; ++j) {
    const size_t image = e.image(idx[j]);
    const uint32_t from = lists.start[image], to = lists.start[image + 1];
    for (uint32_t q = from; q < to; q += 32) __builtin_prefetch(lists.index.data() + q);
    for (uint32_t q = from; q < to; q += 64) __builtin_prefetch(lists.value.data() + q);
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
