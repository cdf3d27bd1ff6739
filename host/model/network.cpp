// Parameter shapes, seeded initialisation and small whole-network helpers.
#include "model/network.hpp"

#include <cmath>
#include <sstream>

#include "base/error.hpp"
#include "base/rng.hpp"

namespace bp {

size_t Network::parameter_count() const {
  size_t total = 0;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) total += sizes[l] * sizes[l + 1] + sizes[l + 1];
  return total;
}

namespace {

void check_sizes(const std::vector<size_t>& sizes) {
  if (sizes.size() < 2)
    throw UsageError("a network needs at least 2 layers (input and output), got " + format_layers(sizes));
  for (size_t s : sizes) {
    if (s == 0 || s > (size_t{1} << 16))
      throw UsageError("layer sizes must be between 1 and 65536, got " + format_layers(sizes));
  }
}

}  // namespace

Network zero_network(const std::vector<size_t>& sizes) {
  check_sizes(sizes);
  Network net;
  net.sizes = sizes;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    net.weights.emplace_back(sizes[l] * sizes[l + 1], 0.0f);
    net.biases.emplace_back(sizes[l + 1], 0.0f);
  }
  return net;
}

Network initialise(const std::vector<size_t>& sizes, Init init, uint64_t seed, Output output) {
  Network net = zero_network(sizes);
  net.output = output;
  Rng rng(seed, /*stream=*/1);
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    const double scale = init == Init::scaled ? 1.0 / std::sqrt(static_cast<double>(sizes[l])) : 1.0;
    for (float& b : net.biases[l]) b = static_cast<float>(rng.normal());
    // Drawn row by row (j, then k), as numpy fills a (n_out, n_in) array.
    for (size_t j = 0; j < sizes[l + 1]; ++j)
      for (size_t k = 0; k < sizes[l]; ++k) net.w(l, j, k) = static_cast<float>(scale * rng.normal());
  }
  return net;
}

std::string cost_name(Cost cost) {
  switch (cost) {
    case Cost::quadratic: return "quadratic";
    case Cost::cross_entropy: return "cross-entropy";
    case Cost::log_likelihood: return "log-likelihood";
  }
  return "unknown";
}

Cost cost_from_name(const std::string& name) {
  for (Cost c : {Cost::quadratic, Cost::cross_entropy, Cost::log_likelihood})
    if (name == cost_name(c)) return c;
  throw UsageError("cost must be quadratic, cross-entropy or log-likelihood, got '" + name + "'");
}

Init init_from_name(const std::string& name) {
  if (name == "normal") return Init::normal;
  if (name == "scaled") return Init::scaled;
  throw UsageError("init must be normal or scaled, got '" + name + "'");
}

double parameter_distance(const Network& a, const Network& b) {
  double sum = 0;
  const auto add = [&](const std::vector<float>& x, const std::vector<float>& y) {
    for (size_t i = 0; i < x.size(); ++i) sum += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
  };
  for (size_t l = 0; l < a.weights.size(); ++l) {
    add(a.weights[l], b.weights[l]);
    add(a.biases[l], b.biases[l]);
  }
  return std::sqrt(sum);
}

bool all_finite(const Network& net) {
  for (size_t l = 0; l < net.weights.size(); ++l) {
    for (float x : net.weights[l])
      if (!std::isfinite(x)) return false;
    for (float x : net.biases[l])
      if (!std::isfinite(x)) return false;
  }
  return true;
}

double l2_term(const Network& net, const Hyper& hyper) {
  if (hyper.lambda == 0) return 0;
  double sum = 0;
  for (const auto& w : net.weights)
    for (float x : w) sum += double(x) * x;
  return 0.5 * hyper.lambda / double(hyper.n) * sum;
}

std::vector<size_t> parse_layers(const std::string& text) {
  std::vector<size_t> sizes;
  std::stringstream in(text);
  std::string item;
  // getline drops an empty last item, so a trailing comma ("784,30,10,") is refused here.
  if (!text.empty() && text.back() == ',')
    throw UsageError("--layers must be comma-separated positive sizes like 784,30,10, got '" + text + "'");
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    unsigned long long v = 0;
    try {
      v = std::stoull(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || item[0] == '-') {
      throw UsageError("--layers must be comma-separated positive sizes like 784,30,10, got '" + text + "'");
    }
    sizes.push_back(static_cast<size_t>(v));
  }
  check_sizes(sizes);
  return sizes;
}

std::string format_layers(const std::vector<size_t>& sizes) {
  std::string s;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(sizes[i]);
  }
  return s;
}

}  // namespace bp
