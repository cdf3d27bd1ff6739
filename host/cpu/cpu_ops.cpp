// Loops for the elementwise operations of CpuOps; the formulas live in kernels/model_math.cuh.
#include "cpu/cpu_ops.hpp"

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "cpu/cpu_path.hpp"

namespace bp {

namespace {

// ---- one network's loops; the ops below run them on each network's operands in turn ----

void bias_sigmoid_one(int n, int m, const float* b, float* a) {
  if (const BiasSigmoidKernel kernel = cpu_path_bias_sigmoid()) return kernel(n, m, b, a);  // vectorised exp
  for (int j = 0; j < m; ++j)
    for (int i = 0; i < n; ++i) a[i + size_t(j) * n] = sigmoid(a[i + size_t(j) * n] + b[i]);
}

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

void output_delta_one(Cost cost, int n, int m, const float* a, const uint8_t* labels, float* d, double* cost_sum) {
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

// Not contracted into FMAs: alpha * sum and beta * c are rounded, then added, on every build (a
// native one would otherwise fuse one of the products, and which one the vectoriser decides).
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("fp-contract=off")))
#endif
void add_row_sums_one(int n, int m, float alpha, const float* d, float beta, float* c) {
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

void axpy_one(size_t n, float alpha, const float* __restrict x, float* __restrict y) {
  for (size_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

}  // namespace

const SparseColumns* CpuOps::listed(const float* p, size_t stride, size_t k) const {
  if (!listed_ || p != listed_) return nullptr;
  if (stride != listed_stride_ || (stride != 0 && k >= listed_count_))
    throw Error("internal error: a GEMM reads the listed input batches with another stride or count");
  const Listing& L = listings_[stride == 0 ? 0 : k];
  return L.sparse ? &L.columns : nullptr;
}

void CpuOps::gemm_one(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, size_t sa,
                      const float* B, int ldb, size_t sb, float beta, float* C, int ldc, size_t net) {
  const float *A_k = A + net * sa, *B_k = B + net * sb;
  const SparseColumns* X = listed(B, sb, net);
  if (listed(A, sa, net))
    throw Error("internal error: a GEMM reads the listed input batch in a way the sparse kernels do not serve");
  if (!X) return cpu_gemm(ta, tb, m, n, k, alpha, A_k, lda, B_k, ldb, beta, C, ldc);
  if (!ta && !tb && k == X->rows && n == X->cols && ldb == X->rows)
    return kernels_->gemm(m, alpha, A_k, lda, *X, beta, C, ldc);
  if (!ta && tb && n == X->rows && k == X->cols && ldb == X->rows)
    return kernels_->update(m, alpha, A_k, lda, *X, beta, C, ldc);
  throw Error("internal error: a GEMM reads the listed input batch in a way the sparse kernels do not serve");
}

void CpuOps::gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float* A, int lda, size_t sa,
                  const float* B, int ldb, size_t sb, float beta, float* C, int ldc, size_t sc, size_t count) {
  for (size_t i = 0; i < count; ++i) gemm_one(ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C + i * sc, ldc, i);
}

void CpuOps::gemm_scaled(bool ta, bool tb, int m, int n, int k, const float* alpha, const float* A, int lda, size_t sa,
                         const float* B, int ldb, size_t sb, const float* beta, float* C, int ldc, size_t sc,
                         size_t count) {
  for (size_t i = 0; i < count; ++i)
    gemm_one(ta, tb, m, n, k, alpha[i], A, lda, sa, B, ldb, sb, beta[i], C + i * sc, ldc, i);
}

void CpuOps::bias_sigmoid(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count) {
  for (size_t i = 0; i < count; ++i) bias_sigmoid_one(n, m, b + i * sb, a + i * sa);
}

void CpuOps::bias_softmax(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count) {
  for (size_t i = 0; i < count; ++i)
    for (int j = 0; j < m; ++j) bias_softmax_column(n, b + i * sb, a + i * sa + size_t(j) * n);
}

void CpuOps::output_delta(Cost cost, int n, int m, const float* a, size_t sa, const uint8_t* labels, size_t sl,
                          float* d, size_t sd, double* cost_sums, size_t count) {
  for (size_t i = 0; i < count; ++i)
    output_delta_one(cost, n, m, a + i * sa, labels + i * sl, d + i * sd, cost_sums + i);
}

void CpuOps::hidden_delta(int n, int m, const float* a, size_t sa, float* d, size_t sd, size_t count) {
  for (size_t k = 0; k < count; ++k) {
    const float* ak = a + k * sa;
    float* dk = d + k * sd;
    for (size_t i = 0; i < size_t(n) * m; ++i) dk[i] *= sigmoid_prime_from_activation(ak[i]);
  }
}

void CpuOps::add_row_sums(int n, int m, const float* alpha, const float* d, size_t sd, const float* beta, float* c,
                          size_t sc, size_t count) {
  for (size_t i = 0; i < count; ++i) add_row_sums_one(n, m, alpha[i], d + i * sd, beta[i], c + i * sc);
}

void CpuOps::axpy_scaled(size_t n, const float* alpha, const float* x, size_t sx, float* y, size_t sy, size_t count) {
  for (size_t i = 0; i < count; ++i) axpy_one(n, alpha[i], x + i * sx, y + i * sy);
}

void CpuOps::axpy(size_t n, float alpha, const float* x, float* y) { axpy_one(n, alpha, x, y); }

void CpuOps::copy(size_t n, const float* src, float* dst) { std::memcpy(dst, src, n * sizeof(float)); }

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

// One network's batch, densely (x(dim, m), labels_out(m)).
void gather_one(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m, float* x,
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
}

}  // namespace

void CpuOps::gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si, int m,
                    float* x, size_t sx, uint8_t* labels_out, size_t sl, size_t count, Expansion e) {
  listed_ = nullptr;
  const size_t batches = sx == 0 ? std::min<size_t>(count, 1) : count;  // a shared input is gathered once
  for (size_t k = 0; k < batches; ++k)
    gather_one(pixels, labels, dim, idx + k * si, m, x + k * sx, labels_out + k * sl, e);
}

