// See gradcheck.hpp.
#include "train/gradcheck.hpp"

#include <algorithm>
#include <memory>

#include "base/rng.hpp"
#include "cuda/cuda_backend.hpp"
#include "reference/reference.hpp"
#include "train/backend_factory.hpp"

namespace bp {
namespace {

// Central differences on `sampled` parameters chosen at random (all when 0).
GradcheckResult finite_differences(const reference::Params& p, const reference::Params& g, const DataView& data,
                                   std::span<const uint32_t> batch, const Hyper& h, const GradcheckOptions& o) {
  struct Site {
    size_t layer;
    bool weight;
    size_t i;
  };
  std::vector<Site> sites;
  for (size_t l = 0; l < p.weights.size(); ++l) {
    for (size_t i = 0; i < p.weights[l].size(); ++i) sites.push_back({l, true, i});
    for (size_t i = 0; i < p.biases[l].size(); ++i) sites.push_back({l, false, i});
  }
  if (o.sampled > 0 && o.sampled < sites.size()) {
    Rng rng(o.seed, 12);
    for (size_t i = 0; i < o.sampled; ++i) std::swap(sites[i], sites[i + rng.below(sites.size() - i)]);
    sites.resize(o.sampled);
  }
  GradcheckResult r;
  r.label = "reference gradient vs finite differences";
  for (const Site& s : sites) {
    r.got.push_back(s.weight ? g.weights[s.layer][s.i] : g.biases[s.layer][s.i]);
    r.ref.push_back(reference::numerical_partial(p, data, batch, h, s.layer, s.weight, s.i));
  }
  r.comparison = compare(r.ref, r.got, kGradcheckFloor);
  r.tolerance = kFiniteDifferenceTolerance;
  return r;
}

}  // namespace

std::vector<std::string> gradcheck_devices() {
  std::vector<std::string> devices{"cpu"};
  if (cuda_status().usable) devices.push_back("cuda");
  return devices;
}

std::vector<GradcheckResult> gradcheck(const DataView& data, const GradcheckOptions& o) {
  Hyper h = o.hyper;
  h.n = data.count - data.count / 6;  // the L2 term of the training split these images give (load_dataset)
  std::vector<uint32_t> batch(std::min(o.batch_size, data.count));
  Rng pick(o.seed, 11);
  for (uint32_t& i : batch) i = uint32_t(pick.below(data.count));

  const Network net = initialise(o.sizes, o.init, o.seed, output_layer(h.cost));
  const reference::Params p = reference::from_network(net);
  reference::Params g;
  reference::gradient(p, data, batch, h, g);
  std::vector<GradcheckResult> results{finite_differences(p, g, data, batch, h, o)};

  const std::vector<double> ref64 = reference::flat(g);
  for (const std::string& d : o.devices) {
    BackendOptions bo;
    bo.device = parse_device(d);
    // Both GPU engines take their gradient from the same code: there is no engine to choose.
    if (bo.device == Device::cuda || bo.device == Device::auto_select) bo.engine = GpuEngine::cublas;
    bo.threads = o.threads;
    bo.sizes = o.sizes;
    bo.batch = batch.size();
    std::unique_ptr<Backend> backend = make_backend(bo);
    backend->load(net);
    Network grad;
    backend->gradient(data, batch, h, grad);
    GradcheckResult r;
    r.label = d + " gradient vs reference";
    r.ref = ref64;
    r.got = flat_parameters(grad);
    r.comparison = compare(r.ref, r.got, kGradcheckFloor);
    r.tolerance = kBackendTolerance;
    // The error model's sums run over the batch and the widest layer.
    const size_t widest = *std::max_element(o.sizes.begin(), o.sizes.end());
    r.model = float32_error_model(r.ref, r.got, batch.size() * widest, kBackendTolerance);
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace bp
