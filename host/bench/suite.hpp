// The benchmark suite behind `backprop bench`: a fixed matrix of named configurations, each on
// every available backend, timed per epoch (median of several after a warm-up) beside the
// machine's measured ceilings, with the test accuracy reached so that speed is never bought
// with wrong results. Results as a table, JSON and Markdown.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "model/network.hpp"

namespace bp::bench {

struct Config {
  std::string name;
  std::vector<size_t> sizes;
  size_t batch = 10;
  double eta = 3.0, lambda = 0.0;
  Cost cost = Cost::quadratic;
  Init init = Init::normal;
  bool large = false;  // too slow for full epochs on the CPU: timed on a few steps there
};

// seed, nielsen, nielsen2, wide, large; plus width-H for each H in `widths` (784-H-10, batch 10).
std::vector<Config> configurations(const std::vector<size_t>& widths = {});

struct Options {
  std::vector<std::string> configs;   // empty: all (or the quick subset)
  std::vector<std::string> backends;  // empty: every available one
  std::vector<size_t> widths;
  size_t epochs = 3;              // timed epochs after the warm-up
  double max_epoch_seconds = 20;  // beyond this an epoch is extrapolated from timed steps
  bool quick = false;             // CI: seed and nielsen on 10,000 images, 2 timed epochs
  int threads = 1;
  uint64_t seed = 1;
};

// Floating-point operations of one training sample's step (forward, backward, update), counting
// a multiply-add as two: 2 n_in n_out for each layer's forward GEMM and again for its weight
// gradient, and 2 n_l n_(l+1) for each hidden layer's backward GEMM.
double flops_per_sample(const std::vector<size_t>& sizes);

// Runs everything and returns the whole report (rows, ceilings, machine, versions, the CPU
// kernel path); load_seconds (the caller's time to read the data set) goes into it as is.
nlohmann::json run(const Dataset& data, bool synthetic_data, double load_seconds, const Options& options);

std::string table(const nlohmann::json& report);     // fixed-width text
std::string markdown(const nlohmann::json& report);  // the same as a Markdown document

}  // namespace bp::bench
