// step_layout, shared by both fast backends: every matrix starts on a multiple of 32 floats (so
// cuBLAS gets 128-byte-aligned operands), no two matrices overlap, and flatten/unflatten go
// through the layout (a round trip keeps every parameter and writes nothing into the gaps). The
// CPU backend's padded weight columns (each on a cache line) give the same bits as unpadded ones.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <utility>

#include "base/aligned_vector.hpp"
#include "base/error.hpp"
#include "base/rng.hpp"
#include "cpu/cpu_ops.hpp"
#include "cpu/cpu_path.hpp"
#include "data/dataset.hpp"
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
  for (const std::vector<size_t>& sizes :
       {std::vector<size_t>{784, 30, 10}, {9, 8, 6, 5, 3}, {1, 1}, {100, 33, 17, 10}}) {
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
  EXPECT_EQ(written, count);                  // every parameter once, no gap touched
  EXPECT_GT(layout.parameter_floats, count);  // 37*5 = 185 is not a multiple of 32: there are gaps
  Network back = zero_network(net.sizes);
  unflatten(flat.data(), layout, back);
  EXPECT_EQ(back.weights, net.weights);
  EXPECT_EQ(back.biases, net.biases);
}

TEST(StepLayout, PaddedWeightColumnsStartOnCacheLines) {
  for (const std::vector<size_t>& sizes :
       {std::vector<size_t>{784, 30, 10}, {9, 8, 6, 5, 3}, {1, 1}, {100, 33, 17, 10}}) {
    const StepLayout s = step_layout(sizes, 10, kCacheLineFloats);
    Spans params;
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
      EXPECT_GE(s.ldw[l], sizes[l + 1]);
      EXPECT_LT(s.ldw[l], sizes[l + 1] + kCacheLineFloats);
      EXPECT_EQ(s.ldw[l] % kCacheLineFloats, 0u);
      params.push_back({s.w[l], sizes[l] * s.ldw[l]});
      params.push_back({s.b[l], sizes[l + 1]});
    }
    expect_aligned_and_disjoint(params, s.parameter_floats, format_layers(sizes) + " padded parameters");
    EXPECT_EQ(step_layout(sizes, 10).ldw, std::vector<size_t>(sizes.begin() + 1, sizes.end()));  // unpadded
  }
  // The round trip through padded columns keeps every parameter and leaves the padding alone.
  const Network net = initialise({37, 5, 3}, Init::normal, 13);
  const StepLayout layout = step_layout(net.sizes, 4, kCacheLineFloats);
  std::vector<float> flat(layout.parameter_floats, std::numeric_limits<float>::quiet_NaN());
  flatten(net, layout, flat.data());
  size_t written = 0, count = 0;
  for (float x : flat) written += !std::isnan(x);
  for (size_t l = 0; l < net.weights.size(); ++l) count += net.weights[l].size() + net.biases[l].size();
  EXPECT_EQ(written, count);
  Network back = zero_network(net.sizes);
  unflatten(flat.data(), layout, back);
  EXPECT_EQ(back.weights, net.weights);
  EXPECT_EQ(back.biases, net.biases);
}

