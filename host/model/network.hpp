// The network's parameters on the host: layer sizes, weights and biases in float32, and their
// seeded initialisation. Every backend loads from and stores to this one layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/model_math.cuh"

namespace bp {

struct Network {
  std::vector<size_t> sizes;                // neurons per layer, input first: {784, 30, 10}
  std::vector<std::vector<float>> weights;  // weights[l]: (sizes[l+1], sizes[l]), column-major
  std::vector<std::vector<float>> biases;   // biases[l]: (sizes[l+1])
  Output output = Output::sigmoid;          // the last layer's activation (softmax: log-likelihood cost)

  size_t num_layers() const { return sizes.size(); }
  size_t parameter_count() const;
  // Element (j, k) of weights[l]: from neuron k of layer l to neuron j of layer l+1.
  float& w(size_t l, size_t j, size_t k) { return weights[l][j + k * sizes[l + 1]]; }
  float w(size_t l, size_t j, size_t k) const { return weights[l][j + k * sizes[l + 1]]; }
};

// network.py draws every weight and bias from N(0,1); network2.py scales weights by 1/sqrt(n_in).
enum class Init { normal, scaled };

// Zero parameters of the given shape; throws UsageError on fewer than 2 layers or a zero size.
Network zero_network(const std::vector<size_t>& sizes);
// The same draws for either output layer.
Network initialise(const std::vector<size_t>& sizes, Init init, uint64_t seed, Output output = Output::sigmoid);

// Square root of the sum of squared differences over all parameters (same shapes required).
double parameter_distance(const Network& a, const Network& b);
bool all_finite(const Network& net);

// Training settings the step needs. lambda is L2 weight decay, scaled by 1/n as in network2.py;
// momentum is chapter 3's mu (v = mu v - eta grad; w += v), 0 for plain SGD.
struct Hyper {
  double eta = 3.0;
  double lambda = 0.0;
  double momentum = 0.0;
  size_t n = 50000;  // training set size, for the L2 term
  Cost cost = Cost::quadratic;
  bool operator==(const Hyper&) const = default;  // the CUDA backend keys its graphs on every field
};

// The L2 part of the cost, (lambda / 2n) * sum of squared weights (biases are not decayed).
double l2_term(const Network& net, const Hyper& hyper);

// The names of the costs and initialisations, as the command line's flags and the Python module's
// keywords spell them (one table for both): quadratic, cross-entropy, log-likelihood; normal,
// scaled. A name not in the table is a bp::UsageError that lists the names.
std::string cost_name(Cost cost);
Cost cost_from_name(const std::string& name);
Init init_from_name(const std::string& name);

std::vector<size_t> parse_layers(const std::string& text);  // "784,30,10"
std::string format_layers(const std::vector<size_t>& sizes);

}  // namespace bp
