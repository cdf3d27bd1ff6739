// Elementwise math of the network, shared by the CUDA kernels and the CPU backends.
// Plain inline functions marked __host__ __device__ under nvcc, so the CPU tests exercise
// exactly the formulas the kernels run. Float and double through templates.
#pragma once

#include <cmath>

#if defined(__CUDACC__)
#define BP_HD __host__ __device__ __forceinline__
#else
#define BP_HD inline
#endif

namespace bp {

// The costs of network.py (quadratic) and network2.py (cross-entropy), and chapter 3's
// log-likelihood, which goes with a softmax output layer.
enum class Cost : int { quadratic = 0, cross_entropy = 1, log_likelihood = 2 };

// The output layer's activation; every other layer is sigmoid.
enum class Output : int { sigmoid = 0, softmax = 1 };

BP_HD Output output_layer(Cost cost) { return cost == Cost::log_likelihood ? Output::softmax : Output::sigmoid; }

template <class T>
BP_HD T sigmoid(T z) {
  using std::exp;
  return T(1) / (T(1) + exp(-z));
}

// sigmoid'(z) written in terms of a = sigmoid(z): the fast backends keep only activations.
template <class T>
BP_HD T sigmoid_prime_from_activation(T a) {
  return a * (T(1) - a);
}

// dC/da for one output unit, y in {0,1}. Quadratic cost C = 0.5 * (a - y)^2.
template <class T>
BP_HD T cost_derivative(T a, T y) {
  return a - y;
}

// delta = dC/dz of one output unit: quadratic (a - y) * sigmoid'(z); cross-entropy a - y, where
// sigmoid' cancels (network2.py's CrossEntropyCost.delta); log-likelihood with softmax outputs
// also a - y (chapter 3: dC/dz_j = a_j - y_j).
template <class T>
BP_HD T output_delta(Cost cost, T a, T y) {
  return cost == Cost::quadratic ? cost_derivative(a, y) * sigmoid_prime_from_activation(a) : cost_derivative(a, y);
}

// Cost of one output unit. Cross-entropy is -[y ln a + (1-y) ln(1-a)]; log-likelihood is -ln a_y,
// so only the label's unit contributes. The clamps keep a saturated unit finite, as network2.py's
// nan_to_num does.
template <class T>
BP_HD T unit_cost(Cost cost, T a, T y) {
  using std::log;
  if (cost == Cost::quadratic) return T(0.5) * (a - y) * (a - y);
  const T tiny = T(1e-30);
  const T p = a < tiny ? tiny : a;
  if (cost == Cost::log_likelihood) return y == T(0) ? T(0) : -y * log(p);
  const T q = (T(1) - a) < tiny ? tiny : (T(1) - a);
  return -(y * log(p) + (T(1) - y) * log(q));
}

// One column of the softmax output layer: a[i] = exp(z_i) / sum_k exp(z_k) with z = a + b, the
// column's entries `stride` apart. The largest z is subtracted first, so exp never overflows and
// the largest term is exactly 1.
template <class T>
BP_HD void bias_softmax_column(int n, const T* b, T* a, int stride = 1) {
  using std::exp;
  T top = a[0] + b[0];
  for (int i = 1; i < n; ++i) top = a[i * stride] + b[i] > top ? a[i * stride] + b[i] : top;
  T sum = T(0);
  for (int i = 0; i < n; ++i) {
    a[i * stride] = exp(a[i * stride] + b[i] - top);
    sum += a[i * stride];
  }
  for (int i = 0; i < n; ++i) a[i * stride] /= sum;
}

}  // namespace bp

namespace bp {

// A pixel byte as the network's input, the same on every backend.
BP_HD float normalise_pixel(unsigned char p) { return float(p) * (1.0f / 255.0f); }

}  // namespace bp

namespace bp {

// Index of the largest of x[0], x[stride], ..., x[(n-1)*stride]; the first one on ties, like
// numpy.argmax, so every backend counts the same digits correct.
template <class T>
BP_HD int argmax(const T* x, int n, int stride = 1) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (x[i * stride] > x[best * stride]) best = i;
  return best;
}

}  // namespace bp