// K networks' blocks: each a whole number of aligned matrices (param_stride, work_stride), so
// that network k's matrices are network 0's plus k strides and stay aligned; a shared input
// leaves a[0] out of the workspace and changes no parameter offset.
TEST(StepLayout, StridesHoldWholeAlignedBlocks) {
  for (const std::vector<size_t>& sizes :
       {std::vector<size_t>{784, 30, 10}, {9, 8, 6, 5, 3}, {1, 1}, {100, 33, 17, 10}}) {
    for (const size_t align : {size_t(1), kCacheLineFloats}) {
      for (size_t capacity : {1, 7, 256}) {
        const std::string what =
            format_layers(sizes) + " capacity " + std::to_string(capacity) + " align " + std::to_string(align);
        const StepLayout s = step_layout(sizes, capacity, align), shared = step_layout(sizes, capacity, align, true);
        EXPECT_FALSE(s.shared_input);
        EXPECT_TRUE(shared.shared_input);
        for (const StepLayout* l : {&s, &shared}) {
          EXPECT_EQ(l->param_stride % kMatrixAlignFloats, 0u) << what;
          EXPECT_EQ(l->work_stride % kMatrixAlignFloats, 0u) << what;
          EXPECT_GE(l->param_stride, l->parameter_floats) << what;
          EXPECT_LT(l->param_stride, l->parameter_floats + kMatrixAlignFloats) << what;
          EXPECT_GE(l->work_stride, l->workspace_floats) << what;
          EXPECT_LT(l->work_stride, l->workspace_floats + kMatrixAlignFloats) << what;
        }
        EXPECT_EQ(shared.w, s.w) << what;
        EXPECT_EQ(shared.b, s.b) << what;
        EXPECT_EQ(shared.ldw, s.ldw) << what;
        EXPECT_EQ(shared.param_stride, s.param_stride) << what;
        Spans work;
        for (size_t l = 0; l < sizes.size(); ++l) {
          work.push_back({shared.a[l], l == 0 ? 0 : sizes[l] * capacity});
          work.push_back({shared.d[l], l == 0 ? 0 : sizes[l] * capacity});
        }
        expect_aligned_and_disjoint(work, shared.workspace_floats, what + " shared-input workspace");
        EXPECT_LE(shared.workspace_floats + sizes[0] * capacity, s.workspace_floats) << what;
      }
    }
  }
}

// flatten_all puts network k at k * param_stride (the gaps zero) and unflatten_all takes each
// back, with the output layer; step_buffers points network 0's matrices into the blocks and
// carries the strides (a[0] to the shared input where the layout leaves it out).
TEST(StepLayout, KNetworksFlattenIntoStridedBlocks) {
  const std::vector<size_t> sizes{37, 5, 3};
  const StepLayout layout = step_layout(sizes, 4, kCacheLineFloats);
  std::vector<Network> nets;
  for (uint64_t k = 0; k < 3; ++k) nets.push_back(initialise(sizes, Init::normal, 20 + k, Output::softmax));
  std::vector<float> flat = flatten_all(nets, layout);
  ASSERT_EQ(flat.size(), 3 * layout.param_stride);
  size_t count = 0, nonzero = 0;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) count += sizes[l] * sizes[l + 1] + sizes[l + 1];
  for (float x : flat) nonzero += x != 0.0f;
  EXPECT_EQ(nonzero, 3 * count);  // every parameter once, the gaps and padding zero
  for (size_t k = 0; k < nets.size(); ++k) {
    Network one = zero_network(sizes);
    unflatten(flat.data() + k * layout.param_stride, layout, one);
    EXPECT_EQ(one.weights, nets[k].weights) << k;
    EXPECT_EQ(one.biases, nets[k].biases) << k;
  }
  const std::vector<Network> back = unflatten_all(flat.data(), layout, 3, sizes, Output::softmax);
  ASSERT_EQ(back.size(), 3u);
  for (size_t k = 0; k < nets.size(); ++k) {
    EXPECT_EQ(back[k].weights, nets[k].weights) << k;
    EXPECT_EQ(back[k].biases, nets[k].biases) << k;
    EXPECT_EQ(back[k].output, Output::softmax) << k;
  }

  std::vector<float> velocity(flat.size()), work(3 * layout.work_stride);
  std::vector<uint8_t> labels(3 * 4);
  const StepBuffers s =
      step_buffers(sizes, Output::softmax, layout, 3, flat.data(), velocity.data(), work.data(), labels.data(), 4);
  EXPECT_EQ(s.count, 3u);
  EXPECT_EQ(s.param_stride, layout.param_stride);
  EXPECT_EQ(s.work_stride, layout.work_stride);
  EXPECT_EQ(s.input_stride, layout.work_stride);
  EXPECT_EQ(s.label_stride, 4u);
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    EXPECT_EQ(s.w[l], flat.data() + layout.w[l]);
    EXPECT_EQ(s.b[l], flat.data() + layout.b[l]);
    EXPECT_EQ(s.vw[l], velocity.data() + layout.w[l]);
    EXPECT_EQ(s.ldw[l], int(layout.ldw[l]));
  }
  EXPECT_EQ(s.a[0], work.data() + layout.a[0]);
  const StepLayout shared_layout = step_layout(sizes, 4, kCacheLineFloats, true);
  std::vector<float> input(37 * 4);
  const StepBuffers shared = step_buffers(sizes, Output::softmax, shared_layout, 3, flat.data(), nullptr, work.data(),
                                          labels.data(), 0, input.data());
  EXPECT_EQ(shared.a[0], input.data());
  EXPECT_EQ(shared.input_stride, 0u);
  EXPECT_EQ(shared.velocity, nullptr);
  EXPECT_THROW(
      step_buffers(sizes, Output::softmax, shared_layout, 3, flat.data(), nullptr, work.data(), labels.data(), 0),
      Error);
  EXPECT_THROW(step_buffers(sizes, Output::softmax, layout, 3, flat.data(), nullptr, work.data(), labels.data(), 0,
                            input.data()),
               Error);
}

