// See plans.hpp.
#include "sweep/plans.hpp"

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <thread>
#include <unordered_map>

#include "base/error.hpp"
#include "train/backend_factory.hpp"
#include "train/engine_choice.hpp"
#include "train/run_settings.hpp"

namespace bp::sweep {
namespace {

// The library's checks name the setting ("eta must be > 0"); a sweep's errors name its flags.
template <class Check>
auto as_flag(Check&& check) {
  try {
    return check();
  } catch (const UsageError& e) {
    throw UsageError(std::string("--") + e.what());
  }
}

// The cores this process may run on.
int usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

std::vector<Plan> make_plans(const Grid& grid, const std::vector<uint64_t>& indices, const Dataset& data,
                             const std::set<uint64_t>& done) {
  struct Checked {
    Hyper hyper;
    Init init;
    std::vector<size_t> sizes;
  };
  // By setting: --seeds is the innermost axis, so a network's setting is its index over the seeds.
  const uint64_t seeds =
      grid.axes().empty() || grid.axes().back().flag != "--seeds" ? 1 : grid.axes().back().values.size();
  std::unordered_map<uint64_t, Checked> checked;
  std::vector<Plan> plans;
  plans.reserve(indices.size() - std::min(indices.size(), done.size()));
  for (uint64_t index : indices) {
    if (done.count(index)) continue;
    Plan p;
    p.run.index = index;
    p.run.settings = grid.at(index);
    p.run.point = grid.values_at(index);
    const uint64_t setting = index / seeds;
    auto it = checked.find(setting);
    if (it == checked.end()) {
      const RunSettings& s = p.run.settings;
      if (s.epochs < 1 || s.epochs > 1000000)
        throw UsageError("--epochs must be 1..1000000, got " + std::to_string(s.epochs));
      if (s.batch_size > UINT32_MAX) throw UsageError("--batch must be at most " + std::to_string(UINT32_MAX));
      Checked c{as_flag([&] { return checked_hyper(s); }), as_flag([&] { return init_from_name(s.init); }),
                checked_layers(s, data)};
      it = checked.emplace(setting, std::move(c)).first;
    }
    if (p.run.settings.train_size && *p.run.settings.train_size < data.train.count)
      p.train_count = *p.run.settings.train_size;
    p.hyper = it->second.hyper;
    p.init = it->second.init;
    p.sizes = it->second.sizes;
    plans.push_back(std::move(p));
  }
  return plans;
}

Device sweep_device(Device requested) {
  if (requested != Device::auto_select) return requested;
  return available_engines().cuda ? Device::cuda : Device::cpu;
}

size_t sweep_workers(Device device, int threads, size_t networks) {
  const size_t workers = device == Device::cpu ? size_t(capped_threads(threads == 0 ? usable_cores() : threads)) : 1;
  return std::max<size_t>(1, std::min(workers, networks));
}

}  // namespace bp::sweep
