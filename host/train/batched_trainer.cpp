// The SGD loop of trainer.cpp for a group of networks: per network its own shuffle, eta (from its
// schedule), best-validation copy and reports; per chunk one call that steps them all.
#include "train/batched_trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "base/error.hpp"
#include "model/rng.hpp"

namespace bp {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void check_group(const std::vector<Network>& nets, const std::vector<TrainOptions>& options) {
  if (nets.empty() || nets.size() != options.size()) throw Error("train_together: one TrainOptions per network");
  const TrainOptions& o = options[0];
  for (const TrainOptions& p : options) {
    if (p.epochs != o.epochs || p.batch_size != o.batch_size || p.shifts != o.shifts ||
        p.evaluate_validation != o.evaluate_validation || p.evaluate_test != o.evaluate_test ||
        (p.hyper.momentum != 0) != (o.hyper.momentum != 0) || p.hyper.cost != o.hyper.cost)
      throw Error("networks trained together must share epochs, batch size, cost, data, evaluation and momentum");
    if (p.first_epoch != 0 || p.first_sample != 0) throw Error("networks trained together cannot resume");
  }
}

}  // namespace

std::vector<TrainOutcome> train_together(BatchedBackend& backend, std::vector<Network>& nets, const Dataset& data,
                                         const std::vector<TrainOptions>& options,
                                         const BatchedEpochCallback& on_epoch) {
  check_group(nets, options);
  const size_t K = nets.size();
  const TrainOptions& group = options[0];
  const bool validate = group.evaluate_validation && data.validation.count > 0;
  for (const TrainOptions& o : options)
    if ((o.plateau > 0 || o.early_stop > 0) && !validate)
      throw UsageError("--schedule and --early-stop need validation data (a --validation-size above 0)");
  const DataView train_set = group.shifts ? data.train.shifted() : data.train;
  const size_t n = train_set.samples();
  std::vector<Hyper> hypers(K);
  std::vector<ScheduleSettings> settings(K);
  std::vector<TrainOutcome> out(K);
  std::vector<bool> active(K, true);
  for (size_t k = 0; k < K; ++k) {
    hypers[k] = options[k].hyper;
    hypers[k].n = n;
    settings[k] = {options[k].hyper.eta, options[k].plateau, options[k].early_stop};
    out[k].schedule = options[k].schedule;
  }
  backend.load(nets, group.hyper.momentum != 0);
  const size_t chunk = chunk_size(n, group.batch_size, backend.preferred_steps());
  std::vector<uint32_t> orders(K * n), part;
  for (size_t epoch = 0; epoch < group.epochs; ++epoch) {
    std::vector<EpochReport> r(K);
    for (size_t k = 0; k < K; ++k) {
      r[k].epoch = epoch;
      hypers[k].eta = r[k].eta = out[k].schedule.eta(settings[k]);
      const std::vector<uint32_t> order = epoch_permutation(options[k].seed, epoch, n);
      std::copy(order.begin(), order.end(), orders.begin() + k * n);
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<double> cost(K, 0.0);
    for (size_t start = 0; start < n; start += chunk) {
      if (group.stop && group.stop->load()) {
        std::vector<Network> now;
        backend.store(now);
        for (size_t k = 0; k < K; ++k) {
          if (active[k]) nets[k] = std::move(now[k]);
          if (!active[k]) continue;
          out[k].status = TrainOutcome::interrupted;
          out[k].epoch = epoch;
          out[k].sample = start;
        }
        return out;
      }
      const size_t length = std::min(chunk, n - start);
      part.resize(K * length);
      for (size_t k = 0; k < K; ++k)
        std::copy_n(orders.begin() + k * n + start, length, part.begin() + k * length);
      const std::vector<double> c = backend.train(train_set, part, length, group.batch_size, hypers);
      for (size_t k = 0; k < K; ++k) cost[k] += c[k];
    }
    const double train_seconds = seconds_since(t0);

    std::vector<Network> after;
    backend.store(after);
    const auto t1 = std::chrono::steady_clock::now();
    std::vector<Evaluation> v, t;
    if (validate) v = backend.evaluate(data.validation);
    if (group.evaluate_test) t = backend.evaluate(data.test);
    const double eval_seconds = seconds_since(t1);
    for (size_t k = 0; k < K; ++k) {
      if (!active[k]) continue;
      EpochReport& e = r[k];
      e.train_seconds = train_seconds;
      e.samples = n;
      e.parameter_change = parameter_distance(nets[k], after[k]);
      nets[k] = std::move(after[k]);
      e.training_cost = cost[k] / double(n) + l2_term(nets[k], hypers[k]);
      e.finite = std::isfinite(e.training_cost) && all_finite(nets[k]);
      if (e.finite && validate) {
        e.validation_correct = v[k].correct;
        e.validation_predicted = std::move(v[k].predicted);
        e.validation_count = data.validation.count;
        e.decision = after_epoch(settings[k], out[k].schedule, epoch, e.validation_correct);
        if (e.decision.improved) out[k].best = nets[k];
        e.best = &out[k].best;
      }
      if (e.finite && group.evaluate_test) {
        e.test_correct = t[k].correct;
        e.test_count = data.test.count;
      }
      e.eval_seconds = eval_seconds;
      e.schedule = out[k].schedule;
      on_epoch(k, e);
      if (!e.finite) {
        out[k].status = TrainOutcome::diverged;
        out[k].epoch = epoch;
        active[k] = false;
      } else if (e.decision.stop != ScheduleDecision::go_on) {
        out[k].status = TrainOutcome::stopped_early;
        out[k].epoch = epoch + 1;
        active[k] = false;
      }
    }
    if (std::none_of(active.begin(), active.end(), [](bool a) { return a; })) return out;
  }
  for (size_t k = 0; k < K; ++k)
    if (active[k]) out[k].epoch = group.epochs;
  return out;
}

}  // namespace bp
