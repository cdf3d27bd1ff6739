// GEMM (op(A) = op(B) = not transposed) that skips the zero entries of B, for the first layer's
// forward product with the input pixels: MNIST images are about 80% zeros, so Z = W X does a fifth
// of the dense work. The columns of B are compacted to their nonzero rows first; when more than
// kMaxDensity of B is nonzero (or B is transposed), nothing is computed and false is returned: use
// the dense path. Same arguments and meaning as cpu_gemm (see cpu_gemm.hpp); the summation order
// differs.
#pragma once

namespace bp {

inline constexpr double kMaxDensity = 0.3;

bool sparse_b_gemm(bool trans_b, int m, int n, int k, float alpha, const float* A, int lda, const float* B, int ldb,
                   float beta, float* C, int ldc);

}  // namespace bp
