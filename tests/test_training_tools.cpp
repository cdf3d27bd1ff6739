// Chapter 3 and 6's training tools: the plateau schedule and early stopping against hand-worked
// sequences, shifted samples against shifted copies made here with plain 2-D loops, per-class
// prediction counts and the stuck-run check, the best-validation parameters kept by the trainer,
// and checkpoints that carry them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/error.hpp"
#include "base/rng.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/cpu_ops.hpp"
#include "helpers.hpp"
#include "reference/reference.hpp"
#include "train/checkpoint.hpp"
#include "train/schedule.hpp"
#include "train/trainer.hpp"

namespace bp {
namespace {

// ---- the schedule ----

struct Step {
  size_t halvings;
  bool improved;
  ScheduleDecision::Stop stop;
};

// Feeds `accuracies` epoch by epoch and checks each decision against `expected`.
void expect_schedule(const ScheduleSettings& s, const std::vector<size_t>& accuracies,
                     const std::vector<Step>& expected) {
  ASSERT_EQ(accuracies.size(), expected.size());
  ScheduleState state;
  for (size_t e = 0; e < accuracies.size(); ++e) {
    const ScheduleDecision d = after_epoch(s, state, e, accuracies[e]);
    EXPECT_EQ(state.halvings, expected[e].halvings) << "after epoch " << e;
    EXPECT_EQ(d.improved, expected[e].improved) << "after epoch " << e;
    EXPECT_EQ(d.stop, expected[e].stop) << "after epoch " << e;
  }
}

constexpr auto go = ScheduleDecision::go_on;

TEST(Schedule, PlateauHalvesEtaAfterNFlatEpochs) {
  // plateau 2: a new best restarts the count, ties are not improvements, and after a halving the
  // next one needs another 2 flat epochs.
  expect_schedule({0.4, 2, 0}, {5, 6, 6, 6, 7, 7, 7, 7, 7},
                  {{0, true, go},
                   {0, true, go},
                   {0, false, go},
                   {1, false, go},
                   {1, true, go},
                   {1, false, go},
                   {2, false, go},
                   {2, false, go},
                   {3, false, go}});
}

TEST(Schedule, StopsOnceEtaHasFallenToAHundredAndTwentyEighth) {
  ScheduleSettings s{0.4, 1, 0};
  ScheduleState state;
  EXPECT_TRUE(after_epoch(s, state, 0, 10).improved);
  for (size_t e = 1; e <= 7; ++e) {
    const ScheduleDecision d = after_epoch(s, state, e, 3);
    EXPECT_TRUE(d.halved);
    EXPECT_EQ(d.stop, e == 7 ? ScheduleDecision::eta_floor : go) << e;
  }
  EXPECT_DOUBLE_EQ(state.eta(s), 0.4 / 128);
  EXPECT_EQ(*state.best_epoch, 0u);
  EXPECT_EQ(state.best_correct, 10u);
}

TEST(Schedule, EarlyStopCountsFromTheBestEpochAcrossHalvings) {
  expect_schedule({1, 0, 3}, {5, 4, 4, 6, 6, 6, 6},
                  {{0, true, go},
                   {0, false, go},
                   {0, false, go},
                   {0, true, go},
                   {0, false, go},
                   {0, false, go},
                   {0, false, ScheduleDecision::early_stop}});
  // With a plateau of 2 the halving after epoch 2 does not restart early stopping's count.
  expect_schedule({1, 2, 3}, {5, 5, 5, 5},
                  {{0, true, go}, {0, false, go}, {1, false, go}, {1, false, ScheduleDecision::early_stop}});
}

TEST(Schedule, WithoutSettingsNothingHappens) {
  expect_schedule({3, 0, 0}, {0, 0, 0, 0, 1},
                  {{0, true, go}, {0, false, go}, {0, false, go}, {0, false, go}, {0, true, go}});
}

// ---- shifted samples ----

// Image `img` of `images` shifted one pixel as `variant` says, made directly: up means the picture
// moves up, so row r shows row r + 1, and the row that comes in is blank.
std::vector<uint8_t> shifted_copy(const LabelledImages& images, size_t img, unsigned variant) {
  const int rows = int(images.rows), cols = int(images.cols);
  const int dr[] = {0, 1, -1, 0, 0}, dc[] = {0, 0, 0, 1, -1};
  std::vector<uint8_t> out(rows * cols, 0);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const int sr = r + dr[variant], sc = c + dc[variant];
      if (sr >= 0 && sr < rows && sc >= 0 && sc < cols)
        out[r * cols + c] = images.pixels[(img * rows + sr) * cols + sc];
    }
  return out;
}

TEST(Shifts, GatheredSamplesAreTheShiftedImages) {
  // 5 x 7 images: not square, so rows and columns cannot be mixed up unnoticed.
  const LabelledImages images = synthetic_images(6, 5, 7, 4, 3);
  const DataView view = images.view().shifted();
  ASSERT_EQ(view.samples(), 30u);
  std::vector<uint32_t> all(view.samples());
  std::iota(all.begin(), all.end(), 0u);
  std::vector<float> x(35 * all.size(), -1.0f);
  std::vector<uint8_t> labels(all.size(), 99);
  CpuOps ops;
  ops.gather(view.pixels, view.labels, view.dim, all.data(), 0, int(all.size()), x.data(), 0, labels.data(), 0, 1,
             view.expansion());
  for (uint32_t s : all) {
    const size_t img = s % 6;
    const unsigned v = s / 6;
    const std::vector<uint8_t> want = shifted_copy(images, img, v);
    std::vector<uint8_t> copied(35);
    view.copy_sample(s, copied.data());
    EXPECT_EQ(copied, want) << "copy_sample " << s;
    const reference::Vector ref = reference::input_vector(view, s);
    for (size_t i = 0; i < 35; ++i) {
      EXPECT_EQ(x[s * 35 + i], normalise_pixel(want[i])) << "cpu gather, sample " << s << " pixel " << i;
      EXPECT_EQ(ref[i], double(normalise_pixel(want[i]))) << "reference, sample " << s << " pixel " << i;
    }
    EXPECT_EQ(labels[s], images.labels[img]);
    EXPECT_EQ(view.label(s), images.labels[img]);
  }
  // Each shift loses one row or column: a sanity check that the copies differ from the images.
  EXPECT_NE(shifted_copy(images, 0, 1), shifted_copy(images, 0, 0));
}

TEST(Shifts, NeedImagesOfKnownWidth) {
  const LabelledImages images = synthetic_images(2, 4, 4, 2, 1);
  DataView v = images.view();
  v.width = 0;
  EXPECT_THROW(v.shifted(), UsageError);
  EXPECT_FALSE(images.view().slice(0, 1).shifts);
}

// ---- the trainer ----

// A backend that trains nothing and records what the trainer asks of it (one network).
class RecordingBackend final : public Backend {
 public:
  std::string name() const override { return "recording"; }
  void load_all(std::span<const Network> nets) override {
    ASSERT_EQ(nets.size(), 1u);
    net_ = nets[0];
  }
  void store_all(std::vector<Network>& nets) override { nets = {net_}; }
  void load_velocities(std::span<const Network>) override {}
  void store_velocities(std::vector<Network>& velocities) override { velocities = {zero_network(net_.sizes)}; }
  std::vector<double> train_all(const DataView& data, std::span<const uint32_t> orders, size_t,
                                std::span<const Hyper> hypers) override {
    trained_shifted = data.shifts;
    samples.insert(samples.end(), orders.begin(), orders.end());
    etas.push_back(hypers[0].eta);
    return std::vector<double>(hypers.size(), 0.0);
  }
  std::vector<Evaluation> evaluate_all(const DataView& data) override {
    evaluated_shifted = evaluated_shifted || data.shifts;
    Evaluation e;
    e.predicted.assign(net_.sizes.back(), 1);
    e.correct = scores.empty() ? 0 : scores[std::min(calls++ / 2, scores.size() - 1)];  // validation, then test
    return {e};
  }
  double gradient(const DataView&, std::span<const uint32_t>, const Hyper&, Network&) override { return 0; }

