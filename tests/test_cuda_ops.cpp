// The CUDA operation set (CudaOps: cuBLAS and kernels/) op by op against its CPU twin (CpuOps, whose
// K networks equal K separate runs bit for bit, test_networks_together.cpp), for one network and
// for three. Every test skips, with the reason, where no CUDA device is usable, and fails instead
// when BACKPROP_REQUIRE_GPU=1. Host copies go through the kernels' stream, then synchronise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "base/rng.hpp"
#include "cpu/cpu_ops.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_ops.hpp"
#include "cuda_test_helpers.hpp"
#include "data/dataset.hpp"
#include "model/step.hpp"

namespace bp {
namespace {

using test::kPoison;
using test::random_floats;
using test::to_device;
using test::to_host;

// Tolerances, relative to max(|expected|, 1), and why each is what it is:
constexpr double kSame = 0;            // gather, counts: integer work, the same normalise_pixel on both sides
constexpr double kElementwise = 1e-6;  // the same formulas (kernels/model_math.cuh); exp may differ in its last bits
constexpr double kSums = 1e-5;         // row sums of up to 257 terms, and the cost's double sums, in another order
constexpr double kGemm = 1e-4;         // up to 784 products summed in another order (the emulation: last to first)

// Element by element within rel (of max(|expected|, 1)); a NaN where the CPU has a number was
// never written, and a NaN the CPU kept (a gap between networks' operands, or padding rows,
// written by neither) must stay one.
void expect_close(const std::vector<float>& expected, const std::vector<float>& got, double rel,
                  const std::string& what) {
  ASSERT_EQ(expected.size(), got.size()) << what;
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(expected[i])) {
      ASSERT_TRUE(std::isnan(got[i])) << what << ": element " << i << " (a gap) was written";
      continue;
    }
    ASSERT_FALSE(std::isnan(got[i])) << what << ": element " << i << " was never written";
    const double scale = std::max(1.0, double(std::abs(expected[i])));
    worst = std::max(worst, std::abs(double(got[i]) - double(expected[i])) / scale);
    ASSERT_NEAR(got[i], expected[i], rel * scale) << what << " [" << i << "]";
  }
  if (rel > 0 && worst > rel / 10) std::cout << what << ": largest relative difference " << worst << "\n";
}

// The distance from one network's operand of `used` floats to the next one's: at least one
// aligned run of NaN between them, which no op may write.
size_t gapped(size_t used) { return round_up_aligned(used) + kMatrixAlignFloats; }

// K operands of `used` fresh random floats, network k's at k * stride, the gaps NaN; stride 0:
// one operand that all networks share.
std::vector<float> operands(size_t K, size_t stride, size_t used, uint64_t seed, double scale = 1.0) {
  const size_t copies = stride == 0 ? 1 : K, total = stride == 0 ? used : K * stride;
  std::vector<float> v(total, kPoison);
  const std::vector<float> r = random_floats(total, seed, scale);
  for (size_t k = 0; k < copies; ++k) std::copy_n(r.begin() + k * stride, used, v.begin() + k * stride);
  return v;
}

// Network k's matrix (rows, cols; ld > rows) at k * stride: the padding rows NaN, as the
// backends' weight matrices may have them (StepLayout::ldw).
void poison_padding(std::vector<float>& v, size_t K, size_t stride, int rows, int ld, int cols) {
  for (size_t k = 0; k < K; ++k)
    for (int j = 0; j < cols; ++j) std::fill_n(v.begin() + k * stride + size_t(j) * ld + rows, ld - rows, kPoison);
}

// Activations strictly inside (0, 1), as the costs and sigmoid'(z) = a(1-a) take them.
std::vector<float> activations(size_t K, size_t stride, size_t used, uint64_t seed) {
  std::vector<float> a = operands(K, stride, used, seed, 2.0);
  for (float& x : a) x = std::isnan(x) ? x : 1.0f / (1.0f + std::exp(-x));
  return a;
}

std::vector<uint8_t> random_labels(size_t n, int classes, uint64_t seed) {
  std::vector<uint8_t> labels(n);
  Rng rng(seed);
  for (uint8_t& l : labels) l = uint8_t(rng.below(uint64_t(classes)));
  return labels;
}

