// network.py in C++ and float64. The names follow the book: activations, zs, delta, nabla_w,
// nabla_b, cost_derivative, sigmoid_prime.
#include "reference/reference.hpp"

#include "kernels/model_math.cuh"

#include <algorithm>
#include <cmath>

#include "base/error.hpp"

namespace bp::reference {
namespace {

double sigmoid_prime(double z) { return sigmoid(z) * (1 - sigmoid(z)); }

Params zeros_like(const Params& p) {
  Params z = p;
  for (auto& w : z.weights) std::fill(w.begin(), w.end(), 0.0);
  for (auto& b : z.biases) std::fill(b.begin(), b.end(), 0.0);
  return z;
}

// z = w a + b for layer l.
Vector weighted_input(const Params& p, size_t l, const Vector& a) {
  const size_t n_out = p.sizes[l + 1], n_in = p.sizes[l];
  Vector z(p.biases[l]);
  for (size_t k = 0; k < n_in; ++k)
    for (size_t j = 0; j < n_out; ++j) z[j] += p.weights[l][j + k * n_out] * a[k];
  return z;
}

double onehot(int label, size_t j) { return label == int(j) ? 1.0 : 0.0; }

// The activation of layer l+1 from its weighted input: sigmoid, or softmax for the output layer
// of a log-likelihood network.
Vector activation(const Params& p, size_t l, const Vector& z) {
  if (l + 2 == p.sizes.size() && p.output == Output::softmax) return softmax(z);
  Vector a(z);
  for (double& v : a) v = sigmoid(v);
  return a;
}

void check_cost(const Params& p, Cost cost) {
  if (p.output != output_layer(cost))
    throw Error(p.output == Output::softmax ? "a softmax output layer needs the log-likelihood cost"
                                            : "the log-likelihood cost needs a softmax output layer");
}

}  // namespace

Params from_network(const Network& net) {
  Params p;
  p.sizes = net.sizes;
  p.output = net.output;
  for (size_t l = 0; l < net.weights.size(); ++l) {
    p.weights.emplace_back(net.weights[l].begin(), net.weights[l].end());
    p.biases.emplace_back(net.biases[l].begin(), net.biases[l].end());
  }
  return p;
}

Network to_network(const Params& p) {
  Network net = zero_network(p.sizes);
  net.output = p.output;
  for (size_t l = 0; l < p.weights.size(); ++l) {
    std::transform(p.weights[l].begin(), p.weights[l].end(), net.weights[l].begin(), [](double x) { return float(x); });
    std::transform(p.biases[l].begin(), p.biases[l].end(), net.biases[l].begin(), [](double x) { return float(x); });
  }
  return net;
}

Vector flat(const Params& p) {
  Vector out;
  for (size_t l = 0; l < p.weights.size(); ++l) {
    out.insert(out.end(), p.weights[l].begin(), p.weights[l].end());
    out.insert(out.end(), p.biases[l].begin(), p.biases[l].end());
  }
  return out;
}

Vector input_vector(const DataView& data, size_t index) {
  const Expansion e = data.expansion();
  const uint8_t* image = data.pixels + e.image(index) * data.dim;
  Vector x(data.dim);
  // The float the backends use (and network.py's float32 data), widened exactly to double.
  for (size_t i = 0; i < data.dim; ++i) {
    const long from = shifted_source(i, data.dim, data.width, e.variant(index));
    x[i] = from < 0 ? 0.0 : normalise_pixel(image[from]);
  }
  return x;
}

// network2.py's SoftmaxLayer: exp(z_j) / sum_k exp(z_k), computed with the largest z subtracted
// (the same value, without overflow).
Vector softmax(const Vector& z) {
  const double top = *std::max_element(z.begin(), z.end());
  Vector a(z.size());
  double sum = 0;
  for (size_t j = 0; j < z.size(); ++j) sum += a[j] = std::exp(z[j] - top);
  for (double& v : a) v /= sum;
  return a;
}

Vector feedforward(const Params& p, Vector a) {
  for (size_t l = 0; l + 1 < p.sizes.size(); ++l) a = activation(p, l, weighted_input(p, l, a));
  return a;
}

std::vector<Vector> layer_activations(const Params& p, const Vector& x) {
  std::vector<Vector> out;
  for (size_t l = 0; l + 1 < p.sizes.size(); ++l)
    out.push_back(activation(p, l, weighted_input(p, l, l ? out.back() : x)));
  return out;
}

double backprop(const Params& p, const Vector& x, int label, Cost cost, Params& nabla) {
  check_cost(p, cost);
  const size_t L = p.sizes.size() - 1;
  std::vector<Vector> activations{x}, zs;
  for (size_t l = 0; l < L; ++l) {
    zs.push_back(weighted_input(p, l, activations.back()));
    activations.push_back(activation(p, l, zs.back()));
  }
  const Vector& out = activations.back();
  double c = 0;
  Vector delta(out.size());
  for (size_t j = 0; j < out.size(); ++j) {
    const double y = onehot(label, j);
    c += unit_cost(cost, out[j], y);
    // Cross-entropy with sigmoid and log-likelihood with softmax both give dC/dz = a - y.
    delta[j] =
        cost == Cost::quadratic ? cost_derivative(out[j], y) * sigmoid_prime(zs.back()[j]) : cost_derivative(out[j], y);
  }
  for (size_t l = L; l-- > 0;) {  // layer l's weights connect activations[l] to activations[l+1]
    const size_t n_out = p.sizes[l + 1], n_in = p.sizes[l];
    for (size_t j = 0; j < n_out; ++j) {
      nabla.biases[l][j] += delta[j];
      for (size_t k = 0; k < n_in; ++k) nabla.weights[l][j + k * n_out] += delta[j] * activations[l][k];
    }
    if (l == 0) break;
    Vector previous(n_in, 0.0);
    for (size_t k = 0; k < n_in; ++k) {
      for (size_t j = 0; j < n_out; ++j) previous[k] += p.weights[l][j + k * n_out] * delta[j];
      previous[k] *= sigmoid_prime(zs[l - 1][k]);
    }
    delta = previous;
  }
  return c;
}

Vector input_gradient(const Params& p, const Vector& x, size_t output) {
  const size_t L = p.sizes.size() - 1;
  std::vector<Vector> zs;
  Vector a = x;
  for (size_t l = 0; l < L; ++l) {
    zs.push_back(weighted_input(p, l, a));
    a = activation(p, l, zs.back());
  }
  Vector delta(p.sizes[L], 0.0);  // d a_L[output] / d z_L
  if (p.output == Output::softmax) {
    for (size_t j = 0; j < delta.size(); ++j) delta[j] = a[output] * (onehot(int(output), j) - a[j]);
  } else {
    delta[output] = sigmoid_prime(zs.back()[output]);
  }
  for (size_t l = L; l-- > 0;) {
    const size_t n_out = p.sizes[l + 1], n_in = p.sizes[l];
    Vector previous(n_in, 0.0);
    for (size_t k = 0; k < n_in; ++k) {
      for (size_t j = 0; j < n_out; ++j) previous[k] += p.weights[l][j + k * n_out] * delta[j];
      if (l > 0) previous[k] *= sigmoid_prime(zs[l - 1][k]);
    }
    delta = previous;
  }
  return delta;
}

double total_cost(const Params& p, const DataView& data, std::span<const uint32_t> batch, const Hyper& h) {
  check_cost(p, h.cost);
  double c = 0;
  for (uint32_t i : batch) {
    const Vector a = feedforward(p, input_vector(data, i));
    for (size_t j = 0; j < a.size(); ++j) c += unit_cost(h.cost, a[j], onehot(data.label(i), j));
  }
  double sum_w2 = 0;
  for (const auto& w : p.weights)
    for (double x : w) sum_w2 += x * x;
  return c / double(batch.size()) + 0.5 * h.lambda / double(h.n) * sum_w2;
}

double gradient(const Params& p, const DataView& data, std::span<const uint32_t> batch, const Hyper& h, Params& grad) {
  grad = zeros_like(p);
  double c = 0;
  for (uint32_t i : batch) c += backprop(p, input_vector(data, i), data.label(i), h.cost, grad);
  const double m = double(batch.size());
  double sum_w2 = 0;
  for (size_t l = 0; l < p.weights.size(); ++l) {
    for (size_t i = 0; i < p.weights[l].size(); ++i) {
      grad.weights[l][i] = grad.weights[l][i] / m + h.lambda / double(h.n) * p.weights[l][i];
      sum_w2 += p.weights[l][i] * p.weights[l][i];
    }
    for (double& g : grad.biases[l]) g /= m;
  }
  return c / m + 0.5 * h.lambda / double(h.n) * sum_w2;
}

double numerical_partial(Params p, const DataView& data, std::span<const uint32_t> batch, const Hyper& h, size_t layer,
                         bool weight, size_t i, double eps) {
  double& theta = weight ? p.weights[layer][i] : p.biases[layer][i];
  const double original = theta;
  const auto cost_at = [&](double offset) {
    theta = original + offset;
    return total_cost(p, data, batch, h);
  };
  // Fourth-order central difference: truncation error O(eps^4), so eps can stay large enough
  // that rounding in C does not swamp the difference.
  return (8 * (cost_at(eps) - cost_at(-eps)) - (cost_at(2 * eps) - cost_at(-2 * eps))) / (12 * eps);
}

namespace {

// network.py's SGD on float64 parameters, behind the Backend interface: K networks one after
// another.
class ReferenceBackend final : public Backend {
 public:
  std::string name() const override { return "reference"; }
  void load_all(std::span<const Network> nets) override {
    check_one_shape(nets);
    p_.clear();
    v_.clear();
    for (const Network& net : nets) {
      p_.push_back(from_network(net));
      v_.push_back(zeros_like(p_.back()));
    }
  }
  void store_all(std::vector<Network>& nets) override {
    nets.clear();
    for (const Params& p : p_) nets.push_back(to_network(p));
  }
  void load_velocities(std::span<const Network> velocities) override {
    check_velocities(velocities, p_.size(), p_.at(0).sizes);
    for (size_t k = 0; k < p_.size(); ++k) v_[k] = from_network(velocities[k]);
  }
  void store_velocities(std::vector<Network>& velocities) override {
    velocities.clear();
    for (const Params& v : v_) velocities.push_back(to_network(v));
  }

