// What only the CUDA backend does, holding one network: graphs replayed as eager steps run,
// resident against streamed, chunked evaluation, resources and errors, against the CPU backend.
// K networks at once are test_cuda_networks.cpp; the gradient and steps against the float64
// reference are the contract every backend passes (test_backend_contract.cpp); CudaOps against
// CpuOps is test_cuda_ops.cpp. Every test skips, with the reason, where no CUDA device is
// usable, and fails instead when BACKPROP_REQUIRE_GPU=1 (the GPU check script sets it, so a
// machine with a GPU can never pass these vacuously).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <utility>

#include "cpu/cpu_backend.hpp"
#include "cuda/cuda_backend.hpp"
#include "cuda/cuda_status.hpp"
#include "cuda_test_helpers.hpp"
#include "reference/compare.hpp"
#if defined(BACKPROP_CUDA_EMULATION)
#include "backprop_emu/control.hpp"
#endif
#include "base/rng.hpp"
#include "helpers.hpp"
#include "reference/reference.hpp"
#include "train/trainer.hpp"

namespace bp {
namespace {

// Parameters after training on the first `samples` samples of a permutation, in batches of 10,
// on the given backend. On the CUDA backend (resident, graphs on) the first step of a train()
// call runs eagerly as a warm-up, then kGraphSteps = 100 steps are captured and replayed at once
// while at least 100 full batches remain, and the rest run eagerly: 1,000 samples (100 steps)
// never replay a graph; kReplayOnce = 1,010 samples (101 steps) replay one.
constexpr size_t kReplayOnce = 1010;

Network train_steps(Backend& backend, const Network& start, const DataView& data, size_t samples, const Hyper& h) {
  backend.load(start);
  const auto order = epoch_permutation(7, 0, data.samples());
  backend.train(data, std::span<const uint32_t>(order.data(), samples), 10, h);
  Network out;
  backend.store(out);
  return out;
}

// Momentum on the device (101 steps: a warm-up step and one replay of the captured graph) against
// the CPU, parameters and velocities; and velocities carried from one CUDA backend to another
// continue the run.
TEST(CudaBackend, MomentumStaysWithTheCpu) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(2000, 28, 28, 10, 11);
  Hyper h;
  h.cost = Cost::log_likelihood;
  h.eta = 0.1;
  h.lambda = 5.0;
  h.momentum = 0.9;
  h.n = 2000;
  const Network start = initialise({784, 30, 10}, Init::scaled, 11, Output::softmax);
  auto cpu = make_cpu_backend(1);
  auto gpu = make_cuda_backend(false);
  const Network a = train_steps(*cpu, start, images.view(), kReplayOnce, h);
  const Network b = train_steps(*gpu, start, images.view(), kReplayOnce, h);
  Network va, vb;
  cpu->store_velocity(va);
  gpu->store_velocity(vb);
  const auto compare_flat = [](const Network& x, const Network& y) {
    return compare(flat_parameters(x), flat_parameters(y), 1e-3).max_abs;  // infinite if any is NaN
  };
  const double worst_p = compare_flat(a, b), worst_v = compare_flat(va, vb);
  std::cout << "momentum, after 101 steps max |cuda - cpu|: parameters " << worst_p << ", velocities " << worst_v
            << "\n";
  EXPECT_LT(worst_p, 1e-3);
  EXPECT_LT(worst_v, 1e-4);
  EXPECT_GT(parameter_distance(zero_network(start.sizes), vb), 1e-3) << "the velocities never moved";

  // Carry parameters and velocities to a fresh backend and take 100 more steps on both: gpu
  // replays the graph it captured (same shapes and scalars) from the first step, the fresh one
  // warms up, captures and runs the other 99 eagerly, which are the same launches.
  auto resumed = make_cuda_backend(false);
  resumed->load(b);
  resumed->load_velocity(vb);
  const auto order = epoch_permutation(8, 0, 2000);
  const std::span<const uint32_t> more(order.data(), 1000);
  gpu->train(images.view(), more, 10, h);
  resumed->train(images.view(), more, 10, h);
  Network c, d;
  gpu->store(c);
  resumed->store(d);
  EXPECT_LT(compare_flat(c, d), 1e-5);
}

TEST(CudaBackend, ResidentAndStreamedGiveIdenticalParameters) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(3000, 28, 28, 10, 10);
  Hyper h;
  h.n = 3000;
  const Network start = initialise({784, 30, 10}, Init::normal, 10);
  auto resident = make_cuda_backend(false);
  auto streamed = make_cuda_backend(true);
  // 2,995 samples: a warm-up step, two graph replays, 98 single steps and a short last batch of 5.
  const Network a = train_steps(*resident, start, images.view(), 2995, h);
  const Network b = train_steps(*streamed, start, images.view(), 2995, h);
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.biases, b.biases);
  EXPECT_GT(parameter_distance(start, a), 1e-2);
}

