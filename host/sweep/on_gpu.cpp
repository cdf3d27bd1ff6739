#include "sweep/on_gpu.hpp"

#include <algorithm>
#include <memory>

#include "base/error.hpp"
#include "cuda/cuda_backend.hpp"
#include "kernels/shifts.cuh"
#include "sweep/groups.hpp"
#include "train/trainer.hpp"

namespace bp::sweep {

bool run_on_gpu(std::vector<Plan>& plans, const Dataset& data, const RunnerOptions& options, GpuEngine engine,
                size_t group_size, const OnEpoch& on_epoch, const OnNetwork& on_network,
                const std::function<void(const std::string& line)>& say) {
  // Every shape checked before any training: --engine fused refuses at once what it cannot hold.
  if (engine == GpuEngine::fused)
    for (const Plan& p : plans) choose_gpu_engine(engine, p.sizes, p.run.settings.batch_size, false);
  size_t cap = group_size;
  size_t per_network = 0;
  for (const Plan& p : plans) {
    const size_t n = p.run.settings.expand == "shifts" ? data.train.count * kShiftVariants : data.train.count;
    per_network = std::max(per_network, cuda_device_bytes(p.sizes, p.run.settings.batch_size, p.hyper.momentum != 0,
                                                          chunk_size(n, p.run.settings.batch_size, kCudaGraphSteps)));
  }
  const size_t free_bytes = cuda_free_memory();
  const size_t fit = networks_that_fit(free_bytes, per_network);
  if (fit == 0)
    throw Error("--device cuda: one network of this sweep needs about " + std::to_string(per_network >> 20) +
                " MiB of device memory and " + std::to_string(free_bytes >> 20) + " MiB are free");
  if (cap == 0 || cap > fit) {
    if (cap > fit)
      say("note: --group-size " + std::to_string(cap) + " does not fit in device memory; groups of " +
          std::to_string(fit));
    cap = fit;
  }
  const Grouping g = group_plans(plans, cap);
  say("training " + std::to_string(g.groups.size()) + " group(s) together on the GPU (at most " + std::to_string(cap) +
      " networks each)");
  if (!g.reason.empty()) say("note: " + g.reason);
  std::unique_ptr<Backend> cublas, fused;  // made once each, on first use, for every group of that engine
  const BackendFor backend_for = [&](const Plan& first) -> Backend& {
    const CudaEngine e = choose_gpu_engine(engine, first.sizes, first.run.settings.batch_size, false).engine;
    std::unique_ptr<Backend>& b = e == CudaEngine::fused ? fused : cublas;
    if (!b) {
      b = make_cuda_backend(false, true, e);
      say("engine for " + format_layers(first.sizes) + " at mini-batch " +
          std::to_string(first.run.settings.batch_size) + " and groups like it: " + b->name());
    }
    return *b;
  };
  if (!run_groups(plans, g.groups, data, backend_for, options.stop, on_epoch, on_network)) return false;
  if (g.alone.empty()) return true;
  std::vector<Plan> alone;
  for (size_t i : g.alone) alone.push_back(std::move(plans[i]));
  const bool done = run_plans(alone, data, options, on_epoch, on_network);
  for (size_t j = 0; j < g.alone.size(); ++j) plans[g.alone[j]] = std::move(alone[j]);
  return done;
}

}  // namespace bp::sweep