// A stream and a cuBLAS handle on it, and copies through that stream (it is non-blocking: a copy
// on the legacy default stream would not be ordered against the kernels).
struct Gpu {
  Stream stream;
  CublasHandle blas;
  Gpu() {
    BP_CUBLAS_CHECK(cublasSetStream(blas.get(), stream.get()));
    BP_CUBLAS_CHECK(cublasSetMathMode(blas.get(), CUBLAS_DEFAULT_MATH));
  }
  cudaStream_t s() const { return stream.get(); }
  template <class T>
  DeviceBuffer<T> dev(const std::vector<T>& host) {
    return to_device(host, s());
  }
  template <class T>
  std::vector<T> host(const DeviceBuffer<T>& d) {
    return to_host(d, s());
  }
};

// Every op of the step's set, CUDA against CPU, for K = 1 (one network: gemm_scaled is one SGEMM
// reading alpha and beta from device memory) and K = 3 (a strided batched SGEMM into the scratch,
// then the scale_add kernel). Each op gets fresh random inputs; network k's operands sit at
// strides wider than the matrices, with NaN in the gaps that must stay NaN; every output an op
// writes without reading is NaN before it runs; the per-network scalars differ, and one variant
// gives a network beta 0 with its output NaN (not to be read); the GEMMs take stride 0 for a
// shared B (evaluation's input) and a leading dimension of C with padding rows.
TEST(CudaOps, EveryOpMatchesTheCpuOpsForOneAndThreeNetworks) {
  SKIP_WITHOUT_GPU();
  Gpu g;
  const auto dev = [&](const auto& host) { return g.dev(host); };
  const auto host = [&](const auto& d) { return g.host(d); };
  uint64_t seed = 100;
  for (const size_t K : {size_t(1), size_t(3)}) {
    SCOPED_TRACE("K = " + std::to_string(K));
    const std::string nets = " (K=" + std::to_string(K) + ")";
    CpuOps cpu;
    DeviceBuffer<float> scratch(size_t(30) * 784 * K);  // the largest m * n below, per network
    CudaOps gpu{g.blas.get(), g.s(), scratch.data(), scratch.size()};
    const std::vector<float> alpha = random_floats(K, seed++);
    const auto d_alpha = dev(alpha);
    // beta: all nonzero; then network K / 2's is 0 (and its output NaN).
    std::vector<std::vector<float>> betas = {random_floats(K, seed++), random_floats(K, seed++)};
    betas[1][K / 2] = 0.0f;

    struct Shape {
      bool ta, tb;
      int m, n, k;
    };
    for (const Shape sh :
         {Shape{false, false, 30, 10, 784}, Shape{false, true, 30, 784, 10}, Shape{true, false, 30, 10, 10},
          Shape{true, true, 17, 9, 33}, Shape{false, false, 1, 1, 1}, Shape{false, true, 13, 37, 7}}) {
      const std::string shape = std::string(sh.ta ? "T" : "N") + (sh.tb ? "T" : "N") + " " + std::to_string(sh.m) +
                                "x" + std::to_string(sh.n) + "x" + std::to_string(sh.k);
      const int lda = sh.ta ? sh.k : sh.m, ldb = sh.tb ? sh.n : sh.k, ldc = sh.m + 3;
      const size_t a_used = size_t(lda) * (sh.ta ? sh.m : sh.k), b_used = size_t(ldb) * (sh.tb ? sh.k : sh.n);
      const size_t c_used = size_t(ldc) * sh.n, sa = gapped(a_used), sc = gapped(c_used);
      for (const bool shared_b : {false, true}) {
        const size_t sb = shared_b ? 0 : gapped(b_used);
        const std::string what = shape + (shared_b ? ", shared B" : "") + nets;
        for (const float beta : {0.0f, 0.9f}) {  // one alpha and beta for all networks
          const std::vector<float> A = operands(K, sa, a_used, seed++), B = operands(K, sb, b_used, seed++);
          std::vector<float> C = beta == 0 ? std::vector<float>(K * sc, kPoison) : operands(K, sc, c_used, seed++);
          poison_padding(C, K, sc, sh.m, ldc, sh.n);
          const auto dA = dev(A), dB = dev(B);
          auto dC = dev(C);
          cpu.gemm(sh.ta, sh.tb, sh.m, sh.n, sh.k, -0.5f, A.data(), lda, sa, B.data(), ldb, sb, beta, C.data(), ldc, sc,
                   K);
          gpu.gemm(sh.ta, sh.tb, sh.m, sh.n, sh.k, -0.5f, dA.data(), lda, sa, dB.data(), ldb, sb, beta, dC.data(), ldc,
                   sc, K);
          expect_close(C, host(dC), kGemm, "gemm " + what + " beta " + std::to_string(beta));
        }
        for (size_t v = 0; v < betas.size(); ++v) {  // each network's own alpha and beta, from device memory
          const std::vector<float>& beta = betas[v];
          const auto d_beta = dev(beta);
          const std::vector<float> A = operands(K, sa, a_used, seed++), B = operands(K, sb, b_used, seed++);
          std::vector<float> C = operands(K, sc, c_used, seed++);
          for (size_t k = 0; k < K; ++k)
            if (beta[k] == 0) std::fill_n(C.begin() + k * sc, c_used, kPoison);
          poison_padding(C, K, sc, sh.m, ldc, sh.n);
          const auto dA = dev(A), dB = dev(B);
          auto dC = dev(C);
          cpu.gemm_scaled(sh.ta, sh.tb, sh.m, sh.n, sh.k, alpha.data(), A.data(), lda, sa, B.data(), ldb, sb,
                          beta.data(), C.data(), ldc, sc, K);
          gpu.gemm_scaled(sh.ta, sh.tb, sh.m, sh.n, sh.k, d_alpha.data(), dA.data(), lda, sa, dB.data(), ldb, sb,
                          d_beta.data(), dC.data(), ldc, sc, K);
          expect_close(C, host(dC), kGemm, "gemm_scaled " + what + (v ? ", a beta of 0" : ""));
        }
      }
    }

    for (const auto& [n, m] :
         {std::pair{13, 7}, std::pair{10, 10}, std::pair{1, 1}, std::pair{37, 13}, std::pair{301, 257}}) {
      const std::string what = std::to_string(n) + "x" + std::to_string(m) + nets;
      const size_t used = size_t(n) * m, sm = gapped(used), sv = gapped(size_t(n));
      const size_t sl = size_t(m) + 5;            // bytes between the networks' labels
      for (const bool softmax : {false, true}) {  // in place: a_k = f(a_k + b_k)
        const std::vector<float> b = operands(K, sv, n, seed++);
        std::vector<float> a = operands(K, sm, used, seed++, 3.0);
        const auto db = dev(b);
        auto da = dev(a);
        if (softmax) {
          cpu.bias_softmax(n, m, b.data(), sv, a.data(), sm, K);
          gpu.bias_softmax(n, m, db.data(), sv, da.data(), sm, K);
        } else {
          cpu.bias_sigmoid(n, m, b.data(), sv, a.data(), sm, K);
          gpu.bias_sigmoid(n, m, db.data(), sv, da.data(), sm, K);
        }
        expect_close(a, host(da), kElementwise, (softmax ? "bias_softmax " : "bias_sigmoid ") + what);
      }
      for (const Cost cost : {Cost::quadratic, Cost::cross_entropy, Cost::log_likelihood}) {
        const std::vector<float> a = activations(K, sm, used, seed++);
        const std::vector<uint8_t> labels = random_labels(K * sl, n, seed++);
        std::vector<float> d(K * sm, kPoison);
        std::vector<double> sums(K);
        for (size_t k = 0; k < K; ++k) sums[k] = 0.5 + double(k);  // the op adds to them
        const auto da = dev(a);
        const auto dl = dev(labels);
        auto dd = dev(d);
        auto dsums = dev(sums);
        cpu.output_delta(cost, n, m, a.data(), sm, labels.data(), sl, d.data(), sm, sums.data(), K);
        gpu.output_delta(cost, n, m, da.data(), sm, dl.data(), sl, dd.data(), sm, dsums.data(), K);
        expect_close(d, host(dd), kElementwise, "output_delta " + cost_name(cost) + " " + what);
        const std::vector<double> got = host(dsums);
        for (size_t k = 0; k < K; ++k)
          EXPECT_NEAR(got[k], sums[k], kSums * std::abs(sums[k]))
              << "cost " << cost_name(cost) << " " << what << " network " << k;
      }
      {  // d_k *= a_k (1 - a_k), in place
        const std::vector<float> a = activations(K, sm, used, seed++);
        std::vector<float> d = operands(K, sm, used, seed++);
        const auto da = dev(a);
        auto dd = dev(d);
        cpu.hidden_delta(n, m, a.data(), sm, d.data(), sm, K);
        gpu.hidden_delta(n, m, da.data(), sm, dd.data(), sm, K);
        expect_close(d, host(dd), kElementwise, "hidden_delta " + what);
      }
      for (size_t v = 0; v < betas.size(); ++v) {  // c_k = beta[k] c_k + alpha[k] rowsum(d_k)
        const std::vector<float> d = operands(K, sm, used, seed++);
        std::vector<float> c = operands(K, sv, n, seed++);
        for (size_t k = 0; k < K; ++k)
          if (betas[v][k] == 0) std::fill_n(c.begin() + k * sv, n, kPoison);
        const auto dd = dev(d), d_beta = dev(betas[v]);
        auto dc = dev(c);
        cpu.add_row_sums(n, m, alpha.data(), d.data(), sm, betas[v].data(), c.data(), sv, K);
        gpu.add_row_sums(n, m, d_alpha.data(), dd.data(), sm, d_beta.data(), dc.data(), sv, K);
        expect_close(c, host(dc), kSums, "add_row_sums " + what + (v ? ", a beta of 0" : ""));
      }
      {  // y_k += alpha[k] x_k
        const std::vector<float> x = operands(K, sm, used, seed++);
        std::vector<float> y = operands(K, sm, used, seed++);
        const auto dx = dev(x);
        auto dy = dev(y);
        cpu.axpy_scaled(used, alpha.data(), x.data(), sm, y.data(), sm, K);
        gpu.axpy_scaled(used, d_alpha.data(), dx.data(), sm, dy.data(), sm, K);
        expect_close(y, host(dy), kElementwise, "axpy_scaled " + what);
      }
      {  // one flat run over all networks: y += alpha x, then a copy into NaN
        const std::vector<float> x = random_floats(K * used, seed++);
        std::vector<float> y = random_floats(K * used, seed++), copied(K * used, kPoison);
        const auto dx = dev(x);
        auto dy = dev(y);
        auto dcopy = dev(copied);
        cpu.axpy(K * used, -0.3f, x.data(), y.data());
        gpu.axpy(K * used, -0.3f, dx.data(), dy.data());
        expect_close(y, host(dy), kElementwise, "axpy " + what);
        cpu.copy(K * used, x.data(), copied.data());
        gpu.copy(K * used, dx.data(), dcopy.data());
        expect_close(copied, host(dcopy), kSame, "copy " + what);
      }
      {  // per-class counts (shared labels), added to what the counters held; count_correct (one network)
        const std::vector<float> a = operands(K, sm, used, seed++);
        const std::vector<uint8_t> labels = random_labels(size_t(m), n, seed++);
        std::vector<uint64_t> want(K * (n + 1));
        for (size_t i = 0; i < want.size(); ++i) want[i] = i * 7;
        const auto da = dev(a);
        const auto dl = dev(labels);
        auto dcounts = dev(std::vector<unsigned long long>(want.begin(), want.end()));
        cpu.count_predictions(n, m, a.data(), sm, labels.data(), want.data(), K);
        gpu.count_predictions(n, m, da.data(), sm, dl.data(), dcounts.data(), K);
        const std::vector<unsigned long long> got = host(dcounts);
        EXPECT_EQ(std::vector<uint64_t>(got.begin(), got.end()), want) << "count_predictions " << what;
        EXPECT_EQ(gpu.count_correct(n, m, da.data(), dl.data()), cpu.count_correct(n, m, a.data(), labels.data()))
            << "count_correct " << what;
      }
    }

    // Per-network index lists into strided columns and labels: 28 x 28 images, plain and with
    // the four shifted copies; 5 x 7 images (rows and columns differ) through every variant.
    struct Images {
      LabelledImages images;
      size_t dim;
    };
    for (const Images& im :
         {Images{synthetic_images(300, 28, 28, 10, seed++), 784}, Images{synthetic_images(40, 5, 7, 10, seed++), 35}}) {
      const auto pixels = dev(im.images.pixels), labels = dev(im.images.labels);
      const int m = 11;
      const size_t si = m + 4, sx = gapped(im.dim * m), sl = 16;
      for (const bool shifted : {false, true}) {
        const DataView view = shifted ? im.images.view().shifted() : im.images.view();
        const std::string what = std::string("gather ") + (shifted ? "shifted " : "") + std::to_string(im.dim) + nets;
        std::vector<uint32_t> idx(K * si, 0xFFFFFFFFu);  // the gaps: no sample
        Rng rng(seed++);
        for (size_t k = 0; k < K; ++k)
          for (int j = 0; j < m; ++j)  // variant j % 5 of a random image, so that every variant comes up
            idx[k * si + j] =
                uint32_t(rng.below(im.images.count) + (shifted ? (j % kShiftVariants) * im.images.count : 0));
        std::vector<float> x(K * sx, kPoison);
        std::vector<uint8_t> out(K * sl, 255);
        const auto didx = dev(idx);
        auto dx = dev(x);
        auto dout = dev(out);
        cpu.gather(im.images.pixels.data(), im.images.labels.data(), im.dim, idx.data(), si, m, x.data(), sx,
                   out.data(), sl, K, view.expansion());
        gpu.gather(pixels.data(), labels.data(), im.dim, didx.data(), si, m, dx.data(), sx, dout.data(), sl, K,
                   view.expansion());
        expect_close(x, host(dx), kSame, what);
        EXPECT_EQ(host(dout), out) << what << " labels";
      }
    }
  }
}

