// See fused_plan.hpp.
#include "cuda/fused_plan.hpp"

#include <algorithm>

#include "model/network.hpp"
#include "model/step.hpp"

namespace bp {

namespace {

constexpr size_t kMinSlice = 16;  // inputs per thread in a forward sum at least: fewer costs more in the adding up

size_t round4(size_t floats) { return (floats + 3) / 4 * 4; }

std::string kib(size_t bytes) { return std::to_string((bytes + 1023) / 1024) + " KiB"; }

}  // namespace

FusedPlan plan_fused(const std::vector<size_t>& sizes, size_t batch, bool momentum, size_t shared_limit) {
  using kernels::kFusedMaxLayers;
  using kernels::kFusedThreads;
  FusedPlan plan;
  const std::string what = format_layers(sizes) + " at mini-batch " + std::to_string(batch);
  if (sizes.size() < 2 || sizes.size() > size_t(kFusedMaxLayers) + 1) {
    plan.why_not = "the fused engine takes 1 to " + std::to_string(kFusedMaxLayers) + " weight layers, not " + what;
    return plan;
  }
  if (batch < 1 || batch > size_t(kFusedThreads)) {
    plan.why_not = "the fused engine takes mini-batches of 1 to " + std::to_string(kFusedThreads) + ", not " + what;
    return plan;
  }
  kernels::FusedShape& s = plan.shape;
  const StepLayout layout = step_layout(sizes, batch);
  // The kernel compiled for its batch reads a unit's samples as float4s, which need a stride of 4;
  // the other reads them one at a time and packs them.
  const size_t L = sizes.size() - 1, M = batch,
               S = batch == size_t(kernels::kFusedCompiledBatch) ? round4(batch) : batch;
  s.layers = int(L);
  s.capacity = int(M);
  s.stride = int(S);
  s.param_floats = int(std::min<size_t>(layout.param_stride, size_t(1) << 30));
  size_t end = layout.param_stride;  // the parameters first, at 0
  const auto place = [&end](size_t floats) {
    const size_t at = end;
    end = round4(end + floats);
    return int(std::min<size_t>(at, size_t(1) << 30));
  };
  size_t partial = std::max(sizes[L] * S, 2 * M);  // the output costs; the final cost sums (doubles)
  for (size_t l = 0; l <= L; ++l) s.sizes[l] = int(std::min<size_t>(sizes[l], size_t(1) << 30));
  for (size_t l = 0; l < L; ++l) {
    s.w[l] = int(layout.w[l]);
    s.b[l] = int(layout.b[l]);
    const size_t n_in = sizes[l], n_out = sizes[l + 1];
    s.parts[l] = int(std::clamp<size_t>(size_t(kFusedThreads) / n_out, 1, std::max<size_t>(1, n_in / kMinSlice)));
    partial = std::max(partial, size_t(s.parts[l]) * n_out * S);
  }
  for (size_t l = 0; l <= L; ++l) s.act[l] = place(sizes[l] * S);
  for (size_t l = 1; l <= L; ++l) s.delta[l] = place(sizes[l] * S);
  s.partial = place(partial);
  s.samples = place(M);
  s.labels = place((M + 3) / 4);
  s.active = place((sizes[0] + 3) / 4);
  const size_t without_velocity = end * sizeof(float);
  if (momentum && without_velocity + layout.param_stride * sizeof(float) <= shared_limit) {
    s.velocity_shared = true;
    s.velocity = place(layout.param_stride);
  }
  s.shared_floats = int(std::min<size_t>(end, size_t(1) << 30));
  plan.shared_bytes = end * sizeof(float);
  if (without_velocity > shared_limit)
    plan.why_not = "the fused engine keeps a network and its mini-batch in one thread block's shared memory, and " +
                   what + " needs " + kib(without_velocity) + " of the " + kib(shared_limit) +
                   " a block may have on this GPU";
  return plan;
}

}  // namespace bp