// Each network's step scalars from its own Hyper and the batch size; momentum for all or none.
TEST(StepLayout, ScalarsPerNetwork) {
  std::vector<Hyper> h(3);
  for (size_t k = 0; k < h.size(); ++k) {
    h[k].eta = 0.5 * double(k + 1);
    h[k].lambda = double(k);
    h[k].n = 1000;
  }
  StepScalars s = step_scalars(h, 10);
  ASSERT_EQ(s.values.size(), 12u);
  EXPECT_FALSE(s.momentum);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(s.values[k], float(-h[k].eta / 10)) << k;                             // alpha
    EXPECT_EQ(s.values[3 + k], float(1.0 - h[k].eta * h[k].lambda / 1000.0)) << k;  // beta_w
    EXPECT_EQ(s.values[6 + k], 1.0f) << k;                                          // beta_b
  }
  for (size_t k = 0; k < 3; ++k) h[k].momentum = 0.5 + 0.1 * double(k);
  s = step_scalars(h, 7);
  EXPECT_TRUE(s.momentum);
  EXPECT_TRUE(s.l2);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(s.values[k], float(-h[k].eta / 7)) << k;
    EXPECT_EQ(s.values[3 + k], float(h[k].momentum)) << k;
    EXPECT_EQ(s.values[6 + k], float(h[k].momentum)) << k;
    EXPECT_EQ(s.values[9 + k], float(-h[k].eta * h[k].lambda / 1000.0)) << k;
  }
  h[1].momentum = 0;
  EXPECT_THROW(step_scalars(h, 7), Error);
  const StepScalars g = gradient_scalars(h, 4);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(g.values[k], 0.25f) << k;
    EXPECT_EQ(g.values[3 + k], float(h[k].lambda / 1000.0)) << k;
    EXPECT_EQ(g.values[6 + k], 0.0f) << k;
  }
  // The scalars must be for as many networks as the buffers hold.
  const StepLayout layout = step_layout({4, 3, 2}, 1);
  std::vector<float> params(2 * layout.param_stride), work(2 * layout.work_stride);
  std::vector<uint8_t> labels(2);
  StepBuffers b =
      step_buffers({4, 3, 2}, Output::sigmoid, layout, 2, params.data(), nullptr, work.data(), labels.data(), 1);
  EXPECT_THROW(point_scalars(b, g, g.values.data()), Error);
  const StepScalars one = step_scalars(std::span(h).first(1), 1);
  EXPECT_THROW(point_scalars(b, one, one.values.data()), Error);
}

TEST(StepLayout, CacheAlignedVectorsStartOnALine) {
  for (size_t n : {1, 3, 1000, 1 << 20}) {
    CacheAlignedVector<float> v(n, 1.0f);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % kCacheLineBytes, 0u) << n;
    v.resize(3 * n + 5);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % kCacheLineBytes, 0u) << n;
  }
}