// More columns than gridDim.y may hold (65,535): the kernel loops over the rest, for one network
// and for three (network k's column j is grid column k * m + j).
TEST(CudaOps, GatherTakesBatchesBeyondTheGridLimit) {
  SKIP_WITHOUT_GPU();
  Gpu g;
  const auto dev = [&](const auto& host) { return g.dev(host); };
  const auto host = [&](const auto& d) { return g.host(d); };
  const LabelledImages images = synthetic_images(1000, 3, 1, 10, 5);
  const auto pixels = dev(images.pixels), labels_in = dev(images.labels);
  for (const auto& [K, m] : {std::pair{size_t(1), 70001}, std::pair{size_t(3), 23335}}) {
    std::vector<uint32_t> idx(K * size_t(m));
    Rng rng(6);
    for (uint32_t& i : idx) i = uint32_t(rng.below(1000));
    std::vector<float> x(K * 3 * size_t(m));
    std::vector<uint8_t> labels(K * size_t(m));
    CpuOps cpu;
    cpu.gather(images.pixels.data(), images.labels.data(), 3, idx.data(), size_t(m), m, x.data(), 3 * size_t(m),
               labels.data(), size_t(m), K);
    CudaOps gpu{g.blas.get(), g.s()};
    const auto d_idx = dev(idx);
    auto d_x = dev(std::vector<float>(x.size(), kPoison));
    auto d_labels = dev(std::vector<uint8_t>(labels.size(), 255));
    gpu.gather(pixels.data(), labels_in.data(), 3, d_idx.data(), size_t(m), m, d_x.data(), 3 * size_t(m),
               d_labels.data(), size_t(m), K);
    EXPECT_EQ(host(d_x), x) << "K = " << K;
    EXPECT_EQ(host(d_labels), labels) << "K = " << K;
  }
}

}  // namespace
}  // namespace bp