  std::vector<uint32_t> samples;
  std::vector<double> etas;
  std::vector<size_t> scores;  // validation (and test) accuracy per epoch
  bool trained_shifted = false, evaluated_shifted = false;

 private:
  Network net_;
  size_t calls = 0;
};

Dataset tools_dataset(size_t train, size_t validation, size_t rows, size_t classes, uint64_t seed) {
  return test::small_dataset(train, validation, rows, classes, seed, 50);
}

TEST(Trainer, ShiftsShuffleEveryImageAndShiftPairOfTheTrainingSetOnly) {
  const Dataset d = tools_dataset(40, 20, 4, 3, 5);
  RecordingBackend backend;
  Network net = initialise({16, 3, 3}, Init::scaled, 1);
  TrainOptions o;
  o.epochs = 2;
  o.shifts = true;
  ASSERT_EQ(train(backend, net, d, o, [](const EpochReport&) {}).status, TrainOutcome::finished);
  EXPECT_TRUE(backend.trained_shifted);
  EXPECT_FALSE(backend.evaluated_shifted) << "validation and test must not be expanded";
  ASSERT_EQ(backend.samples.size(), 2 * 200u);
  for (size_t e = 0; e < 2; ++e) {
    std::vector<uint32_t> epoch(backend.samples.begin() + e * 200, backend.samples.begin() + (e + 1) * 200);
    EXPECT_FALSE(std::is_sorted(epoch.begin(), epoch.end()));
    std::sort(epoch.begin(), epoch.end());
    for (uint32_t i = 0; i < 200; ++i) ASSERT_EQ(epoch[i], i) << "epoch " << e;
  }
}

TEST(Trainer, PlateauHalvesTheEtaOfLaterEpochsAndStopsAtTheFloor) {
  const Dataset d = tools_dataset(1000, 20, 4, 3, 5);
  RecordingBackend backend;
  backend.scores = {3, 4, 4, 4, 4, 4, 4, 4, 4, 4};
  Network net = initialise({16, 3, 3}, Init::scaled, 1);
  TrainOptions o;
  o.epochs = 30;
  o.hyper.eta = 0.5;
  o.plateau = 1;
  std::vector<double> shown;
  const TrainOutcome out = train(backend, net, d, o, [&](const EpochReport& r) { shown.push_back(r.eta); });
  EXPECT_EQ(out.status, TrainOutcome::stopped_early);
  // Epoch 2 is the first flat one; seven halvings later (after epoch 8) eta is 0.5 / 128: stop.
  const std::vector<double> want = {0.5, 0.5, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125};
  EXPECT_EQ(shown, want);
  // Every backend call of an epoch (the trainer sends an epoch in chunks) trains with its eta.
  ASSERT_EQ(backend.etas.size() % want.size(), 0u);
  const size_t calls_per_epoch = backend.etas.size() / want.size();
  for (size_t k = 0; k < backend.etas.size(); ++k)
    EXPECT_EQ(backend.etas[k], want[k / calls_per_epoch]) << "call " << k;
  EXPECT_EQ(out.epoch, 9u);
  EXPECT_EQ(*out.schedule.best_epoch, 1u);
}

TEST(Trainer, ScheduleWithoutValidationIsAUsageError) {
  const Dataset d = tools_dataset(40, 0, 4, 3, 5);
  RecordingBackend backend;
  Network net = initialise({16, 3, 3}, Init::scaled, 1);
  TrainOptions o;
  o.early_stop = 3;
  EXPECT_THROW(train(backend, net, d, o, [](const EpochReport&) {}), UsageError);
}

TEST(Trainer, KeepsTheParametersOfTheBestValidationEpoch) {
  const Dataset d = tools_dataset(300, 100, 4, 3, 7);
  auto backend = make_cpu_backend(1);
  Network net = initialise({16, 6, 3}, Init::normal, 3);
  TrainOptions o;
  o.epochs = 8;
  o.hyper.eta = 2.0;
  std::vector<size_t> validation;
  std::vector<Network> after;  // the parameters after each epoch, as the callback sees them
  const TrainOutcome out = train(*backend, net, d, o, [&](const EpochReport& r) {
    validation.push_back(r.validation_correct);
    after.push_back(net);
  });
  const size_t best = size_t(std::max_element(validation.begin(), validation.end()) - validation.begin());
  std::cout << "validation per epoch:";
  for (size_t v : validation) std::cout << " " << v;
  std::cout << "; best epoch " << best << "\n";
  ASSERT_TRUE(best > 0 && best + 1 < validation.size()) << "the data should put the best epoch mid-run";
  ASSERT_EQ(*out.schedule.best_epoch, best);
  EXPECT_EQ(out.best.weights, after[best].weights);
  EXPECT_EQ(out.best.biases, after[best].biases);
  EXPECT_EQ(net.weights, after.back().weights) << "net itself holds the last epoch's parameters";
}

TEST(Trainer, ResumedScheduleAndShiftsEqualTheUninterruptedRun) {
  const Dataset d = tools_dataset(200, 100, 4, 3, 9);
  TrainOptions o;
  o.epochs = 6;
  o.hyper.eta = 4.0;
  o.plateau = 1;
  o.shifts = true;
  Network whole = initialise({16, 5, 3}, Init::normal, 3);
  Network part = whole;
  const TrainOutcome a = train(*make_cpu_backend(1), whole, d, o, [](const EpochReport&) {});
  TrainOptions first = o;
  first.epochs = 3;
  const TrainOutcome b = train(*make_cpu_backend(1), part, d, first, [](const EpochReport&) {});
  TrainOptions rest = o;
  rest.first_epoch = 3;
  rest.schedule = b.schedule;
  rest.best = b.best;
  const TrainOutcome c = train(*make_cpu_backend(1), part, d, rest, [](const EpochReport&) {});
  EXPECT_EQ(whole.weights, part.weights);
  EXPECT_TRUE(a.schedule == c.schedule);
  EXPECT_EQ(a.best.weights, c.best.weights);
  EXPECT_GT(a.schedule.halvings, 0u) << "the test should exercise a halving";
}

// ---- per-class counts and the stuck-run check ----

TEST(StuckRun, EvaluationCountsPredictionsPerClassOnEveryBackend) {
  const LabelledImages images = synthetic_images(70, 4, 4, 4, 11);
  // Zero weights and an output bias that favours class 2: every image is classified as 2.
  Network net = zero_network({16, 3, 4});
  net.biases[1] = {0.0f, 0.0f, 5.0f, 1.0f};
  const size_t twos = size_t(std::count(images.labels.begin(), images.labels.end(), 2));
  std::vector<std::unique_ptr<Backend>> backends;
  backends.push_back(make_cpu_backend(1));
  backends.push_back(reference::make_backend());
  for (const auto& backend : backends) {
    backend->load(net);
    const Evaluation e = backend->evaluate(images.view());
    EXPECT_EQ(e.predicted, (std::vector<size_t>{0, 0, 70, 0})) << backend->name();
    EXPECT_EQ(e.correct, twos) << backend->name();
    EXPECT_EQ(never_predicted(e.predicted), (std::vector<size_t>{0, 1, 3})) << backend->name();
  }
  // And on a trained network the counts agree between the backends and add up.
  Network trained = initialise({16, 3, 4}, Init::normal, 4);
  auto cpu = make_cpu_backend(1), ref = reference::make_backend();
  cpu->load(trained);
  ref->load(trained);
  const Evaluation a = cpu->evaluate(images.view()), b = ref->evaluate(images.view());
  EXPECT_EQ(a.predicted, b.predicted);
  EXPECT_EQ(std::accumulate(a.predicted.begin(), a.predicted.end(), size_t{0}), 70u);
  EXPECT_TRUE(never_predicted({3, 1, 9}).empty());
}

// ---- checkpoints with extra parameter sets ----

TEST(Checkpoint, CarriesExtraParameterSets) {
  test::TempDir dir;
  const std::string path = dir.file("ck.safetensors");
  const Network net = initialise({6, 4, 3}, Init::normal, 1), best = initialise({6, 4, 3}, Init::normal, 2);
  save_model(path, net, {{"k", "v"}}, {{"best", best}});
  const ModelFile m = load_model(path);
  EXPECT_EQ(m.net.weights, net.weights);
  ASSERT_EQ(m.extra.count("best"), 1u);
  EXPECT_EQ(m.extra.at("best").weights, best.weights);
  EXPECT_EQ(m.extra.at("best").biases, best.biases);
  EXPECT_EQ(m.metadata.at("k"), "v");
  // A plain model file has none, and a wrongly shaped extra set is refused.
  save_model(path, net);
  EXPECT_TRUE(load_model(path).extra.empty());
  EXPECT_THROW(save_model(path, net, {}, {{"best", initialise({6, 5, 3}, Init::normal, 2)}}), Error);
  EXPECT_TRUE(load_model(path).extra.empty()) << "a failed save must leave the old file";
}

}  // namespace
}  // namespace bp