  std::vector<double> train_all(const DataView& data, std::span<const uint32_t> orders, size_t batch_size,
                                std::span<const Hyper> hypers) override {
    const size_t length = order_length(hypers, p_.size(), orders.size());
    std::vector<double> c(p_.size(), 0.0);
    for (size_t k = 0; k < p_.size(); ++k) {
      const std::span<const uint32_t> order = orders.subspan(k * length, length);
      for (size_t start = 0; start < length; start += batch_size)
        c[k] += update_mini_batch(p_[k], v_[k], data, order.subspan(start, std::min(batch_size, length - start)),
                                  hypers[k]);
    }
    return c;
  }

  std::vector<Evaluation> evaluate_all(const DataView& data) override {
    std::vector<Evaluation> out;
    for (const Params& p : p_) {
      Evaluation r;
      r.predicted.assign(p.sizes.back(), 0);
      for (size_t i = 0; i < data.samples(); ++i) {
        const Vector a = feedforward(p, input_vector(data, i));
        const int predicted = argmax(a.data(), int(a.size()));
        ++r.predicted[predicted];
        r.correct += predicted == data.label(i);
      }
      out.push_back(std::move(r));
    }
    return out;
  }

  double gradient(const DataView& data, std::span<const uint32_t> batch, const Hyper& h, Network& grad) override {
    if (p_.size() != 1) throw Error("gradient() takes a backend holding one network");
    Params g;
    const double c = reference::gradient(p_[0], data, batch, h, g);
    grad = to_network(g);
    return c;
  }

