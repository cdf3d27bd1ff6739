// See cpu_gemm.hpp. The hand-written kernels (cpu_kernels.hpp) of the path cpu_path chose get
// the first look at every call; what they decline goes to a dot-product loop (tiny transposed
// shapes) or BLIS.
#include "cpu/cpu_gemm.hpp"

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/cpu_kernels.hpp"
#include "cpu/cpu_path.hpp"

extern "C" void bli_thread_set_num_threads(long n_threads);

namespace bp {

void blas_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* A, int lda, const float* B,
               int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasColMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha,
              A, lda, B, ldb, beta, C, ldc);
}

void set_blas_threads(int threads) { bli_thread_set_num_threads(threads > 0 ? threads : 0); }

namespace {

// op(A) = A^T for tiny shapes (the backward pass through a small output layer): dot products
// over contiguous columns of A, cheaper than a BLAS call's setup.
void small_transposed_gemm(bool trans_b, int m, int n, int k, float alpha, const float* A, int lda, const float* B,
                           int ldb, float beta, float* C, int ldc) {
  constexpr int kRows = 64;  // independent sums, so no add waits on the one before it
  float acc[kRows];
  for (int j = 0; j < n; ++j) {
    for (int i0 = 0; i0 < m; i0 += kRows) {
      const int rows = std::min(kRows, m - i0);
      std::fill(acc, acc + rows, 0.0f);
      for (int p = 0; p < k; ++p) {
        const float b = trans_b ? B[j + size_t(p) * ldb] : B[p + size_t(j) * ldb];
        const float* a = A + p + size_t(i0) * lda;
        for (int i = 0; i < rows; ++i) acc[i] += a[size_t(i) * lda] * b;
      }
      float* c = C + i0 + size_t(j) * ldc;
      for (int i = 0; i < rows; ++i) c[i] = alpha * acc[i] + (beta == 0.0f ? 0.0f : beta * c[i]);
    }
  }
}

}  // namespace

int32_t* cpu_kernel_scratch(size_t count) {
  thread_local std::vector<int32_t> scratch;
  if (scratch.size() < count) scratch.resize(count);
  return scratch.data();
}

float* cpu_kernel_float_scratch(size_t count) {
  thread_local std::vector<float> scratch;
  if (scratch.size() < count) scratch.resize(count);
  return scratch.data();
}

void cpu_gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* A, int lda, const float* B,
              int ldb, float beta, float* C, int ldc) {
  if (m <= 0 || n <= 0) return;
  if (const GemmKernels kernels = cpu_path_kernels();
      kernels && kernels(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc))
    return;
  if (trans_a && size_t(m) * n * k <= 65536)
    return small_transposed_gemm(trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  blas_gemm(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

std::string cpu_gemm_description() {
  const std::string& path = cpu_path();
  if (path == "plain") return "plain path: BLIS for every GEMM";
  return path + " path: " + (path == "avx512" ? "AVX-512" : "AVX2+FMA") +
         " kernels for sparse inputs and skinny shapes, BLIS otherwise";
}

}  // namespace bp
