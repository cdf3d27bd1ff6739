// The SGD loop, for K networks of one shape (a single run is K = 1). Parameters stay in the
// backend for the whole run and come back to the host once per epoch, for the change norm, the
// finiteness check and the best-validation copy. The epoch goes to the backend in chunks of whole
// minibatches, so that progress can be shown and a stop request honoured; each chunk is one call
// that steps every network on its own shuffle.
#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <span>

#include "base/error.hpp"
#include "base/rng.hpp"

namespace bp {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void check_group(const std::vector<Network>& nets, const std::vector<TrainOptions>& options) {
  if (nets.empty() || nets.size() != options.size()) throw Error("train_together: one TrainOptions per network");
  const TrainOptions& o = options[0];
  for (const TrainOptions& p : options)
    if (p.epochs != o.epochs || p.batch_size != o.batch_size || p.shifts != o.shifts ||
        p.evaluate_validation != o.evaluate_validation || p.evaluate_test != o.evaluate_test ||
        (p.hyper.momentum != 0) != (o.hyper.momentum != 0) || p.hyper.cost != o.hyper.cost ||
        p.first_epoch != o.first_epoch || p.first_sample != o.first_sample || p.stop != o.stop)
      throw Error(
          "networks trained together must share epochs, batch size, cost, data, evaluation, momentum, "
          "resume position and stop flag");
}

}  // namespace

size_t chunk_size(size_t n, size_t batch, size_t steps) {
  steps = std::max<size_t>(steps, 1);
  const size_t batches = std::max<size_t>(n / 100 / batch, 1);
  return (batches + steps - 1) / steps * steps * batch;
}

TrainOutcome train(Backend& backend, Network& net, const Dataset& data, const TrainOptions& options,
                   const EpochCallback& on_epoch, const ProgressCallback& on_progress) {
  std::vector<Network> nets{net};
  std::vector<TrainOutcome> out = train_together(
      backend, nets, data, {options},
      [&](size_t, const EpochReport& r) {
        net = nets[0];  // the caller's network is up to date in its callback (a checkpoint saves it)
        on_epoch(r);
      },
      on_progress);
  net = std::move(nets[0]);
  return std::move(out[0]);
}