 private:
  // w <- (1 - eta*lambda/n) w - (eta/m) nabla_w;  b <- b - (eta/m) nabla_b. Returns the summed cost.
  static double update_mini_batch(Params& p, Params& v, const DataView& data, std::span<const uint32_t> batch,
                                  const Hyper& h) {
    Params nabla = zeros_like(p);
    double c = 0;
    for (uint32_t i : batch) c += backprop(p, input_vector(data, i), data.label(i), h.cost, nabla);
    if (h.momentum != 0) {
      momentum_update(p, v, nabla, double(batch.size()), h);
      return c;
    }
    const double scale = h.eta / double(batch.size()), decay = 1 - h.eta * h.lambda / double(h.n);
    for (size_t l = 0; l < p.weights.size(); ++l) {
      for (size_t i = 0; i < p.weights[l].size(); ++i)
        p.weights[l][i] = decay * p.weights[l][i] - scale * nabla.weights[l][i];
      for (size_t i = 0; i < p.biases[l].size(); ++i) p.biases[l][i] -= scale * nabla.biases[l][i];
    }
    return c;
  }

  // Chapter 3's momentum: v <- mu v - eta dC/dtheta, theta <- theta + v for every weight and bias,
  // where dC/dw = nabla_w / m + (lambda/n) w and dC/db = nabla_b / m.
  static void momentum_update(Params& p, Params& v, const Params& nabla, double m, const Hyper& h) {
    for (size_t l = 0; l < p.weights.size(); ++l) {
      for (size_t i = 0; i < p.weights[l].size(); ++i) {
        const double grad = nabla.weights[l][i] / m + h.lambda / double(h.n) * p.weights[l][i];
        v.weights[l][i] = h.momentum * v.weights[l][i] - h.eta * grad;
        p.weights[l][i] += v.weights[l][i];
      }
      for (size_t i = 0; i < p.biases[l].size(); ++i) {
        v.biases[l][i] = h.momentum * v.biases[l][i] - h.eta * nabla.biases[l][i] / m;
        p.biases[l][i] += v.biases[l][i];
      }
    }
  }

  std::vector<Params> p_, v_;  // each network's parameters and their momentum velocities
};

}  // namespace

std::unique_ptr<Backend> make_backend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace bp::reference