size_t CpuOps::gather_input(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si,
                            int m, float* x, size_t sx, uint8_t* labels_out, size_t sl, size_t count, Expansion e,
                            const ListedImages* lists) {
  listed_ = nullptr;
  kernels_ = cpu_path_sparse_input();
  if (!kernels_ || m <= 0 || dim > (size_t(1) << 20) || size_t(m) * dim > (size_t(1) << 30)) {
    gather(pixels, labels, dim, idx, si, m, x, sx, labels_out, sl, count, e);
    return 0;
  }
  // A shared input (stride 0) is one batch, listed once for every network.
  const size_t batches = sx == 0 ? std::min<size_t>(count, 1) : count;
  if (listings_.size() < batches) listings_.resize(batches);
  size_t sparse = 0;
  for (size_t k = 0; k < batches; ++k)
    sparse += list_one(listings_[k], pixels, labels, dim, idx + k * si, m, x + k * sx, labels_out + k * sl, e, lists);
  listed_ = x;
  listed_stride_ = sx;
  listed_count_ = batches;
  return sparse;
}

// One network's batch into L as its nonzero pixels, or into x densely where it is too dense for
// the sparse kernels. Returns whether it was listed.
bool CpuOps::list_one(Listing& L, const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m,
                      float* x, uint8_t* labels_out, Expansion e, const ListedImages* lists) {
  if (L.index.size() < size_t(m) * dim + 64) {
    L.index.resize(size_t(m) * dim + 64);
    L.value.resize(L.index.size());
  }
  L.start.resize(size_t(m) + 1);
  const float scale = normalise_pixel(1);
  size_t end = 0;
  L.start[0] = 0;
  const bool use_lists = lists && lists->pixels == pixels && lists->dim == dim;
  for (int j = 0; j < m; ++j) {
    const size_t image = e.image(idx[j]);
    const unsigned v = e.variant(idx[j]);
    int32_t* index = L.index.data() + end;
    float* value = L.value.data() + end;
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
    L.start[j + 1] = int32_t(end);
    labels_out[j] = labels[image];
  }
  L.sparse = double(end) <= kMaxListedDensity * double(dim) * m;
  if (!L.sparse) {
    gather_one(pixels, labels, dim, idx, m, x, labels_out, e);
    return false;
  }
  L.columns = SparseColumns{int(dim), m, L.index.data(), L.value.data(), L.start.data()};
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

void CpuOps::count_predictions(int n, int m, const float* a, size_t sa, const uint8_t* labels, uint64_t* counts,
                               size_t count) {
  for (size_t k = 0; k < count; ++k) {
    uint64_t* ck = counts + k * (size_t(n) + 1);
    for (int j = 0; j < m; ++j) {
      const int predicted = argmax(a + k * sa + size_t(j) * n, n);
      ++ck[predicted];
      ck[n] += predicted == labels[j];
    }
  }
}

}  // namespace bp
