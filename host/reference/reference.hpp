// The float64 reference: network.py's algorithm as plain loops, one sample at a time, one
// function per formula, written to be obviously right rather than fast. It checks the fast
// backends (tests, `backprop gradcheck`) and is itself checked against finite differences.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "model/backend.hpp"

namespace bp::reference {

struct Params {
  std::vector<size_t> sizes;
  std::vector<std::vector<double>> weights;  // weights[l]: (sizes[l+1], sizes[l]), column-major
  std::vector<std::vector<double>> biases;   // biases[l]: (sizes[l+1])
  Output output = Output::sigmoid;           // the last layer's activation
};

Params from_network(const Network& net);
Network to_network(const Params& p);

using Vector = std::vector<double>;

// All parameters, layer by layer, weights then biases (the order of flat_parameters()).
Vector flat(const Params& p);

Vector input_vector(const DataView& data, size_t index);  // pixels / 255
Vector softmax(const Vector& z);
Vector feedforward(const Params& p, Vector a);
// Every layer's activations after the input, a_1 ... a_L (the last is feedforward's result).
std::vector<Vector> layer_activations(const Params& p, const Vector& x);
// network.py's backprop for one sample: adds dC_x/dw, dC_x/db into nabla (shaped like p) and
// returns C_x. Throws bp::Error when the cost does not fit p's output layer.
double backprop(const Params& p, const Vector& x, int label, Cost cost, Params& nabla);

// d a_L[output] / d x: how the chosen output activation changes with each input pixel (the
// saliency of `backprop inspect`), by back-propagating to the input layer.
Vector input_gradient(const Params& p, const Vector& x, size_t output);

// C = (1/m) sum_x C_x + (lambda / 2n) sum w^2 over the batch, and its gradient by backprop.
double total_cost(const Params& p, const DataView& data, std::span<const uint32_t> batch, const Hyper& h);
double gradient(const Params& p, const DataView& data, std::span<const uint32_t> batch, const Hyper& h, Params& grad);

// dC/dtheta by a fourth-order central difference of C, for one parameter: weights[layer][i] when
// `weight`, else biases[layer][i].
double numerical_partial(Params p, const DataView& data, std::span<const uint32_t> batch, const Hyper& h, size_t layer,
                         bool weight, size_t i, double eps = 1e-4);

std::unique_ptr<Backend> make_backend();

}  // namespace bp::reference