std::vector<TrainOutcome> train_together(Backend& backend, std::vector<Network>& nets, const Dataset& data,
                                         const std::vector<TrainOptions>& options, const NetworkEpochCallback& on_epoch,
                                         const ProgressCallback& on_progress) {
  check_group(nets, options);
  const size_t K = nets.size();
  const TrainOptions& group = options[0];
  const bool validate = group.evaluate_validation && data.validation.count > 0;
  const bool test = group.evaluate_test && data.test.count > 0;  // a sweep from arrays may have none
  for (const TrainOptions& o : options)
    if ((o.plateau > 0 || o.early_stop > 0) && !validate)
      throw UsageError("--schedule and --early-stop need validation data (a --validation-size above 0)");
  const DataView train_set = group.shifts ? data.train.shifted() : data.train;
  const size_t n = train_set.samples();
  if (group.first_sample % group.batch_size != 0 || group.first_sample >= n)
    throw UsageError("resume position " + std::to_string(group.first_sample) +
                     " is not a minibatch boundary of this run");
  const bool momentum = group.hyper.momentum != 0;
  std::vector<Hyper> hypers(K);
  std::vector<ScheduleSettings> settings(K);
  std::vector<TrainOutcome> out(K);
  std::vector<bool> active(K, true);
  for (size_t k = 0; k < K; ++k) {
    if (momentum && !options[k].velocity) throw Error("training with momentum needs somewhere to keep the velocities");
    hypers[k] = options[k].hyper;
    hypers[k].n = n;
    settings[k] = {options[k].hyper.eta, options[k].plateau, options[k].early_stop};
    out[k].schedule = options[k].schedule;
    out[k].best = options[k].best;
  }
  backend.load_all(nets);
  // The backend may keep a form of these images until the run ends (CpuBackend lists their
  // nonzero pixels once instead of every epoch); released on every way out.
  struct Prepared {
    Backend& backend;
    ~Prepared() { backend.prepare({}); }
  } prepared{backend};
  const DataView views[] = {train_set, data.validation, data.test};
  backend.prepare(views);
  if (momentum &&
      std::any_of(options.begin(), options.end(), [](const TrainOptions& o) { return !o.velocity->sizes.empty(); })) {
    std::vector<Network> start(K);
    for (size_t k = 0; k < K; ++k)
      start[k] = options[k].velocity->sizes.empty() ? zero_network(nets[k].sizes) : *options[k].velocity;
    backend.load_velocities(start);
  }
  // The parameters (and velocities) of the networks still reported, from the backend.
  const auto store_active = [&] {
    std::vector<Network> now, velocities;
    backend.store_all(now);
    if (momentum) backend.store_velocities(velocities);
    for (size_t k = 0; k < K; ++k) {
      if (!active[k]) continue;
      if (momentum) *options[k].velocity = std::move(velocities[k]);
      std::swap(now[k], nets[k]);  // the previous parameters stay in now[k]
    }
    return now;
  };
  const size_t chunk = chunk_size(n, group.batch_size, backend.preferred_steps());
  std::vector<uint32_t> orders(K * n), part;
  for (size_t epoch = group.first_epoch; epoch < group.epochs; ++epoch) {
    std::vector<EpochReport> r(K);
    for (size_t k = 0; k < K; ++k) {
      r[k].epoch = epoch;
      hypers[k].eta = r[k].eta = out[k].schedule.eta(settings[k]);
      const std::vector<uint32_t> order = epoch_permutation(options[k].seed, epoch, n);
      std::copy(order.begin(), order.end(), orders.begin() + k * n);
    }
    const size_t first = epoch == group.first_epoch ? group.first_sample : 0;
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<double> cost(K, 0.0);
    for (size_t start = first; start < n; start += chunk) {
      if (group.stop && group.stop->load()) {
        store_active();
        for (size_t k = 0; k < K; ++k) {
          if (!active[k]) continue;
          out[k].status = TrainOutcome::interrupted;
          out[k].epoch = epoch;
          out[k].sample = start;
        }
        return out;
      }
      const size_t length = std::min(chunk, n - start);
      part.resize(K * length);
      for (size_t k = 0; k < K; ++k) std::copy_n(orders.begin() + k * n + start, length, part.begin() + k * length);
      const std::vector<double> c = backend.train_all(train_set, part, group.batch_size, hypers);
      for (size_t k = 0; k < K; ++k) cost[k] += c[k];
      if (on_progress) on_progress(start + length, n);
    }
    const double train_seconds = seconds_since(t0);

    const std::vector<Network> before = store_active();
    bool any_finite = false;
    for (size_t k = 0; k < K; ++k) {
      if (!active[k]) continue;
      EpochReport& e = r[k];
      e.train_seconds = train_seconds;
      e.samples = n - first;
      e.partial = first > 0;
      e.parameter_change = parameter_distance(before[k], nets[k]);
      e.training_cost = cost[k] / double(n - first) + l2_term(nets[k], hypers[k]);
      e.finite = std::isfinite(e.training_cost) && all_finite(nets[k]);
      any_finite = any_finite || e.finite;
    }

    const auto t1 = std::chrono::steady_clock::now();
    std::vector<Evaluation> v, t;
    if (any_finite && validate) v = backend.evaluate_all(data.validation);
    if (any_finite && test) t = backend.evaluate_all(data.test);
    const double eval_seconds = seconds_since(t1);
    for (size_t k = 0; k < K; ++k) {
      if (!active[k]) continue;
      EpochReport& e = r[k];
      if (e.finite && validate) {
        e.validation_correct = v[k].correct;
        e.validation_predicted = std::move(v[k].predicted);
        e.validation_count = data.validation.count;
        e.decision = after_epoch(settings[k], out[k].schedule, epoch, e.validation_correct);
        if (e.decision.improved) out[k].best = nets[k];
        e.best = &out[k].best;
      }
      if (e.finite && test) {
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

std::vector<size_t> never_predicted(const std::vector<size_t>& predicted) {
  std::vector<size_t> out;
  for (size_t c = 0; c < predicted.size(); ++c)
    if (predicted[c] == 0) out.push_back(c);
  return out;
}

}  // namespace bp
