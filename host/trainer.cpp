// The SGD loop. Parameters stay in the backend for the whole run and come back to the host once
// per epoch, for the change norm and the finiteness check.
#include "trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <span>

#include "rng.hpp"

namespace bp {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

bool train(Backend& backend, Network& net, const Dataset& data, const TrainOptions& options,
           const EpochCallback& on_epoch, const ProgressCallback& on_progress) {
  Hyper hyper = options.hyper;
  hyper.n = data.train.count;
  backend.load(net);
  const size_t n = data.train.count;
  // With a progress display, hand the backend about 1% of an epoch at a time (whole minibatches).
  const size_t chunk = on_progress ? std::max<size_t>(1, n / 100 / options.batch_size) * options.batch_size : n;
  for (size_t epoch = options.first_epoch; epoch < options.epochs; ++epoch) {
    EpochReport r;
    r.epoch = epoch;
    const std::vector<uint32_t> order = epoch_permutation(options.seed, epoch, n);
    const auto t0 = std::chrono::steady_clock::now();
    double cost = 0;
    for (size_t start = 0; start < n; start += chunk) {
      const std::span<const uint32_t> part(order.data() + start, std::min(chunk, n - start));
      cost += backend.train(data.train, part, options.batch_size, hyper);
      if (on_progress) on_progress(start + part.size(), n);
    }
    r.train_seconds = seconds_since(t0);

    Network after;
    backend.store(after);
    r.parameter_change = parameter_distance(net, after);
    net = std::move(after);
    r.training_cost = cost / double(n) + l2_term(net, hyper);
    r.finite = std::isfinite(r.training_cost) && all_finite(net);

    const auto t1 = std::chrono::steady_clock::now();
    if (r.finite && options.evaluate_validation && data.validation.count > 0) {
      r.validation_correct = backend.evaluate(data.validation);
      r.validation_count = data.validation.count;
    }
    if (r.finite && options.evaluate_test) {
      r.test_correct = backend.evaluate(data.test);
      r.test_count = data.test.count;
    }
    r.eval_seconds = seconds_since(t1);
    on_epoch(r);
    if (!r.finite) return false;
  }
  return true;
}

}  // namespace bp
