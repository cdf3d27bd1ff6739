// The CPU backend on every kernel path this CPU can run (avx512, avx2, plain: cpu_path.hpp), on
// MNIST-like images (most pixels zero, so the sparse forward product and the sparse weight update
// are taken): 100 SGD steps of 784-30-10 stay within 1e-3 of the float64 reference, the same
// evaluation counts, and two runs on one path give the same bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_path.hpp"
#include "model/rng.hpp"
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

std::vector<double> train_100_steps(Backend& backend, const LabelledImages& images, const Network& start, double lambda) {
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
    const size_t ref_correct = ref->evaluate(images.view());
    for (const std::string& path : paths) {
      ASSERT_TRUE(set_cpu_path(path));
      auto cpu = make_cpu_backend(1);
      const std::vector<double> got = train_100_steps(*cpu, images, start, lambda);
      double worst = 0;
      for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - expected[i]));
      std::cout << "path " << path << ", lambda " << lambda << ": after 100 steps max |cpu - reference| = " << worst
                << "\n";
      EXPECT_LT(worst, 1e-3) << path;
      EXPECT_EQ(cpu->evaluate(images.view()), ref_correct) << path;
      auto again = make_cpu_backend(1);
      EXPECT_EQ(train_100_steps(*again, images, start, lambda), got) << path << ": not reproducible run to run";
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
