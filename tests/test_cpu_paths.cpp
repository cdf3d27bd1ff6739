// The CPU backend on every kernel path this CPU can run (avx512, avx2, plain: cpu_path.hpp), on
// MNIST-like images (most pixels zero, so the sparse forward product and the sparse weight update
// are taken): 100 SGD steps of 784-30-10 stay within 1e-3 of the float64 reference, the same
// evaluation counts, and two runs on one path give the same bits. And the vectorised
// bias_sigmoid against float64.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <utility>

#include "base/rng.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_ops.hpp"
#include "cpu/cpu_path.hpp"
#include "reference/compare.hpp"
#include "reference/reference.hpp"

namespace bp {
namespace {

// Uniform bytes with ~80% of them set to zero, like MNIST's background.
LabelledImages sparse_images(size_t count, uint64_t seed) {
  LabelledImages images = synthetic_images(count, 28, 28, 10, seed);
  for (uint8_t& p : images.pixels) p = p < 204 ? 0 : p;
  return images;
}

std::vector<double> train_100_steps(Backend& backend, const LabelledImages& images, const Network& start,
                                    double lambda) {
  Hyper h;
  h.eta = 3.0;
  h.lambda = lambda;
  h.n = images.count;
  backend.load(start);
  backend.train(images.view(), epoch_permutation(7, 0, images.count), 10, h);
  Network out;
  backend.store(out);
  return flat_parameters(out);
}

TEST(CpuPaths, EveryPathStaysWithReferenceOnSparseImages) {
  const std::vector<std::string> paths = runnable_cpu_paths();
  std::cout << "CPU " << cpu_model_name() << ": runnable paths";
  for (const std::string& p : paths) std::cout << " " << p;
  std::cout << "\n";
  ASSERT_EQ(paths.back(), "plain");
  const std::string before = cpu_path();
  const LabelledImages images = sparse_images(1000, 5);
  for (double lambda : {0.0, 5.0}) {
    const Network start = initialise({784, 30, 10}, Init::normal, 3);
    auto ref = reference::make_backend();
    const std::vector<double> expected = train_100_steps(*ref, images, start, lambda);
    const Evaluation ref_eval = ref->evaluate(images.view());
    for (const std::string& path : paths) {
      ASSERT_TRUE(set_cpu_path(path));
      auto cpu = make_cpu_backend(1);
      const std::vector<double> got = train_100_steps(*cpu, images, start, lambda);
      const double worst = compare(expected, got, 1e-3).max_abs;  // infinite if any is NaN
      std::cout << "path " << path << ", lambda " << lambda << ": after 100 steps max |cpu - reference| = " << worst
                << "\n";
      EXPECT_LT(worst, 1e-3) << path;
      const Evaluation got_eval = cpu->evaluate(images.view());
      EXPECT_EQ(got_eval.correct, ref_eval.correct) << path;
      EXPECT_EQ(got_eval.predicted, ref_eval.predicted) << path;
      auto again = make_cpu_backend(1);
      EXPECT_EQ(train_100_steps(*again, images, start, lambda), got) << path << ": not reproducible run to run";
    }
  }
  set_cpu_path(before);
}

// bias_sigmoid (a vectorised exp on the avx512 and avx2 paths) against float64 on every path:
// within 4 ulp-ish (2e-6 relative, 1e-37 absolute near zero) over odd shapes, extremes that
// saturate, and NaN that must stay NaN; the padding after the block is untouched.
TEST(CpuPaths, BiasSigmoidMatchesFloat64OnEveryPath) {
  const std::string before = cpu_path();
  CpuOps ops;
  for (const std::string& path : runnable_cpu_paths()) {
    ASSERT_TRUE(set_cpu_path(path));
    for (const auto& [n, m] : {std::pair{30, 10}, std::pair{10, 10}, std::pair{17, 3}, std::pair{1, 1},
                               std::pair{100, 7}, std::pair{1030, 2}, std::pair{3, 40}}) {
      Rng rng{uint64_t(n * 100 + m)};
      std::vector<float> b(static_cast<size_t>(n)), a(static_cast<size_t>(n) * m + 5, -7.0f);
      for (float& x : b) x = float(rng.normal());
      for (size_t i = 0; i < size_t(n) * m; ++i) a[i] = float(rng.normal() * 12);
      a[0] = 200.0f;
      a[size_t(n) * m - 1] = -200.0f;
      if (n * m > 2) a[1] = std::numeric_limits<float>::quiet_NaN();
      const std::vector<float> z = a;
      ops.bias_sigmoid(n, m, b.data(), 0, a.data(), 0, 1);
      double worst = 0;
      for (int j = 0; j < m; ++j) {
        for (int i = 0; i < n; ++i) {
          const size_t at = i + size_t(j) * n;
          const double want = 1.0 / (1.0 + std::exp(-(double(z[at]) + double(b[i]))));
          if (std::isnan(z[at])) {
            EXPECT_TRUE(std::isnan(a[at])) << path;
            continue;
          }
          const double err = std::abs(a[at] - want);
          if (want > 1e-30) worst = std::max(worst, err / want);
          ASSERT_LE(err, 2e-6 * want + 1e-37) << path << " z=" << z[at] + b[i];
        }
      }
      for (size_t i = size_t(n) * m; i < a.size(); ++i) ASSERT_EQ(a[i], -7.0f) << "wrote past the block";
      std::cout << "path " << path << " bias_sigmoid " << n << "x" << m << ": largest relative error " << worst << "\n";
    }
  }
  set_cpu_path(before);
}

TEST(CpuPaths, UnknownOrUnrunnablePathIsRefused) {
  const std::string before = cpu_path();
  EXPECT_FALSE(set_cpu_path("avx1024"));
  EXPECT_EQ(cpu_path(), before);
}

}  // namespace
}  // namespace bp

namespace bp {
namespace {

// add_row_sums rounds alpha * sum and beta * c before adding them, on every build: a fused
// multiply-add would give other bits on a -march=native build than on a portable one. The sums
// go along each row in column order.
TEST(CpuPaths, RowSumsRoundEachProduct) {
  Rng rng(17);
  for (const auto& [n, m] : {std::pair{30, 10}, std::pair{10, 10}, std::pair{100, 7}, std::pair{3, 1}}) {
    std::vector<float> d(size_t(n) * m), c(static_cast<size_t>(n));
    for (float& x : d) x = float(rng.normal());
    for (float& x : c) x = float(rng.normal());
    for (float beta : {1.0f, 0.9f, 0.0f}) {
      const float alpha = -0.3f;
      std::vector<float> got = c;
      CpuOps ops;
      ops.add_row_sums(n, m, &alpha, d.data(), 0, &beta, got.data(), 0, 1);
      for (int i = 0; i < n; ++i) {
        volatile float sum = 0.0f;
        for (int j = 0; j < m; ++j) sum = sum + d[i + size_t(j) * n];
        volatile float scaled = alpha * sum;
        volatile float kept = beta == 0.0f ? 0.0f : beta * c[i];
        const float want = scaled + kept;
        ASSERT_EQ(got[i], want) << n << "x" << m << " beta " << beta << " row " << i;
      }
    }
  }
}

}  // namespace
}  // namespace bp