// Training on shifted samples: the resident path (gather kernel, in a graph) stays with the CPU,
// the streamed path (shifted on the host) equals the resident one, and evaluation's per-class
// counts equal the CPU's.
TEST(CudaBackend, ShiftedSamplesTrainAsOnTheCpuAndEvaluationCountsAgree) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(600, 28, 28, 10, 12);
  const DataView shifted = images.view().shifted();
  Hyper h;
  h.n = shifted.samples();
  const Network start = initialise({784, 30, 10}, Init::scaled, 12);
  auto cpu = make_cpu_backend(1);
  auto resident = make_cuda_backend(false);
  auto streamed = make_cuda_backend(true);
  const Network a = train_steps(*cpu, start, shifted, kReplayOnce, h);       // 3,000 shifted samples
  const Network b = train_steps(*resident, start, shifted, kReplayOnce, h);  // a warm-up step, one graph replay
  const auto pa = flat_parameters(a), pb = flat_parameters(b);
  const double worst = compare(pa, pb, 1e-3).max_abs;  // infinite if any parameter is NaN
  std::cout << "shifted samples, after 101 steps max |cuda - cpu| = " << worst << "\n";
  EXPECT_LT(worst, 1e-3);
  const Network c = train_steps(*resident, start, shifted, 2995, h);
  const Network d = train_steps(*streamed, start, shifted, 2995, h);
  EXPECT_EQ(c.weights, d.weights);
  EXPECT_EQ(c.biases, d.biases);
  cpu->load(c);
  resident->load(c);
  const Evaluation ec = cpu->evaluate(images.view()), eg = resident->evaluate(images.view());
  EXPECT_EQ(eg.correct, ec.correct);
  EXPECT_EQ(eg.predicted, ec.predicted);
}

TEST(CudaBackend, OneMnistEpochMatchesCpuAccuracy) {
  SKIP_WITHOUT_GPU();
  const std::string dir = test::required_mnist_dir();  // a failure under BACKPROP_REQUIRE_DATA=1
  if (dir.empty()) GTEST_SKIP() << "MNIST not found";
  const Dataset d = load_dataset(dir, {10000, 0});
  size_t correct[2] = {0, 0};
  for (int g = 0; g < 2; ++g) {
    auto backend = g ? make_cuda_backend(false) : make_cpu_backend(0);
    correct[g] = test::one_epoch_correct(*backend, d, Init::scaled);
  }
  std::cout << "one epoch on 10,000 images: cpu " << correct[0] << ", cuda " << correct[1] << " / 10000\n";
  EXPECT_LE(std::abs(double(correct[0]) - double(correct[1])), 50.0);  // 0.5 points
}

// Graph replay against eager steps, bit for bit: the same launches in the same order. The graph
// backend gets the samples in two train() calls (the second replays the graph captured in the
// first, with a fresh window of samples), each 1,000 samples: a warm-up step, then 99 eager ones
// in the first call; whole replays in the second. Then 2,000 more in one call.
TEST(CudaBackend, GraphsReplayAcrossTrainCallsAsEagerStepsRun) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(4000, 28, 28, 10, 11);
  Hyper h;
  h.n = 4000;
  const Network start = initialise({784, 30, 10}, Init::normal, 11);
  const auto order = epoch_permutation(3, 0, 4000);
  const std::span<const uint32_t> all(order);
  auto graphs = make_cuda_backend(false, true), eager = make_cuda_backend(false, false);
  graphs->load(start);
  eager->load(start);
  const double c1 = graphs->train(images.view(), all.subspan(0, 1000), 10, h);
  const double c2 = graphs->train(images.view(), all.subspan(1000, 1000), 10, h);
  const double c3 = graphs->train(images.view(), all.subspan(2000, 2000), 10, h);
  const double e = eager->train(images.view(), all, 10, h);
  Network a, b;
  graphs->store(a);
  eager->store(b);
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.biases, b.biases);
  EXPECT_NEAR(c1 + c2 + c3, e, 1e-9 * std::abs(e));  // the cost sums in another order of atomics
  EXPECT_GT(parameter_distance(start, a), 1e-2);
}

