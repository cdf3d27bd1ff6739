// step_layout, shared by both fast backends: every matrix starts on a multiple of 32 floats (so
// cuBLAS gets 128-byte-aligned operands), no two matrices overlap, and flatten/unflatten go
// through the layout (a round trip keeps every parameter and writes nothing into the gaps).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <utility>

#include "model/step.hpp"

namespace bp {
namespace {

// (offset, floats) of every matrix, in buffer order.
using Spans = std::vector<std::pair<size_t, size_t>>;

void expect_aligned_and_disjoint(Spans spans, size_t total, const std::string& what) {
  size_t end = 0;
  for (const auto& [at, floats] : spans) {
    EXPECT_EQ(at % kMatrixAlignFloats, 0u) << what << ": offset " << at;
    EXPECT_GE(at, end) << what << ": overlaps the previous matrix";
    end = at + floats;
  }
  EXPECT_EQ(end, total) << what;
}

TEST(StepLayout, EveryMatrixIsAlignedAndNoneOverlap) {
  for (const std::vector<size_t>& sizes : {std::vector<size_t>{784, 30, 10}, {9, 8, 6, 5, 3}, {1, 1}, {100, 33, 17, 10}}) {
    for (size_t capacity : {1, 7, 10, 10000}) {
      const StepLayout s = step_layout(sizes, capacity);
      Spans params, work;
      for (size_t l = 0; l + 1 < sizes.size(); ++l) {
        params.push_back({s.w[l], sizes[l] * sizes[l + 1]});
        params.push_back({s.b[l], sizes[l + 1]});
      }
      for (size_t l = 0; l < sizes.size(); ++l) {
        work.push_back({s.a[l], sizes[l] * capacity});
        work.push_back({s.d[l], l == 0 ? 0 : sizes[l] * capacity});
      }
      const std::string what = format_layers(sizes) + " capacity " + std::to_string(capacity);
      expect_aligned_and_disjoint(params, s.parameter_floats, what + " parameters");
      expect_aligned_and_disjoint(work, s.workspace_floats, what + " workspace");
    }
  }
  // The case that motivated the padding: w[1] of 784-30-10 would otherwise start at float 23,550.
  EXPECT_EQ(step_layout({784, 30, 10}, 10).w[1], 23552u);
}

TEST(StepLayout, FlattenAndUnflattenRoundTripAndLeaveTheGaps) {
  const Network net = initialise({37, 5, 3}, Init::normal, 12);
  const StepLayout layout = step_layout(net.sizes, 4);
  const float poison = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> flat(layout.parameter_floats, poison);
  flatten(net, layout, flat.data());
  size_t written = 0;
  for (float x : flat) written += !std::isnan(x);
  size_t count = 0;
  for (size_t l = 0; l < net.weights.size(); ++l) count += net.weights[l].size() + net.biases[l].size();
  EXPECT_EQ(written, count);  // every parameter once, no gap touched
  EXPECT_GT(layout.parameter_floats, count);  // 37*5 = 185 is not a multiple of 32: there are gaps
  Network back = zero_network(net.sizes);
  unflatten(flat.data(), layout, back);
  EXPECT_EQ(back.weights, net.weights);
  EXPECT_EQ(back.biases, net.biases);
}

}  // namespace
}  // namespace bp
