// See runner.hpp.
#include "sweep/runner.hpp"

#include <exception>
#include <mutex>
#include <thread>

#include "train/run_settings.hpp"
#include "train/trainer.hpp"

namespace bp::sweep {

namespace {
// `data`, or the prefix view of it in `subset` when the plan trains on fewer images.
const Dataset& pick(const Dataset& data, const Plan& plan, Dataset& subset) {
  if (!plan.train_count || plan.train_count == data.train.count) return data;
  subset = first_training_images(data, plan.train_count);
  return subset;
}
}  // namespace

bool run_plans(std::vector<Plan>& plans, const Dataset& data, const RunnerOptions& options, const OnEpoch& on_epoch,
               const OnNetwork& on_network) {
  std::atomic<size_t> next{0}, done{0};
  std::atomic<bool> failed{false}, interrupted{false};
  std::mutex lock;
  std::exception_ptr error;
  const auto stopping = [&] { return failed.load() || (options.stop && options.stop->load()); };
  const auto work = [&] {
    try {
      std::unique_ptr<Backend> backend;  // made on this thread: BLIS threading is set per thread
      for (size_t i = next++; i < plans.size() && !stopping(); i = next++) {
        if (!backend) backend = make_backend(options.backend);
        Plan& plan = plans[i];
        TrainOptions t = train_options(plan.run.settings);  // as `backprop train` makes them
        t.hyper = plan.hyper;
        t.stop = options.stop;
        Network velocity;  // momentum's, from zero
        t.velocity = &velocity;
        Network net = initialise(plan.sizes, plan.init, plan.run.settings.seed, output_layer(plan.hyper.cost));
        Dataset subset;
        const TrainOutcome outcome = train(*backend, net, pick(data, plan, subset), t, [&](const EpochReport& r) {
          const std::lock_guard<std::mutex> hold(lock);
          plan.run.epochs.push_back(r);
          on_epoch(plan.run, r);
        });
        if (outcome.status == TrainOutcome::interrupted) {
          interrupted = true;
          return;
        }
        const std::lock_guard<std::mutex> hold(lock);
        on_network(plan.run, net, outcome);
        ++done;
      }
    } catch (...) {
      const std::lock_guard<std::mutex> hold(lock);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> threads;
  for (size_t w = 1; w < options.workers && w < plans.size(); ++w) threads.emplace_back(work);
  work();  // the calling thread is a worker too
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  return !interrupted && done.load() == plans.size();
}

bool run_groups(std::vector<Plan>& plans, const std::vector<std::vector<size_t>>& groups, const Dataset& data,
                const BackendFor& backend_for, const std::atomic<bool>* stop, const OnEpoch& on_epoch,
                const OnNetwork& on_network) {
  for (const std::vector<size_t>& group : groups) {
    if (stop && stop->load()) return false;
    std::vector<Network> nets, velocities(group.size());  // momentum's, from zero
    std::vector<TrainOptions> options;
    for (size_t i : group) {
      const Plan& plan = plans[i];
      TrainOptions t = train_options(plan.run.settings);  // as `backprop train` makes them
      t.hyper = plan.hyper;
      t.stop = stop;
      t.velocity = &velocities[options.size()];
      options.push_back(t);
      nets.push_back(initialise(plan.sizes, plan.init, plan.run.settings.seed, output_layer(plan.hyper.cost)));
    }
    Dataset subset;  // the group shares its training images (sweep/groups.hpp)
    const std::vector<TrainOutcome> outcomes =
        train_together(backend_for(plans[group[0]]), nets, pick(data, plans[group[0]], subset), options,
                       [&](size_t k, const EpochReport& r) {
                         Plan& plan = plans[group[k]];
                         plan.run.epochs.push_back(r);
                         on_epoch(plan.run, r);
                       });
    for (size_t k = 0; k < group.size(); ++k)
      if (outcomes[k].status == TrainOutcome::interrupted) return false;
    for (size_t k = 0; k < group.size(); ++k) on_network(plans[group[k]].run, nets[k], outcomes[k]);
  }
  return true;
}

}  // namespace bp::sweep
