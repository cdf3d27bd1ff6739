// cpu_gemm against a plain float64 triple loop for every transpose combination, odd sizes, padded
// leading dimensions, beta = 0 over a poisoned C and beta != 0; both the skinny kernel and the
// BLAS path are exercised, on every kernel path (avx512, avx2, plain) this CPU can run. Each entry must lie within the
// float32 rounding bound 4 * sqrt(k) * eps * (|alpha| sum_p |a_ip b_pj| + |beta c_ij|) of the exact value.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "base/rng.hpp"
#include "cpu/cpu_gemm.hpp"
#include "cpu/cpu_path.hpp"

namespace bp {
namespace {

struct Shape {
  bool ta, tb;
  int m, n, k;
};

// zero_fraction of B's entries are zeros (input pixels are ~80% zeros), to reach the sparse path.
void check(const Shape& s, float alpha, float beta, bool via_blas, double zero_fraction = 0.0) {
  Rng rng(uint64_t(s.m * 131 + s.n * 17 + s.k + s.ta * 2 + s.tb));
  const int rows_a = s.ta ? s.k : s.m, cols_a = s.ta ? s.m : s.k;
  const int rows_b = s.tb ? s.n : s.k, cols_b = s.tb ? s.k : s.n;
  const int lda = rows_a + 3, ldb = rows_b + 1, ldc = s.m + 2;  // padded on purpose
  std::vector<float> A(size_t(lda) * cols_a), B(size_t(ldb) * cols_b), C(size_t(ldc) * s.n);
  for (float& x : A) x = float(rng.normal());
  for (float& x : B) x = rng.uniform() < zero_fraction ? 0.0f : float(rng.normal());
  for (float& x : C) x = beta == 0 ? std::numeric_limits<float>::quiet_NaN() : float(rng.normal());
  std::vector<double> expected(size_t(s.m) * s.n), bound(expected.size());
  for (int j = 0; j < s.n; ++j) {
    for (int i = 0; i < s.m; ++i) {
      double sum = 0, magnitude = 0;
      for (int p = 0; p < s.k; ++p) {
        const double a = s.ta ? A[p + size_t(i) * lda] : A[i + size_t(p) * lda];
        const double b = s.tb ? B[j + size_t(p) * ldb] : B[p + size_t(j) * ldb];
        sum += a * b;
        magnitude += std::abs(a * b);
      }
      const double c = beta == 0 ? 0.0 : beta * double(C[i + size_t(j) * ldc]);
      expected[i + size_t(j) * s.m] = alpha * sum + c;
      bound[i + size_t(j) * s.m] =
          4 * std::sqrt(double(s.k) + 1) * 0x1p-23 * (std::abs(alpha) * magnitude + std::abs(c)) + 1e-30;
    }
  }
  std::vector<float> padding_before(C.size());
  for (size_t i = 0; i < C.size(); ++i) padding_before[i] = C[i];
  (via_blas ? blas_gemm : cpu_gemm)(s.ta, s.tb, s.m, s.n, s.k, alpha, A.data(), lda, B.data(), ldb, beta, C.data(),
                                    ldc);
  const std::string what = std::string(s.ta ? "T" : "N") + (s.tb ? "T" : "N") + " m=" + std::to_string(s.m) +
                           " n=" + std::to_string(s.n) + " k=" + std::to_string(s.k) + " beta=" + std::to_string(beta) +
                           " zeros=" + std::to_string(zero_fraction);
  for (int j = 0; j < s.n; ++j) {
    for (int i = 0; i < s.m; ++i) {
      const double got = C[i + size_t(j) * ldc], want = expected[i + size_t(j) * s.m];
      ASSERT_LE(std::abs(got - want), bound[i + size_t(j) * s.m]) << what << " at (" << i << ", " << j << ")";
    }
    for (int i = s.m; i < ldc; ++i) {  // the padding rows must be untouched
      const float before = padding_before[i + size_t(j) * ldc], after = C[i + size_t(j) * ldc];
      ASSERT_TRUE((std::isnan(before) && std::isnan(after)) || before == after) << "wrote padding row " << i;
    }
  }
}

// Runs `body` once on each kernel path this CPU can run, restoring the path chosen at start.
template <class F>
void on_every_path(F body) {
  const std::string before = cpu_path();
  for (const std::string& path : runnable_cpu_paths()) {
    ASSERT_TRUE(set_cpu_path(path));
    SCOPED_TRACE("kernel path " + path);
    body();
    if (::testing::Test::HasFatalFailure()) break;
  }
  set_cpu_path(before);
}

TEST(CpuGemm, MatchesFloat64Loops) {
  on_every_path([] {
    const std::vector<Shape> shapes = {
        {false, false, 30, 10, 784}, {false, true, 30, 784, 10},  {true, false, 30, 10, 10}, {false, false, 1, 1, 1},
        {false, false, 17, 13, 5},   {false, true, 33, 7, 29},    {true, true, 9, 11, 6},    {true, false, 100, 40, 64},
        {false, false, 70, 45, 50},  {false, true, 64, 50, 40},   {true, true, 40, 40, 40},  {false, false, 16, 12, 3},
        {true, false, 70, 13, 20},   {true, false, 1000, 10, 10}, {true, false, 17, 5, 12},  {true, false, 32, 9, 1},
        {true, false, 1, 3, 7}};
    for (const Shape& s : shapes) {
      for (float beta : {0.0f, 0.75f}) {
        check(s, 1.0f, beta, false);
        check(s, -0.3f, beta, true);
      }
    }
  });
}

// The kernels behind cpu_gemm's dispatch, each at the edges of its range.
TEST(CpuGemm, SparseInputPathMatches) {
  on_every_path([] {
    // NN with long, mostly-zero columns of B: row passes of 64 and their tails, beta 0 and not.
    for (const Shape& s : {Shape{false, false, 30, 10, 784}, Shape{false, false, 70, 13, 300},
                           Shape{false, false, 1, 3, 256}, Shape{false, false, 129, 7, 500}}) {
      for (float beta : {0.0f, 1.0f, 0.3f}) {
        check(s, 1.0f, beta, false, 0.8);
        check(s, -2.0f, beta, false, 0.995);  // columns that are all zeros
      }
    }
  });
}

TEST(CpuGemm, RankKUpdatePathMatches) {
  // NT with k <= 12 and m <= 32: every k, one to four row vectors, column-group remainders; long
  // B with beta 1 takes the update over only the nonzero rows of B (0.95 zeros: most skipped).
  on_every_path([] {
    for (int k = 1; k <= 12; ++k) {
      for (int m : {1, 8, 9, 17, 30, 32, 70}) {  // under ASan this test is the slowest: kept short
        for (int n : {1, 5, 784}) {
          for (float beta : {0.0f, 1.0f, 0.99f})
            check({false, true, m, n, k}, -0.3f, beta, false, k % 3 == 0 ? 0.0 : k % 3 == 1 ? 0.8 : 0.95);
        }
      }
    }
  });
}

// The update over only the columns of W whose pixel is nonzero in some sample (beta 1, long B)
// must give the very bits of the dense update: the same columns, computed in blocks of fewer than
// 256 columns (which the kernels update densely), on MNIST-like inputs.
TEST(CpuGemm, SparseUpdateIsBitIdenticalToDense) {
  on_every_path([] {
    for (int m : {15, 30, 100}) {
      const int n = 784, k = 10;
      Rng rng{uint64_t(m)};
      std::vector<float> D(size_t(m) * k), X(size_t(n) * k), W(size_t(m) * n);
      for (float& x : D) x = float(rng.normal());
      for (int p = 0; p < k; ++p)  // pixels lit in a band, as digits are: most columns stay zero
        for (int j = 0; j < n; ++j)
          X[j + size_t(p) * n] = (j / 28 + p) % 5 == 0 && rng.uniform() < 0.6 ? float(rng.uniform()) : 0.0f;
      for (float& x : W) x = float(rng.normal());
      std::vector<float> sparse = W, dense = W;
      cpu_gemm(false, true, m, n, k, -0.3f, D.data(), m, X.data(), n, 1.0f, sparse.data(), m);
      for (int j0 = 0; j0 < n; j0 += 200)
        cpu_gemm(false, true, m, std::min(200, n - j0), k, -0.3f, D.data(), m, X.data() + j0, n, 1.0f,
                 dense.data() + size_t(j0) * m, m);
      size_t changed = 0;
      for (size_t i = 0; i < W.size(); ++i) {
        ASSERT_EQ(sparse[i], dense[i]) << "m=" << m << " at " << i;
        changed += sparse[i] != W[i];
      }
      EXPECT_GT(changed, 0u);
      EXPECT_LT(changed, W.size());
    }
  });
}

}  // namespace
}  // namespace bp