// evaluate() runs in a workspace of its own over the same parameters: the training workspace,
// and the graph captured into it, stay as they were, and the next train() replays that graph
// from its first step. Graphs against eager steps, bit for bit, across train / evaluate / train
// / evaluate / train: 1,010 samples (a warm-up step, capture, one replay), an evaluation of 700
// images, 1,000 samples (one replay of the same graph), an evaluation of all 4,000 (evaluation's
// workspace grows), 1,000 more. Evaluation's counts agree between the two backends too.
TEST(CudaBackend, EvaluateBetweenTrainCallsLeavesTheGraphAlone) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(4000, 28, 28, 10, 12);
  Hyper h;
  h.n = 4000;
  const Network start = initialise({784, 30, 10}, Init::scaled, 12);
  const auto order = epoch_permutation(4, 0, 4000);
  const std::span<const uint32_t> all(order);
  Network result[2];
  size_t correct[2][2] = {};
  for (int graphs = 0; graphs < 2; ++graphs) {
#if defined(BACKPROP_CUDA_EMULATION)
    const emu::Stats before = emu::stats();
#endif
    auto gpu = make_cuda_backend(false, graphs == 1);
    gpu->load(start);
    gpu->train(images.view(), all.subspan(0, 1010), 10, h);
    correct[graphs][0] = gpu->evaluate(images.view().slice(0, 700)).correct;
    gpu->train(images.view(), all.subspan(1010, 1000), 10, h);
    correct[graphs][1] = gpu->evaluate(images.view()).correct;  // 4,000 columns: more than the first
    gpu->train(images.view(), all.subspan(2010, 1000), 10, h);
    gpu->store(result[graphs]);
#if defined(BACKPROP_CUDA_EMULATION)
    // The emulated device counts what it ran: one capture for the whole run, replayed by each of
    // the three train() calls (a warm-up step and one replay, then a replay each).
    const emu::Stats after = emu::stats();
    EXPECT_EQ(after.graphs_captured - before.graphs_captured, graphs == 1 ? 1u : 0u);
    EXPECT_EQ(after.graph_launches - before.graph_launches, graphs == 1 ? 3u : 0u);
#endif
  }
  EXPECT_EQ(result[1].weights, result[0].weights);
  EXPECT_EQ(result[1].biases, result[0].biases);
  EXPECT_EQ(correct[1][0], correct[0][0]);
  EXPECT_EQ(correct[1][1], correct[0][1]);
  EXPECT_GT(parameter_distance(start, result[1]), 1e-2);
}

// evaluate() against the CPU on random data and a random network, over more images than one
// evaluation pass holds (10,000 columns), so the last pass is partial.
TEST(CudaBackend, EvaluateMatchesTheCpuOnRandomData) {
  SKIP_WITHOUT_GPU();
  for (const std::vector<size_t>& sizes : {std::vector<size_t>{784, 30, 10}, std::vector<size_t>{784, 17, 9, 10}}) {
    const LabelledImages images = synthetic_images(12345, 28, 28, 10, 13);
    const Network net = initialise(sizes, Init::normal, 13);
    auto cpu = make_cpu_backend(1);
    auto gpu = make_cuda_backend(false);
    cpu->load(net);
    gpu->load(net);
    const size_t c = cpu->evaluate(images.view()).correct, g = gpu->evaluate(images.view()).correct;
    std::cout << format_layers(sizes) << ": cpu " << c << ", cuda " << g << " of 12345 correct\n";
    EXPECT_GT(c, 12345u / 20);  // a random network still gets some right: the count means something
    // Near-ties of the output can fall either way in float32: a handful of images at most.
    EXPECT_LE(std::abs(double(c) - double(g)), 3.0);
  }
}

// The resident copy of a data set is found by its pixels, labels, count and image size: the same
// pixels with other labels (--shuffle-labels) are another data set. Labelling every image k
// counts the network's predictions of class k; those counts differ from class to class and sum
// to the image count, so stale labels cannot pass.
TEST(CudaBackend, ResidentDataFollowTheLabels) {
  SKIP_WITHOUT_GPU();
  const LabelledImages images = synthetic_images(2000, 28, 28, 10, 14);
  std::vector<std::vector<uint8_t>> labels;  // all alive at once: distinct host addresses
  for (uint8_t k = 0; k < 10; ++k) labels.emplace_back(2000, k);
  const Network net = initialise({784, 30, 10}, Init::normal, 14);
  auto cpu = make_cpu_backend(1);
  auto gpu = make_cuda_backend(false);
  cpu->load(net);
  gpu->load(net);
  size_t total = 0;
  for (const std::vector<uint8_t>& l : labels) {
    DataView v = images.view();
    v.labels = l.data();
    const size_t c = cpu->evaluate(v).correct, g = gpu->evaluate(v).correct;
    total += g;
    EXPECT_LE(std::abs(double(c) - double(g)), 1.0) << "every label " << int(l[0]);
  }
  EXPECT_NEAR(double(total), 2000.0, 10.0);
  // A longer view of the same pixels after a shorter one.
  EXPECT_LE(std::abs(double(cpu->evaluate(images.view().slice(0, 700)).correct) -
                     double(gpu->evaluate(images.view().slice(0, 700)).correct)),
            1.0);
  EXPECT_LE(std::abs(double(cpu->evaluate(images.view()).correct) - double(gpu->evaluate(images.view()).correct)), 1.0);
}

