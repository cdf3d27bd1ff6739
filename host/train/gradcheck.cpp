// See gradcheck.hpp.
#include "train/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>

#include "base/error.hpp"
#include "base/rng.hpp"
#include "cuda/cuda_backend.hpp"
#include "reference/reference.hpp"
#include "train/backend_factory.hpp"

namespace bp {
namespace {

constexpr double kStep = 1e-4;  // numerical_partial's eps

// What a correct gradient may still differ from the finite differences by, in absolute terms:
// the rounding of the cost C in float64 (u = 2^-53), a sum of about batch x (outputs + widest
// layer) terms whose errors grow like the square root of their number (8 x that, as in
// float32_error_model), which the fourth-order difference multiplies by (16 + 2) / (12 eps);
// and entries near zero judged against the whole gradient's scale (not the sampled entries',
// which for a few first-layer weights of blank pixels can be nothing). A batch of 60,000 or a
// sample of 10 parameters failed the float64 check on a correct gradient without it.
double finite_difference_atol(const reference::Params& p, const reference::Params& g, const DataView& data,
                              std::span<const uint32_t> batch, const Hyper& h) {
  double scale = 0;
  for (double x : reference::flat(g)) scale = std::max(scale, std::abs(x));
  size_t widest = p.weights.front().size() / p.biases.front().size();  // the input layer's
  for (const auto& b : p.biases) widest = std::max(widest, b.size());
  const double terms = double(batch.size()) * double(p.biases.back().size() + widest);
  const double cost = std::abs(reference::total_cost(p, data, batch, h));
  const double rounding = 8 * std::ldexp(1.0, -53) * std::sqrt(terms) * cost * 18 / (12 * kStep);
  return kFiniteDifferenceTolerance * kGradcheckFloor * scale + rounding;
}

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
    r.ref.push_back(reference::numerical_partial(p, data, batch, h, s.layer, s.weight, s.i, kStep));
  }
  r.comparison = compare(r.ref, r.got, kGradcheckFloor);
  r.tolerance = kFiniteDifferenceTolerance;
  r.model = error_model(r.ref, r.got, kFiniteDifferenceTolerance, finite_difference_atol(p, g, data, batch, h));
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
  // A gradient past float32's range is no failure of a float32 backend: refuse to compare it.
  double top = 0;
  for (double x : ref64) top = std::max(top, std::abs(x));
  const double largest = std::max(top, h.lambda / double(h.n));  // the backends' L2 factor, in float32
  if (!o.devices.empty() && !(largest <= std::numeric_limits<float>::max())) {
    char why[160];
    std::snprintf(why, sizeof why, "the gradient (up to %.3g) or lambda/n (%.3g) is beyond float32's range (%.3g)", top,
                  h.lambda / double(h.n), double(std::numeric_limits<float>::max()));
    throw UsageError(std::string(why) +
                     ", so the float32 backends cannot be compared with it; choose a smaller lambda");
  }
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
