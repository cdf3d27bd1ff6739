// The contract every backend keeps, written once and run on each (as llama.cpp's
// tests/test-backend-ops.cpp runs every op on every backend).
//
// Adding a backend: add one line to backends() below: its name, how to make it, how many
// networks it trains at once, whether it needs a GPU, and (where it cannot take every network)
// why not. Every test of this file then runs on it for every case of kCases. GPU backends skip
// where no device is usable and fail instead under BACKPROP_REQUIRE_GPU=1; in the emulation
// build (-DBACKPROP_CUDA_EMU=ON) they run on the emulated device, so CI runs them all.
//
// The contract, against the float64 reference (reference/reference.hpp), on fresh random
// networks and data for each case:
//   - load then store gives back every parameter and velocity bit for bit, and a load (the first
//     or a later one) leaves the velocities zero;
//   - the gradient of one network is within the float32 error model of the exact one
//     (reference/compare.hpp), and a backend holding several networks refuses to give one;
//   - 101 SGD steps (mini-batch 10) leave each network's parameters within 1e-3 and velocities
//     within 1e-4 of the reference trained alone, each network's summed cost within 1e-4
//     relative, and the evaluation counts of the trained parameters equal the reference's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/rng.hpp"
#include "cpu/cpu_backend.hpp"
#include "cuda/cuda_backend.hpp"
#include "reference/compare.hpp"
#include "reference/reference.hpp"

