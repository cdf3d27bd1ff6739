// `backprop gradcheck`: the float64 reference gradient against central finite differences, then
// every other available backend's gradient against the reference, on one minibatch. Prints the
// largest relative errors and exits 1 when any exceeds its tolerance.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/common.hpp"
#include "train/backend_factory.hpp"
#include "reference/compare.hpp"
#include "cuda/cuda_backend.hpp"
#include "base/error.hpp"
#include "reference/reference.hpp"
#include "model/rng.hpp"

namespace bp::cli {
namespace {

constexpr double kFiniteDifferenceTolerance = 1e-6;  // float64 against float64
constexpr double kBackendTolerance = 1e-4;           // float32 against float64
constexpr double kFloor = 1e-3;                      // see compare.hpp

class GradcheckCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    CLI::App* sub = app.add_subcommand("gradcheck", "Check gradients: reference vs finite differences, backends vs reference");
    net_.add(*sub);
    sub->add_option("--data", data_dir_, "MNIST folder for the batch (random images are used if it has none)")
        ->capture_default_str();
    sub->add_option("--params", sampled_, "Parameters checked by finite differences (0 = all)")
        ->check(count(0, UINT32_MAX))
        ->capture_default_str();
    sub->add_option("--threads", threads_, "CPU threads for the BLAS (0 = all cores)")
        ->check(count(0, 4096))
        ->capture_default_str();
    return sub;
  }

  int run() override {
    Hyper h = net_.hyper();
    const std::vector<size_t> sizes = parse_layers(settings_.layers.empty() ? "784,30,10" : settings_.layers);
    LabelledImages images = batch_images(sizes);
    const DataView data = images.view();
    h.n = 50000;
    std::vector<uint32_t> batch(std::min(settings_.batch_size, data.count));
    Rng pick(settings_.seed, 11);
    for (uint32_t& i : batch) i = uint32_t(pick.below(data.count));

    const Network net = initialise(sizes, net_.initialisation(), settings_.seed, output_layer(h.cost));
    std::printf("gradcheck: %s network, %s cost, lambda %g, batch of %zu\n", format_layers(sizes).c_str(),
                settings_.cost.c_str(), h.lambda, batch.size());
    const reference::Params p = reference::from_network(net);
    reference::Params g;
    reference::gradient(p, data, batch, h, g);
    bool ok = check_finite_differences(p, g, data, batch, h);

    std::vector<std::string> devices{"cpu"};
    if (cuda_status().usable) devices.push_back("cuda");
    const std::vector<double> ref64 = reference::flat(g);
    for (const std::string& d : devices) {
      BackendOptions o;
      o.device = parse_device(d);
      o.threads = threads_;
      std::unique_ptr<Backend> backend = make_backend(o);
      backend->load(net);
      Network grad;
      backend->gradient(data, batch, h, grad);
      const std::vector<double> got = flat_parameters(grad);
      const Comparison c = compare(ref64, got, kFloor);
      print_comparison(std::cout, d + " gradient vs reference", ref64, got, c, kBackendTolerance);
      ok = ok && c.max_rel <= kBackendTolerance;
    }
    std::printf("%s\n", ok ? "gradcheck passed" : "gradcheck FAILED");
    return ok ? 0 : 1;
  }

 private:
  // MNIST's training images if the folder has them and they fit the input layer, else random.
  LabelledImages batch_images(const std::vector<size_t>& sizes) const {
    namespace fs = std::filesystem;
    for (const char* ext : {"", ".gz"}) {
      const fs::path images = fs::path(data_dir_) / (std::string("train-images-idx3-ubyte") + ext);
      const fs::path labels = fs::path(data_dir_) / (std::string("train-labels-idx1-ubyte") + ext);
      if (!fs::exists(images) || !fs::exists(labels)) continue;
      LabelledImages li = load_labelled_images(images.string(), labels.string());
      if (li.rows * li.cols == sizes.front() && size_t(*std::max_element(li.labels.begin(), li.labels.end())) < sizes.back())
        return li;
    }
    std::printf("gradcheck: using random images (no matching data in %s)\n", data_dir_.c_str());
    return synthetic_images(1000, sizes.front(), 1, sizes.back(), settings_.seed);
  }

  // Central differences on `sampled_` parameters chosen at random (all when 0).
  bool check_finite_differences(const reference::Params& p, const reference::Params& g, const DataView& data,
                                std::span<const uint32_t> batch, const Hyper& h) const {
    struct Site { size_t layer; bool weight; size_t i; };
    std::vector<Site> sites;
    for (size_t l = 0; l < p.weights.size(); ++l) {
      for (size_t i = 0; i < p.weights[l].size(); ++i) sites.push_back({l, true, i});
      for (size_t i = 0; i < p.biases[l].size(); ++i) sites.push_back({l, false, i});
    }
    if (sampled_ > 0 && sampled_ < sites.size()) {
      Rng rng(settings_.seed, 12);
      for (size_t i = 0; i < sampled_; ++i) std::swap(sites[i], sites[i + rng.below(sites.size() - i)]);
      sites.resize(sampled_);
    }
    std::vector<double> analytic, numeric;
    for (const Site& s : sites) {
      analytic.push_back(s.weight ? g.weights[s.layer][s.i] : g.biases[s.layer][s.i]);
      numeric.push_back(reference::numerical_partial(p, data, batch, h, s.layer, s.weight, s.i));
    }
    const Comparison c = compare(numeric, analytic, kFloor);
    print_comparison(std::cout, "reference gradient vs finite differences", numeric, analytic, c,
                     kFiniteDifferenceTolerance);
    return c.max_rel <= kFiniteDifferenceTolerance;
  }

  RunSettings settings_;
  NetworkOptions net_{settings_};
  std::string data_dir_ = default_data_dir();
  size_t sampled_ = 300;
  int threads_ = 0;
};

}  // namespace

std::unique_ptr<Command> make_gradcheck_command() { return std::make_unique<GradcheckCommand>(); }

}  // namespace bp::cli
