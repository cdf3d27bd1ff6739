// Seeds: the same seed gives identical weights and shuffles; different seeds differ.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "base/rng.hpp"
#include "model/network.hpp"

namespace bp {
namespace {

TEST(Rng, SameSeedSameWeights) {
  const Network a = initialise({784, 30, 10}, Init::normal, 42);
  const Network b = initialise({784, 30, 10}, Init::normal, 42);
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.biases, b.biases);
  const Network c = initialise({784, 30, 10}, Init::normal, 43);
  EXPECT_NE(a.weights, c.weights);
}

TEST(Rng, ScaledInitialisationHasVarianceOneOverFanIn) {
  const Network n = initialise({400, 200, 10}, Init::scaled, 5);
  double sum = 0, sq = 0;
  for (float w : n.weights[0]) sum += w, sq += double(w) * w;
  const double count = double(n.weights[0].size());
  EXPECT_NEAR(sum / count, 0.0, 0.01 / std::sqrt(400.0) * 5);
  EXPECT_NEAR(sq / count, 1.0 / 400, 0.05 / 400);
}

TEST(Rng, NormalHasUnitMoments) {
  Rng rng(7);
  double sum = 0, sq = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = rng.normal();
    sum += x;
    sq += x * x;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sq / n, 1.0, 0.01);
}

TEST(Rng, PermutationIsSeededAndComplete) {
  const auto p = epoch_permutation(1, 0, 50000);
  EXPECT_EQ(p, epoch_permutation(1, 0, 50000));
  EXPECT_NE(p, epoch_permutation(1, 1, 50000));
  EXPECT_NE(p, epoch_permutation(2, 0, 50000));
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (uint32_t i = 0; i < sorted.size(); ++i) ASSERT_EQ(sorted[i], i);
}

TEST(Rng, BelowIsUniform) {
  Rng rng(3);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[rng.below(7)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);
}

}  // namespace
}  // namespace bp