namespace bp {
namespace {

struct BackendUnderTest {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
  size_t networks = 1;  // K, trained together
  bool gpu = false;
  // Empty where the backend takes this network at this mini-batch; else why not (a skip).
  std::function<std::string(const std::vector<size_t>& sizes, size_t batch)> why_not;
};

std::unique_ptr<Backend> fused() { return make_cuda_backend(false, true, CudaEngine::fused); }

const std::vector<BackendUnderTest>& backends() {
  static const std::vector<BackendUnderTest> all = {
      {"reference", [] { return reference::make_backend(); }, 1, false, nullptr},
      {"cpu", [] { return make_cpu_backend(1); }, 1, false, nullptr},
      {"cpu_3_networks", [] { return make_cpu_backend(1); }, 3, false, nullptr},
      {"cuda_cublas", [] { return make_cuda_backend(false); }, 1, true, nullptr},
      {"cuda_cublas_streamed", [] { return make_cuda_backend(true); }, 1, true, nullptr},
      {"cuda_cublas_3_networks", [] { return make_cuda_backend(false); }, 3, true, nullptr},
      {"cuda_fused", fused, 1, true, fused_engine_why_not},
      {"cuda_fused_3_networks", fused, 3, true, fused_engine_why_not},
  };
  return all;
}

struct ContractCase {
  std::vector<size_t> sizes;
  Cost cost;
  double lambda, momentum;
};

const std::vector<ContractCase> kCases = {
    {{784, 30, 10}, Cost::quadratic, 0.0, 0.0},        {{784, 30, 10}, Cost::cross_entropy, 5.0, 0.0},
    {{784, 15, 10}, Cost::log_likelihood, 5.0, 0.9},   {{12, 7, 4}, Cost::quadratic, 2.0, 0.5},
    {{9, 8, 6, 5, 3}, Cost::log_likelihood, 0.0, 0.0}, {{100, 33, 17, 10}, Cost::cross_entropy, 0.0, 0.5},
};

// 101 steps of 10: the CUDA backend runs its first step eagerly, then captures 100 into a graph
// and replays it, so the replayed path is the one compared.
constexpr size_t kSamples = 1010;
constexpr size_t kBatch = 10;

// Network k of a case: its own seed, and eta and lambda that differ between networks trained
// together (momentum is all or none, so it is the case's for every network).
Network start_network(const ContractCase& c, size_t case_index, size_t k) {
  return initialise(c.sizes, Init::scaled, 1000 * case_index + k, output_layer(c.cost));
}

Hyper hyper_for(const ContractCase& c, size_t k) {
  Hyper h;
  h.cost = c.cost;
  h.eta = (c.momentum > 0 ? 0.1 : c.cost == Cost::quadratic ? 3.0 : 0.5) / double(k + 1);
  h.lambda = c.lambda * double(k + 1);
  h.momentum = c.momentum;
  h.n = kSamples;
  return h;
}

std::vector<uint32_t> order_for(size_t case_index, size_t k) { return epoch_permutation(77 + case_index, k, kSamples); }

LabelledImages images_for(const ContractCase& c, size_t case_index) {
  return synthetic_images(kSamples, c.sizes.front(), 1, c.sizes.back(), 500 + case_index);
}

// What the reference gives for network k of a case trained alone, computed once per (case, k).
struct Expected {
  Network trained, velocity;
  double cost = 0;
};

const Expected& reference_run(size_t case_index, size_t k) {
  static std::map<std::pair<size_t, size_t>, Expected> done;
  const auto key = std::make_pair(case_index, k);
  if (auto it = done.find(key); it != done.end()) return it->second;
  const ContractCase& c = kCases[case_index];
  const LabelledImages images = images_for(c, case_index);
  auto ref = reference::make_backend();
  ref->load(start_network(c, case_index, k));
  Expected e;
  e.cost = ref->train(images.view(), order_for(case_index, k), kBatch, hyper_for(c, k));
  ref->store(e.trained);
  ref->store_velocity(e.velocity);
  return done[key] = std::move(e);
}

double max_abs_difference(const Network& a, const Network& b) {
  return compare(flat_parameters(a), flat_parameters(b), 1e-3).max_abs;  // infinite if any is NaN
}

class BackendContract : public testing::TestWithParam<std::tuple<size_t, size_t>> {
 protected:
  void SetUp() override {
    const BackendUnderTest& b = backend();
    if (b.gpu) {
      const CudaStatus status = cuda_status();
      if (!status.usable) {
        const char* required = std::getenv("BACKPROP_REQUIRE_GPU");
        if (required && std::string(required) == "1") FAIL() << "GPU required: " << status.reason;
        GTEST_SKIP() << "no usable CUDA device: " << status.reason;
      }
    }
    if (b.why_not) {
      if (const std::string why = b.why_not(test_case().sizes, kBatch); !why.empty()) GTEST_SKIP() << why;
    }
  }
  const BackendUnderTest& backend() const { return backends()[std::get<0>(GetParam())]; }
  size_t case_index() const { return std::get<1>(GetParam()); }
  const ContractCase& test_case() const { return kCases[case_index()]; }
  size_t K() const { return backend().networks; }
  std::vector<Network> starts() const {
    std::vector<Network> nets;
    for (size_t k = 0; k < K(); ++k) nets.push_back(start_network(test_case(), case_index(), k));
    return nets;
  }
};

TEST_P(BackendContract, LoadThenStoreGivesBackEveryBit) {
  const std::vector<Network> nets = starts();
  std::vector<Network> velocities;
  for (size_t k = 0; k < K(); ++k)  // any values: a velocity is a Network of the same shape
    velocities.push_back(initialise(test_case().sizes, Init::normal, 900 + k, nets[k].output));
  auto b = backend().make();
  b->load_all(nets);
  std::vector<Network> stored, zero;
  b->store_all(stored);
  b->store_velocities(zero);
  ASSERT_EQ(stored.size(), K());
  ASSERT_EQ(zero.size(), K());
  for (size_t k = 0; k < K(); ++k) {
    EXPECT_EQ(stored[k].sizes, nets[k].sizes);
    EXPECT_EQ(stored[k].output, nets[k].output);
    EXPECT_EQ(stored[k].weights, nets[k].weights) << "network " << k;
    EXPECT_EQ(stored[k].biases, nets[k].biases) << "network " << k;
    EXPECT_EQ(parameter_distance(zero[k], zero_network(nets[k].sizes)), 0.0)
        << "a fresh load's velocities, network " << k;
  }
  b->load_velocities(velocities);
  std::vector<Network> back;
  b->store_velocities(back);
  ASSERT_EQ(back.size(), K());
  for (size_t k = 0; k < K(); ++k) {
    EXPECT_EQ(back[k].weights, velocities[k].weights) << "velocity " << k;
    EXPECT_EQ(back[k].biases, velocities[k].biases) << "velocity " << k;
  }
  b->load_all(nets);  // a fresh load forgets them
  b->store_velocities(back);
  ASSERT_EQ(back.size(), K());
  for (size_t k = 0; k < K(); ++k)
    EXPECT_EQ(parameter_distance(back[k], zero_network(nets[k].sizes)), 0.0)
        << "velocities after a reload, network " << k;
}

TEST_P(BackendContract, GradientIsWithinTheFloat32ErrorModel) {
  const ContractCase& c = test_case();
  const LabelledImages images = images_for(c, case_index());
  const std::vector<uint32_t> batch = {5, 9, 63, 0, 12, 12, 40, 33, 21, 7, 2, 999, 500};  // odd size, a repeat
  const Hyper h = hyper_for(c, 0);
  auto b = backend().make();
  b->load_all(starts());
  Network grad;
  if (K() > 1) {
    EXPECT_THROW(b->gradient(images.view(), batch, h, grad), Error) << "a gradient from " << K() << " networks";
    return;
  }
  const Network net = starts()[0];
  const double cost = b->gradient(images.view(), batch, h, grad);
  reference::Params exact;
  const double exact_cost = reference::gradient(reference::from_network(net), images.view(), batch, h, exact);
  EXPECT_NEAR(cost, exact_cost, 1e-4 * std::abs(exact_cost));
  const auto expected = reference::flat(exact), got = flat_parameters(grad);
  ASSERT_EQ(got.size(), expected.size());
  size_t widest = 0;
  for (size_t n : c.sizes) widest = std::max(widest, n);
  const ErrorModel m = float32_error_model(expected, got, batch.size() * widest);
  EXPECT_LE(m.worst_ratio, 1.0) << "worst at [" << m.worst << "]: " << got[m.worst] << " against " << expected[m.worst]
                                << ", atol " << m.atol;
}

TEST_P(BackendContract, AHundredStepsStayWithTheReferenceAndEvaluateAlike) {
  const ContractCase& c = test_case();
  const LabelledImages images = images_for(c, case_index());
  std::vector<uint32_t> orders;
  std::vector<Hyper> hypers;
  for (size_t k = 0; k < K(); ++k) {
    const std::vector<uint32_t> o = order_for(case_index(), k);
    orders.insert(orders.end(), o.begin(), o.end());
    hypers.push_back(hyper_for(c, k));
  }
  auto b = backend().make();
  const std::vector<Network> nets = starts();
  b->load_all(nets);
  const std::vector<double> costs = b->train_all(images.view(), orders, kBatch, hypers);
  std::vector<Network> trained, velocities;
  b->store_all(trained);
  b->store_velocities(velocities);
  const std::vector<Evaluation> evaluations = b->evaluate_all(images.view());
  ASSERT_EQ(costs.size(), K());
  ASSERT_EQ(trained.size(), K());
  ASSERT_EQ(evaluations.size(), K());
  for (size_t k = 0; k < K(); ++k) {
    const Expected& e = reference_run(case_index(), k);
    EXPECT_GT(parameter_distance(nets[k], e.trained), 1e-2) << "training did not move network " << k;
    EXPECT_LT(max_abs_difference(trained[k], e.trained), 1e-3) << "parameters of network " << k;
    if (c.momentum > 0) {
      EXPECT_GT(parameter_distance(e.velocity, zero_network(c.sizes)), 1e-3) << "the velocities never moved";
      EXPECT_LT(max_abs_difference(velocities[k], e.velocity), 1e-4) << "velocities of network " << k;
    }
    EXPECT_NEAR(costs[k], e.cost, 1e-4 * std::abs(e.cost)) << "summed cost of network " << k;
    // The same parameters, evaluated by the reference: the same counts.
    auto ref = reference::make_backend();
    ref->load(trained[k]);
    const Evaluation expected = ref->evaluate(images.view());
    EXPECT_EQ(evaluations[k].correct, expected.correct) << "network " << k;
    EXPECT_EQ(evaluations[k].predicted, expected.predicted) << "network " << k;
  }
}

std::string name_of(const testing::TestParamInfo<std::tuple<size_t, size_t>>& info) {
  const ContractCase& c = kCases[std::get<1>(info.param)];
  std::string layers = format_layers(c.sizes);
  for (char& ch : layers)
    if (ch == ',') ch = '_';
  std::string cost = cost_name(c.cost);
  for (char& ch : cost)
    if (ch == '-') ch = '_';
  return backends()[std::get<0>(info.param)].name + "_" + layers + "_" + cost + (c.lambda > 0 ? "_l2" : "") +
         (c.momentum > 0 ? "_momentum" : "");
}

INSTANTIATE_TEST_SUITE_P(EveryBackend, BackendContract,
                         testing::Combine(testing::Range<size_t>(0, backends().size()),
                                          testing::Range<size_t>(0, kCases.size())),
                         name_of);

}  // namespace
}  // namespace bp