// `backprop train --streamed` from the command line, against the resident run: the same epochs.
TEST(CudaBackend, StreamedFromTheCommandLineMatchesResident) {
  SKIP_WITHOUT_GPU();
  test::TempDir dir;
  test::write_fake_mnist(dir.path().string(), 1200, 100, 28, 28, 10, true);
  std::vector<nlohmann::json> epochs[2];
  for (int streamed = 0; streamed < 2; ++streamed) {
    const std::string log = dir.file(streamed ? "streamed.jsonl" : "resident.jsonl");
    const test::RunResult r =
        test::run_backprop("train --device cuda --quiet --epochs 2 --data " + dir.path().string() + " --log " + log +
                           (streamed ? " --streamed" : " --engine cublas"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::ifstream in(log);
    for (std::string line; std::getline(in, line);) epochs[streamed].push_back(nlohmann::json::parse(line));
  }
  ASSERT_EQ(epochs[0].size(), 2u);
  ASSERT_EQ(epochs[1].size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(epochs[1][e]["test_correct"], epochs[0][e]["test_correct"]) << "epoch " << e;
    EXPECT_EQ(epochs[1][e]["parameter_change"], epochs[0][e]["parameter_change"]) << "epoch " << e;
  }
}

// A release that fails in a destructor (here cudaFree while the stream is captured, which CUDA

TEST(CudaResources, AFailedReleaseLeavesNoErrorBehind) {
  SKIP_WITHOUT_GPU();
  Stream s;
  auto buffer = std::make_unique<DeviceBuffer<float>>(16);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  BP_CUDA_CHECK(cudaStreamBeginCapture(s.get(), cudaStreamCaptureModeThreadLocal));
  buffer.reset();  // its cudaFree is refused
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(s.get(), &graph), cudaErrorStreamCaptureInvalidated);
  if (graph) cudaGraphDestroy(graph);
  (void)cudaGetLastError();  // the refused capture's error, for the tests after this one
}

#if defined(BACKPROP_CUDA_EMULATION)
// Out of device memory (the emulated device made 16 MiB, less than cuBLAS's 32 MiB workspace):
// one clear message and a non-zero exit, from train and from sweep.
TEST(CudaBackend, OutOfDeviceMemoryIsOneClearError) {
  SKIP_WITHOUT_GPU();
  test::TempDir dir;
  test::write_fake_mnist(dir.path().string(), 300, 50, 28, 28, 10, true);
  ::setenv("BACKPROP_CUDA_EMU_MEMORY_MIB", "16", 1);
  const test::RunResult train =
      test::run_backprop("train --device cuda --quiet --epochs 1 --data " + dir.path().string());
  const test::RunResult sweep =
      test::run_backprop("sweep --device cuda --yes --seeds 1-2 --epochs 1 --data " + dir.path().string());
  ::unsetenv("BACKPROP_CUDA_EMU_MEMORY_MIB");
  for (const test::RunResult* r : {&train, &sweep}) {
    EXPECT_NE(r->exit_code, 0) << r->output;
    EXPECT_LT(r->exit_code, 128) << "killed by a signal: " << r->output;
    EXPECT_NE(r->output.find("out of device memory"), std::string::npos) << r->output;
  }
}
#endif

// Needs no device: the reason names the CUDA error, and suggests a rebuild only for missing code.
TEST(CudaStatus, ReasonNamesTheErrorAndSuggestsARebuildOnlyForMissingCode) {
  const std::string busy = device_unusable_reason("cudaSetDevice(0)", cudaErrorDevicesUnavailable);
  EXPECT_NE(busy.find("cudaSetDevice(0)"), std::string::npos) << busy;
  EXPECT_NE(busy.find("cudaErrorDevicesUnavailable"), std::string::npos) << busy;
  EXPECT_EQ(busy.find("rebuild"), std::string::npos) << busy;
  const std::string missing = device_unusable_reason("the kernel-image probe", cudaErrorNoKernelImageForDevice);
  EXPECT_NE(missing.find("cudaErrorNoKernelImageForDevice"), std::string::npos) << missing;
  EXPECT_NE(missing.find("rebuild"), std::string::npos) << missing;
  if (!cuda_status().usable) {
    EXPECT_FALSE(cuda_status().reason.empty());
  }
}

}  // namespace
}  // namespace bp
