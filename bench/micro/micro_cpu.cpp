// Google Benchmark for each CPU primitive of the step at the trainer's shapes. BM_StepOp: every
// operation of one step of 784-30-10 and 784-15-10 at mini-batch 10 on MNIST images, and the whole
// step, so that each microsecond of a step has a name. The rest: the three GEMMs of
// a layer (forward W a, backward W^T d, update W += a d a^T) at mini-batch 10 and 256 and hidden
// widths 15, 30, 100 and 1024, and the elementwise operations. Counters: GFLOP/s for GEMMs, GB/s
// (bytes read plus written) for the rest. Inputs are MNIST-like (80% zero pixels) where the
// first layer reads images, since the forward GEMM exploits that (GFLOP/s counts the dense
// product, so the sparse forward reads as a rate above what its arithmetic runs at).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "base/aligned_vector.hpp"
#include "base/rng.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_gemm.hpp"
#include "cpu/cpu_listed_images.hpp"
#include "cpu/cpu_ops.hpp"
#include "data/dataset.hpp"
#include "model/step.hpp"

namespace bp {
namespace {

std::vector<float> random_matrix(size_t n, uint64_t seed, double zero_fraction = 0.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform() < zero_fraction ? 0.0f : float(rng.uniform());
  return v;
}

// args: hidden width, mini-batch. Layer 784 -> hidden.
void BM_ForwardGemm(benchmark::State& state) {
  const int n_out = int(state.range(0)), m = int(state.range(1)), n_in = 784;
  const auto W = random_matrix(size_t(n_out) * n_in, 1), X = random_matrix(size_t(n_in) * m, 2, 0.8);
  std::vector<float> Z(size_t(n_out) * m);
  for (auto _ : state) {
    cpu_gemm(false, false, n_out, m, n_in, 1.0f, W.data(), n_out, X.data(), n_in, 0.0f, Z.data(), n_out);
    benchmark::DoNotOptimize(Z.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n_out * m * n_in * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_UpdateGemm(benchmark::State& state) {
  const int n_out = int(state.range(0)), m = int(state.range(1)), n_in = 784;
  const auto D = random_matrix(size_t(n_out) * m, 3), X = random_matrix(size_t(n_in) * m, 4, 0.8);
  auto W = random_matrix(size_t(n_out) * n_in, 5);
  for (auto _ : state) {
    cpu_gemm(false, true, n_out, n_in, m, -0.3f / float(m), D.data(), n_out, X.data(), n_in, 1.0f, W.data(), n_out);
    benchmark::DoNotOptimize(W.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n_out * m * n_in * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// Backward through the output layer: d_hidden (hidden, m) = W2^T (10, hidden) d_out (10, m).
void BM_BackwardGemm(benchmark::State& state) {
  const int hidden = int(state.range(0)), m = int(state.range(1)), n_out = 10;
  const auto W = random_matrix(size_t(n_out) * hidden, 6), D = random_matrix(size_t(n_out) * m, 7);
  std::vector<float> out(size_t(hidden) * m);
  for (auto _ : state) {
    cpu_gemm(true, false, hidden, m, n_out, 1.0f, W.data(), n_out, D.data(), n_out, 0.0f, out.data(), hidden);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * hidden * m * n_out * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_BiasSigmoid(benchmark::State& state) {
  const int n = int(state.range(0)), m = int(state.range(1));
  const auto b = random_matrix(size_t(n), 8);
  auto a = random_matrix(size_t(n) * m, 9);
  CpuOps ops;
  for (auto _ : state) {
    ops.bias_sigmoid(n, m, b.data(), 0, a.data(), 0, 1);
    benchmark::DoNotOptimize(a.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(8.0 * n * m * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_HiddenDelta(benchmark::State& state) {
  const int n = int(state.range(0)), m = int(state.range(1));
  const auto a = random_matrix(size_t(n) * m, 10);
  auto d = random_matrix(size_t(n) * m, 11);
  CpuOps ops;
  for (auto _ : state) {
    ops.hidden_delta(n, m, a.data(), 0, d.data(), 0, 1);
    benchmark::DoNotOptimize(d.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(12.0 * n * m * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_Gather(benchmark::State& state) {
  const int m = int(state.range(1));
  const size_t images = 50000, dim = 784;
  std::vector<uint8_t> pixels(images * dim, 7), labels(images, 3), labels_out(m);
  std::vector<float> x(dim * m);
  const auto order = epoch_permutation(1, 0, images);
  CpuOps ops;
  size_t at = 0;
  for (auto _ : state) {
    ops.gather(pixels.data(), labels.data(), dim, order.data() + at, 0, m, x.data(), 0, labels_out.data(), 0, 1);
    at = (at + m) % (images - m);
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(5.0 * dim * m * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// ---- every operation of one training step of 784-H-10 at mini-batch 10, on MNIST images ----
// Real images where data/mnist (or $BACKPROP_DATA) has them: the sparse kernels' work depends on
// where the nonzero pixels are, which random zeros do not reproduce. Random bytes otherwise.
const LabelledImages& step_images() {
  static const LabelledImages images = [] {
    try {
      return load_dataset(default_data_dir(), {}).training_file;
    } catch (const std::exception&) {
      LabelledImages random = synthetic_images(60000, 28, 28, 10, 1);
      for (uint8_t& p : random.pixels) p = p < 204 ? 0 : p;  // ~80% zeros
      return random;
    }
  }();
  return images;
}

struct StepFixture {
  const LabelledImages& images = step_images();
  std::vector<size_t> sizes;
  StepLayout layout;
  CacheAlignedVector<float> params, workspace;  // laid out as CpuBackend lays them out
  std::vector<uint8_t> labels;
  StepBuffers s;
  StepScalars scalars;
  std::vector<uint32_t> order;
  CpuOps ops;
  Hyper h;
  int m = 10;
  size_t at = 0;

  explicit StepFixture(size_t hidden) : sizes{784, hidden, 10} {
    layout = step_layout(sizes, size_t(m), kCacheLineFloats);
    params.assign(layout.param_stride, 0.0f);  // padding and gaps zero, as in CpuBackend
    flatten(initialise(sizes, Init::normal, 12), layout, params.data());
    workspace.assign(layout.work_stride, 0.0f);
    labels.assign(size_t(m), 0);
    s = step_buffers(sizes, Output::sigmoid, layout, 1, params.data(), nullptr, workspace.data(), labels.data(), 0);
    order = epoch_permutation(1, 0, 50000);
    h.eta = 3.0;
    h.n = 50000;
    scalars = step_scalars({&h, 1}, m);
    point_scalars(s, scalars, scalars.values.data());
    next_batch();
    double cost = 0;
    feedforward(ops, s, m);
    backprop(ops, s, m, h.cost, &cost);
  }
  void next_batch() {
    ops.gather_input(images.pixels.data(), images.labels.data(), 784, order.data() + at, 0, m, s.a[0], s.input_stride,
                     labels.data(), 0, 1);
    at = (at + size_t(m)) % (50000 - size_t(m));
  }
};

enum StepOp {
  kGather,
  kForward1,
  kSigmoid1,
  kForward2,
  kSigmoid2,
  kOutputDelta,
  kBackward,
  kHiddenDelta,
  kUpdate1,
  kRowSums1,
  kUpdate2,
  kRowSums2,
  kWholeStep
};
const char* const kStepOpNames[] = {"gather_input", "W1*x",      "bias_sigmoid1", "W2*a1",      "bias_sigmoid2",
                                    "output_delta", "W2^T*d2",   "hidden_delta",  "W1+=d1*x^T", "row_sums1",
                                    "W2+=d2*a1^T",  "row_sums2", "whole_step"};

// One operation of the step; not inlined, so that `valgrind --tool=callgrind
// --toggle-collect='*run_step_op*'` counts the instructions of each operation per call.
__attribute__((noinline)) void run_step_op(StepFixture& f, StepOp op, CacheAlignedVector<float>& w, double* cost) {
  const StepBuffers& s = f.s;
  const int m = f.m, hidden = int(f.sizes[1]), ld1 = s.ldw[0], ld2 = s.ldw[1];
  const float alpha = -0.3f / float(m), one = 1.0f;
  const size_t in = s.input_stride;  // one network: strides unused, count 1
  switch (op) {
    case kGather: f.next_batch(); break;
    case kForward1:
      f.ops.gemm(false, false, hidden, m, 784, 1.0f, s.w[0], ld1, 0, s.a[0], 784, in, 0.0f, s.a[1], hidden, 0, 1);
      break;
    case kSigmoid1: f.ops.bias_sigmoid(hidden, m, s.b[0], 0, s.a[1], 0, 1); break;
    case kForward2:
      f.ops.gemm(false, false, 10, m, hidden, 1.0f, s.w[1], ld2, 0, s.a[1], hidden, 0, 0.0f, s.a[2], 10, 0, 1);
      break;
    case kSigmoid2: f.ops.bias_sigmoid(10, m, s.b[1], 0, s.a[2], 0, 1); break;
    case kOutputDelta: f.ops.output_delta(f.h.cost, 10, m, s.a[2], 0, s.labels, 0, s.d[2], 0, cost, 1); break;
    case kBackward:
      f.ops.gemm(true, false, hidden, m, 10, 1.0f, s.w[1], ld2, 0, s.d[2], 10, 0, 0.0f, s.d[1], hidden, 0, 1);
      break;
    case kHiddenDelta: f.ops.hidden_delta(hidden, m, s.a[1], 0, s.d[1], 0, 1); break;
    case kUpdate1:
      f.ops.gemm(false, true, hidden, 784, m, alpha, s.d[1], hidden, 0, s.a[0], 784, in, 1.0f, w.data(), ld1, 0, 1);
      break;
    case kRowSums1: f.ops.add_row_sums(hidden, m, &alpha, s.d[1], 0, &one, w.data(), 0, 1); break;
    case kUpdate2:
      f.ops.gemm(false, true, 10, hidden, m, alpha, s.d[2], 10, 0, s.a[1], hidden, 0, 1.0f, w.data(), ld2, 0, 1);
      break;
    case kRowSums2: f.ops.add_row_sums(10, m, &alpha, s.d[2], 0, &one, w.data(), 0, 1); break;
    case kWholeStep:
      f.next_batch();
      update_mini_batch(f.ops, s, m, f.h.cost, cost);
      break;
  }
}

// args: hidden width, operation. The updates run with lambda = 0 (beta 1), as `nielsen` does, on
// a copy of the parameters (except in the whole step), so that the inputs stay the same.
void BM_StepOp(benchmark::State& state) {
  const auto op = StepOp(state.range(1));
  StepFixture f{size_t(state.range(0))};
  CacheAlignedVector<float> w(f.params.begin(), f.params.end());
  double cost = 0;
  state.SetLabel(kStepOpNames[op]);
  for (auto _ : state) {
    run_step_op(f, op, w, &cost);
    benchmark::DoNotOptimize(f.workspace.data());
    benchmark::DoNotOptimize(w.data());
    benchmark::ClobberMemory();
  }
}

void StepOps(benchmark::internal::Benchmark* b) {
  for (int hidden : {30, 15})
    for (int op = kGather; op <= kWholeStep; ++op) b->Args({hidden, op});
}

BENCHMARK(BM_StepOp)->Apply(StepOps);

// The backend's evaluate() on 10,000 prepared images (the validation or test set of one epoch); args:
// hidden width, threads.
void BM_Evaluate(benchmark::State& state) {
  const LabelledImages& images = step_images();
  const DataView all = images.view();
  const DataView view = all.slice(50000, 10000);
  auto backend = make_cpu_backend(int(state.range(1)));
  backend->load(initialise({784, size_t(state.range(0)), 10}, Init::normal, 1));
  backend->prepare(std::span(&view, 1));  // listed once, as the trainer has them
  for (auto _ : state) benchmark::DoNotOptimize(backend->evaluate(view).correct);
}

// The backend's train() over 1,000 steps (mini-batch 10) as the trainer calls it, in chunks of 50
// steps; args: hidden width, whether the images were prepare()d (listed once) first. Time per
// iteration / 1,000 = time per step, prefetching and the trainer's chunking included.
void BM_TrainSteps(benchmark::State& state) {
  const LabelledImages& images = step_images();
  const DataView train = images.view().slice(0, 50000);
  auto backend = make_cpu_backend(1);
  backend->load(initialise({784, size_t(state.range(0)), 10}, Init::normal, 1));
  if (state.range(1)) backend->prepare(std::span(&train, 1));
  Hyper h;
  h.eta = 3.0;
  h.n = 50000;
  const std::vector<uint32_t> order = epoch_permutation(1, 0, 50000);
  size_t at = 0;
  for (auto _ : state) {
    for (int chunk = 0; chunk < 20; ++chunk, at = (at + 500) % 50000)
      benchmark::DoNotOptimize(backend->train(train, std::span(order).subspan(at, 500), 10, h));
  }
}

BENCHMARK(BM_TrainSteps)->Args({30, 0})->Args({30, 1})->Args({15, 0})->Args({15, 1})->Unit(benchmark::kMicrosecond);

// K networks of 784-H-10 trained together on one backend (a sweep's group; K = 1 is train()):
// 100 steps of each (mini-batch 10) per iteration on prepared images, each network on its own
// shuffle, in one train_all call. Time per iteration / (100 K) = time per network step; args:
// hidden width, K.
void BM_TrainNetworksTogether(benchmark::State& state) {
  const LabelledImages& images = step_images();
  const DataView train = images.view().slice(0, 50000);
  const size_t hidden = size_t(state.range(0)), K = size_t(state.range(1)), length = 1000;
  std::vector<Network> nets;
  for (size_t k = 0; k < K; ++k) nets.push_back(initialise({784, hidden, 10}, Init::normal, 1 + k));
  auto backend = make_cpu_backend(1);
  backend->load_all(nets);
  backend->prepare(std::span(&train, 1));
  std::vector<Hyper> hypers(K);
  for (size_t k = 0; k < K; ++k) {
    hypers[k].eta = 0.5 + 0.5 * double(k);
    hypers[k].n = 50000;
  }
  std::vector<std::vector<uint32_t>> shuffles;
  for (size_t k = 0; k < K; ++k) shuffles.push_back(epoch_permutation(1 + k, 0, 50000));
  std::vector<uint32_t> orders(K * length);
  size_t at = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t k = 0; k < K; ++k) std::copy_n(shuffles[k].begin() + at, length, orders.begin() + k * length);
    at = (at + length) % 50000;
    state.ResumeTiming();
    benchmark::DoNotOptimize(backend->train_all(train, orders, 10, hypers).data());
  }
  state.counters["network steps/s"] =
      benchmark::Counter(double(K * length / 10) * double(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_TrainNetworksTogether)->ArgsProduct({{30}, {1, 4, 16}})->Unit(benchmark::kMicrosecond);

// Backend::prepare's work for the 50,000 training images: listing their nonzero pixels once.
void BM_ListImages(benchmark::State& state) {
  const DataView train = step_images().view().slice(0, 50000);
  for (auto _ : state) benchmark::DoNotOptimize(list_images(train).index.data());
}

BENCHMARK(BM_ListImages)->Unit(benchmark::kMillisecond);

// The first layer's two sparse GEMMs (forward W x, update W += a d x^T) on W stored two ways;
// args: hidden width, layout, op (0 forward, 1 update). Layout 0: packed columns (ld = hidden)
// 16 bytes past a cache line, as malloc placed CpuBackend's parameters before; 1: columns padded
// to whole lines in a line-aligned buffer (step_layout with kCacheLineFloats), as now. Same
// arithmetic, same bits; only the lines each column's loads and stores touch differ.
void BM_FirstLayerColumns(benchmark::State& state) {
  const int hidden = int(state.range(0)), op = int(state.range(2));
  const bool padded = state.range(1) != 0;
  StepFixture f{size_t(hidden)};
  const int ld = padded ? int(step_layout(f.sizes, 1, kCacheLineFloats).ldw[0]) : hidden;
  CacheAlignedVector<float> storage(size_t(ld) * 784 + 64);
  float* w = storage.data() + (padded ? 0 : 4);
  Rng rng(3);
  for (size_t i = 0; i < size_t(ld) * 784; ++i) w[i] = float(rng.normal());
  const StepBuffers& s = f.s;
  std::vector<float> out(size_t(hidden) * size_t(f.m));
  size_t calls = 0;
  for (auto _ : state) {
    if (++calls % 64 == 0) f.next_batch();  // new images now and then, as training sees them
    if (op == 0)
      f.ops.gemm(false, false, hidden, f.m, 784, 1.0f, w, ld, 0, s.a[0], 784, s.input_stride, 0.0f, out.data(), hidden,
                 0, 1);
    else
      f.ops.gemm(false, true, hidden, 784, f.m, -0.03f, s.d[1], hidden, 0, s.a[0], 784, s.input_stride, 1.0f, w, ld, 0,
                 1);
    benchmark::DoNotOptimize(w);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::string(padded ? "padded, on lines" : "packed, 16 B off a line") +
                 (op ? ", update" : ", forward"));
}

BENCHMARK(BM_FirstLayerColumns)->ArgsProduct({{30, 15}, {0, 1}, {0, 1}});

// The input side of train()'s steps on prepared (listed) images: each iteration gathers the next
// 10 samples of a shuffled epoch from their lists and prefetches the following 10, as train()
// does between steps (here with no step between, so the prefetches have less time to land).
void BM_GatherListed(benchmark::State& state) {
  const DataView train = step_images().view().slice(0, 50000);
  const ListedImages lists = list_images(train);
  const std::vector<uint32_t> order = epoch_permutation(1, 0, 50000);
  const int m = 10;
  std::vector<float> x(784 * size_t(m));
  std::vector<uint8_t> labels(static_cast<size_t>(m));
  CpuOps ops;
  size_t at = 0;
  for (auto _ : state) {
    ops.gather_input(train.pixels, train.labels, 784, order.data() + at, 0, m, x.data(), 0, labels.data(), 0, 1, {},
                     &lists);
    at = (at + size_t(m)) % (50000 - 2 * size_t(m));
    ops.prefetch(lists, order.data() + at, m);
    benchmark::DoNotOptimize(x.data());
  }
}

BENCHMARK(BM_GatherListed);

BENCHMARK(BM_Evaluate)->Args({30, 1})->Args({15, 1})->Args({30, 2})->Unit(benchmark::kMicrosecond)->UseRealTime();

void Shapes(benchmark::internal::Benchmark* b) {
  for (int m : {10, 256})
    for (int hidden : {15, 30, 100, 1024}) b->Args({hidden, m});
}

BENCHMARK(BM_ForwardGemm)->Apply(Shapes);
BENCHMARK(BM_UpdateGemm)->Apply(Shapes);
BENCHMARK(BM_BackwardGemm)->Apply(Shapes);
BENCHMARK(BM_BiasSigmoid)->Apply(Shapes);
BENCHMARK(BM_HiddenDelta)->Apply(Shapes);
BENCHMARK(BM_Gather)->Args({0, 10})->Args({0, 256});

}  // namespace
}  // namespace bp

BENCHMARK_MAIN();