// 40 steps of 784-30-24-10 (mini-batch 10, lambda > 0, momentum on and off) and a gradient, on
// MNIST-like images (80% zero pixels, so the first layer runs the sparse kernels where the path
// has them), on every kernel path the CPU runs, once with packed weight columns and once with
// columns padded to cache lines: every parameter and every cost the same, bit for bit. A GEMM
// handed a layer's row count instead of its leading dimension reads the wrong weights and fails.
TEST(StepLayout, PaddedColumnsGiveTheSameBits) {
  LabelledImages images = synthetic_images(400, 28, 28, 10, 5);
  for (uint8_t& p : images.pixels) p = p < 204 ? 0 : p;
  const DataView data = images.view();
  const Network start = initialise({784, 30, 24, 10}, Init::scaled, 9);
  const std::string before = cpu_path();
  for (const std::string& path : runnable_cpu_paths()) {
    ASSERT_TRUE(set_cpu_path(path));
    for (const double momentum : {0.0, 0.6}) {
      Hyper h;
      h.eta = 0.5;
      h.lambda = 3.0;
      h.momentum = momentum;
      h.n = data.samples();
      std::vector<Network> nets;
      std::vector<double> costs;
      for (const size_t align : {size_t(1), kCacheLineFloats}) {
        const int m = 10;
        const StepLayout layout = step_layout(start.sizes, size_t(m), align);
        // One network's blocks, whole: the step's flat passes (the momentum update, the gradient's
        // copy of W) run over param_stride floats.
        CacheAlignedVector<float> params(layout.param_stride, 0.0f), velocity(layout.param_stride, 0.0f),
            work(layout.work_stride, 0.0f), grad(layout.param_stride, 0.0f);
        std::vector<uint8_t> labels(static_cast<size_t>(m));
        flatten(start, layout, params.data());
        StepBuffers s = step_buffers(start.sizes, start.output, layout, 1, params.data(), velocity.data(), work.data(),
                                     labels.data(), 0);
        const StepScalars update = step_scalars({&h, 1}, m), mean = gradient_scalars({&h, 1}, m);
        point_scalars(s, update, update.values.data());
        const std::vector<uint32_t> order = epoch_permutation(3, 0, data.samples());
        CpuOps ops;
        double cost = 0;
        for (size_t step = 0; step < 40; ++step) {
          ops.gather_input(data.pixels, data.labels, data.dim, order.data() + step * m, 0, m, s.a[0], s.input_stride,
                           labels.data(), 0, 1);
          update_mini_batch(ops, s, m, h.cost, &cost);
        }
        const ParameterViews g = parameter_views(layout, grad.data());
        point_scalars(s, mean, mean.values.data());
        ops.gather_input(data.pixels, data.labels, data.dim, order.data() + 400 - m, 0, m, s.a[0], s.input_stride,
                         labels.data(), 0, 1);
        mean_gradient(ops, s, m, h.cost, g.w, g.b, &cost);
        nets.push_back(zero_network(start.sizes));
        unflatten(params.data(), layout, nets.back());
        Network gradient = zero_network(start.sizes), vel = zero_network(start.sizes);
        unflatten(grad.data(), layout, gradient);
        unflatten(velocity.data(), layout, vel);
        nets.push_back(gradient);
        nets.push_back(vel);
        costs.push_back(cost);
        // The padding rows are still zero in every buffer: no kernel wrote past a column's rows.
        for (size_t l = 0; l + 1 < start.sizes.size(); ++l)
          for (size_t c = 0; c < start.sizes[l]; ++c)
            for (size_t r = start.sizes[l + 1]; r < layout.ldw[l]; ++r)
              for (const auto* buffer : {&params, &velocity, &grad})
                ASSERT_EQ((*buffer)[layout.w[l] + c * layout.ldw[l] + r], 0.0f) << path << " layer " << l;
      }
      const std::string what = path + (momentum != 0 ? " momentum" : " no momentum");
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_EQ(nets[k].weights, nets[k + 3].weights) << what << " " << k;
        EXPECT_EQ(nets[k].biases, nets[k + 3].biases) << what << " " << k;
      }
      EXPECT_EQ(costs[0], costs[1]) << what;
      EXPECT_NE(nets[0].weights, start.weights) << what;  // the steps did change the weights
    }
  }
  set_cpu_path(before);
}

}  // namespace
}  // namespace bp
