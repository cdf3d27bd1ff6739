// The SGD loop. Parameters stay in the backend for the whole run and come back to the host once
// per epoch, for the change norm, the finiteness check and the best-validation copy. The epoch
// goes to the backend in chunks of whole minibatches, so that progress can be shown and a stop
// request honoured.
#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <span>

#include "base/error.hpp"
#include "model/rng.hpp"

namespace bp {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

size_t chunk_size(size_t n, size_t batch, size_t steps) {
  steps = std::max<size_t>(steps, 1);
  const size_t batches = std::max<size_t>(n / 100 / batch, 1);
  return (batches + steps - 1) / steps * steps * batch;
}

TrainOutcome train(Backend& backend, Network& net, const Dataset& data, const TrainOptions& options,
                   const EpochCallback& on_epoch, const ProgressCallback& on_progress) {
  const bool validate = options.evaluate_validation && data.validation.count > 0;
  if ((options.plateau > 0 || options.early_stop > 0) && !validate)
    throw UsageError("--schedule and --early-stop need validation data (a --validation-size above 0)");
  const DataView train_set = options.shifts ? data.train.shifted() : data.train;
  const size_t n = train_set.samples();
  Hyper hyper = options.hyper;
  hyper.n = n;
  const ScheduleSettings settings{options.hyper.eta, options.plateau, options.early_stop};
  TrainOutcome out;
  out.schedule = options.schedule;
  out.best = options.best;
  if (options.first_sample % options.batch_size != 0 || options.first_sample >= n)
    throw UsageError("resume position " + std::to_string(options.first_sample) + " is not a minibatch boundary of this run");
  const bool momentum = hyper.momentum != 0;
  if (momentum && !options.velocity) throw Error("training with momentum needs somewhere to keep the velocities");
  backend.load(net);
  // The backend may keep a form of these images until the run ends (CpuBackend lists their
  // nonzero pixels once instead of every epoch); released on every way out.
  struct Prepared {
    Backend& backend;
    ~Prepared() { backend.prepare({}); }
  } prepared{backend};
  const DataView views[] = {train_set, data.validation, data.test};
  backend.prepare(views);
  if (momentum && !options.velocity->sizes.empty()) backend.load_velocity(*options.velocity);
  const auto store_velocity = [&] {
    if (momentum) backend.store_velocity(*options.velocity);
  };
  const size_t chunk = chunk_size(n, options.batch_size, backend.preferred_steps());
  for (size_t epoch = options.first_epoch; epoch < options.epochs; ++epoch) {
    EpochReport r;
    r.epoch = epoch;
    hyper.eta = r.eta = out.schedule.eta(settings);
    const std::vector<uint32_t> order = epoch_permutation(options.seed, epoch, n);
    const size_t first = epoch == options.first_epoch ? options.first_sample : 0;
    const auto t0 = std::chrono::steady_clock::now();
    double cost = 0;
    for (size_t start = first; start < n; start += chunk) {
      if (options.stop && options.stop->load()) {
        backend.store(net);
        store_velocity();
        out.status = TrainOutcome::interrupted;
        out.epoch = epoch;
        out.sample = start;
        return out;
      }
      const std::span<const uint32_t> part(order.data() + start, std::min(chunk, n - start));
      cost += backend.train(train_set, part, options.batch_size, hyper);
      if (on_progress) on_progress(start + part.size(), n);
    }
    r.train_seconds = seconds_since(t0);
    r.samples = n - first;
    r.partial = first > 0;

    Network after;
    backend.store(after);
    store_velocity();
    r.parameter_change = parameter_distance(net, after);
    net = std::move(after);
    r.training_cost = cost / double(n - first) + l2_term(net, hyper);
    r.finite = std::isfinite(r.training_cost) && all_finite(net);

    const auto t1 = std::chrono::steady_clock::now();
    if (r.finite && validate) {
      Evaluation v = backend.evaluate(data.validation);
      r.validation_correct = v.correct;
      r.validation_predicted = std::move(v.predicted);
      r.validation_count = data.validation.count;
      r.decision = after_epoch(settings, out.schedule, epoch, r.validation_correct);
      if (r.decision.improved) out.best = net;
      r.best = &out.best;
    }
    if (r.finite && options.evaluate_test) {
      r.test_correct = backend.evaluate(data.test).correct;
      r.test_count = data.test.count;
    }
    r.eval_seconds = seconds_since(t1);
    r.schedule = out.schedule;
    on_epoch(r);
    if (!r.finite) {
      out.status = TrainOutcome::diverged;
      out.epoch = epoch;
      return out;
    }
    if (r.decision.stop != ScheduleDecision::go_on) {
      out.status = TrainOutcome::stopped_early;
      out.epoch = epoch + 1;
      return out;
    }
  }
  out.epoch = options.epochs;
  return out;
}

std::vector<size_t> never_predicted(const std::vector<size_t>& predicted) {
  std::vector<size_t> out;
  for (size_t c = 0; c < predicted.size(); ++c)
    if (predicted[c] == 0) out.push_back(c);
  return out;
}

}  // namespace bp
