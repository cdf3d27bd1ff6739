// a = sigmoid(a + b) over a column-major (n, m) block, b broadcast along the columns, vectorised
// over a vector ISA `I` (simd_avx512.hpp, simd_avx2.hpp) and compiled per ISA like the GEMM
// kernels. exp is Cephes' expf (Cody-Waite reduction to [-ln2/2, ln2/2], degree-6 polynomial,
// within about 2 ulp of the true value) where the scalar loop calls libm's expf one value at a
// time; 1 / (1 + e) is the same division. NaN comes through as NaN, and inputs beyond +-88 are
// clamped, which changes results only below float's normal range.
#pragma once

namespace bp::simd {
namespace {

template <class I>
typename I::Vec exp_cephes(typename I::Vec x) {
  x = I::clamp(x, -87.0f, 88.0f);
  const auto n = I::round(I::mul(x, I::set1(1.44269504088896341f)));  // x / ln 2
  auto r = I::sub(x, I::mul(n, I::set1(0.693359375f)));               // x - n ln 2, in two parts
  r = I::sub(r, I::mul(n, I::set1(-2.12194440e-4f)));
  auto p = I::set1(1.9875691500e-4f);
  p = I::fmadd(p, r, I::set1(1.3981999507e-3f));
  p = I::fmadd(p, r, I::set1(8.3334519073e-3f));
  p = I::fmadd(p, r, I::set1(4.1665795894e-2f));
  p = I::fmadd(p, r, I::set1(1.6666665459e-1f));
  p = I::fmadd(p, r, I::set1(5.0000001201e-1f));
  p = I::add(I::fmadd(p, I::mul(r, r), r), I::set1(1.0f));
  return I::scale_by_power_of_two(p, n);
}

template <class I>
typename I::Vec sigmoid(typename I::Vec z) {
  const auto one = I::set1(1.0f);
  return I::div(one, I::add(one, exp_cephes<I>(I::sub(I::zero(), z))));
}

// The block is walked as one flat array, b's lanes read from b repeated (bx[i] = b[i mod n]):
// column by column, each column's first load would overlap the previous column's masked store
// and wait for it, which serialises the exp of every column behind the one before (measured:
// the same ~370 ns for 15 x 10 as for 30 x 10). Very tall blocks go column by column.
template <class I>
void bias_sigmoid(int n, int m, const float* b, float* a) {
  constexpr int W = I::kWidth, kMaxFlat = 1024;
  if (n <= kMaxFlat) {
    float bx[kMaxFlat + W];
    for (int i = 0; i < n + W; i += n)  // b whole, then again; a modulo per lane took a third of the time
      for (int k = 0; k < n && i + k < n + W; ++k) bx[i + k] = b[k];
    const long total = long(n) * m;
    int r = 0;  // t mod n
    for (long t = 0; t < total; t += W) {
      const auto mask = I::mask(total - t < W ? int(total - t) : W);
      I::store(a + t, mask, sigmoid<I>(I::add(I::load(mask, a + t), I::load(bx + r))));
      for (r += W; r >= n;) r -= n;
    }
    return;
  }
  for (int j = 0; j < m; ++j) {
    float* col = a + long(j) * n;
    for (int i = 0; i < n; i += W) {
      const auto mask = I::mask(n - i);
      I::store(col + i, mask, sigmoid<I>(I::add(I::load(mask, col + i), I::load(mask, b + i))));
    }
  }
}

}  // namespace
}  // namespace bp::simd
