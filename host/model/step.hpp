// The minibatch step, written once over an operation set `Ops` that each fast backend implements
// (CpuOps with a BLAS, CudaOps with cuBLAS and kernels/). Matrices are column-major with the
// minibatch as columns, so every line below is one GEMM or one elementwise pass, with the same
// transposes and leading dimensions on the CPU and the GPU.
//
//   feedforward  a[l+1] = sigmoid(W[l] a[l] + b[l])   (the last layer softmax for log-likelihood)
//   backprop     d[L] = cost'(a[L], y) * sigmoid'(z[L]) (a[L] - y for cross-entropy and log-likelihood);
//                d[l] = (W[l]^T d[l+1]) * sigmoid'(z[l])
//   update       W[l] = (1 - eta*lambda/n) W[l] - (eta/m) d[l+1] a[l]^T;  b[l] -= (eta/m) rowsum(d[l+1])
//   momentum     V[l] = mu V[l] - (eta/m) d[l+1] a[l]^T - (eta*lambda/n) W[l];  v[l] = mu v[l] - (eta/m) rowsum(d[l+1]);
//                then every parameter += its velocity (chapter 3; mu = 0 takes the plain update above)
//
// sigmoid'(z) is taken as a(1-a), so only activations are kept.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/error.hpp"
#include "model/network.hpp"

namespace bp {

// The operation set the step runs on, in the backend's memory (host or device). Matrices are
// column-major (rows, columns) with the minibatch as columns; see CpuOps for each op's formula.
template <class Ops>
concept StepOps = requires(Ops& ops, bool trans, int rows, int cols, size_t count, float scalar, const float* in,
                           float* out, const uint8_t* labels, Cost cost, double* cost_sum) {
  // C = alpha op(A) op(B) + beta C, cuBLAS's arguments
  ops.gemm(trans, trans, rows, cols, rows, scalar, in, rows, in, rows, scalar, out, rows);
  ops.bias_sigmoid(rows, cols, in, out);                            // a = sigmoid(a + b)
  ops.bias_softmax(rows, cols, in, out);                            // each column: softmax(a + b)
  ops.output_delta(cost, rows, cols, in, labels, out, cost_sum);    // d = dC/dz; *cost_sum += C
  ops.hidden_delta(rows, cols, in, out);                            // d *= a (1 - a)
  ops.add_row_sums(rows, cols, scalar, in, scalar, out);            // c = beta c + alpha rowsum(d)
  ops.copy(count, in, out);                                         // y = x
  ops.axpy(count, scalar, in, out);                                 // y += alpha x
};

// Pointers into the backend's memory (host or device) for one network and its workspace.
struct StepBuffers {
  std::vector<size_t> sizes;
  std::vector<float*> w;  // w[l]: (sizes[l+1], sizes[l]), leading dimension ldw[l]
  std::vector<int> ldw;
  std::vector<float*> b;  // b[l]: (sizes[l+1])
  std::vector<float*> a;  // a[l]: (sizes[l], capacity); a[0] holds the gathered inputs
  std::vector<float*> d;  // d[l]: (sizes[l], capacity) for l >= 1; d[0] unused
  const uint8_t* labels = nullptr;  // (capacity) labels of the gathered batch
  Output output = Output::sigmoid;  // the last layer's activation
  // Momentum: one velocity per parameter in a flat buffer laid out like the parameters (empty when
  // the backend has none), and that buffer's size; w[0] is the start of the parameter buffer.
  std::vector<float*> vw, vb;
  float* velocity = nullptr;
  size_t parameter_floats = 0;
};

// Where each matrix lives in one flat parameter buffer and one flat workspace buffer, so a
// backend allocates (and copies) each in one piece.
struct StepLayout {
  std::vector<size_t> w, b;  // offsets into the parameter buffer
  std::vector<size_t> ldw;   // w[l]'s leading dimension: its rows as stored (see step_layout)
  std::vector<size_t> a, d;  // offsets into the workspace buffer
  size_t parameter_floats = 0, workspace_floats = 0;
  size_t capacity = 0;  // columns (samples) the workspace holds
};

// Every matrix starts on a multiple of 32 floats (128 bytes), so that cuBLAS and the vector
// kernels see aligned operands on every layer (given a buffer at least that aligned); nothing
// reads the gaps.
constexpr size_t kMatrixAlignFloats = 32;
constexpr size_t kCacheLineFloats = 16;  // 64 bytes

inline size_t place_aligned(size_t& end, size_t floats) {
  const size_t at = (end + kMatrixAlignFloats - 1) / kMatrixAlignFloats * kMatrixAlignFloats;
  end = at + floats;
  return at;
}

// weight_rows_align: each weight matrix's columns are stored that many floats apart, rounded up
// (the rows past sizes[l+1] are padding, zero, that no operation reads as a weight). The CPU
// backend aligns them to cache lines (kCacheLineFloats): its sparse kernels read and write
// W[0] a column (one pixel) at a time, and a column that straddles lines costs up to 1.5x.
inline StepLayout step_layout(const std::vector<size_t>& sizes, size_t capacity, size_t weight_rows_align = 1) {
  StepLayout s;
  s.capacity = capacity;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    s.ldw.push_back((sizes[l + 1] + weight_rows_align - 1) / weight_rows_align * weight_rows_align);
    s.w.push_back(place_aligned(s.parameter_floats, sizes[l] * s.ldw[l]));
    s.b.push_back(place_aligned(s.parameter_floats, sizes[l + 1]));
  }
  for (size_t l = 0; l < sizes.size(); ++l) {
    s.a.push_back(place_aligned(s.workspace_floats, sizes[l] * capacity));
    s.d.push_back(place_aligned(s.workspace_floats, l == 0 ? 0 : sizes[l] * capacity));
  }
  return s;
}

// Each layer's weights and biases inside a flat buffer laid out by step_layout (parameters, or a
// gradient of the same shape).
struct ParameterViews {
  std::vector<float*> w, b;
};

inline ParameterViews parameter_views(const StepLayout& layout, float* base) {
  ParameterViews v;
  for (size_t l = 0; l < layout.w.size(); ++l) {
    v.w.push_back(base + layout.w[l]);
    v.b.push_back(base + layout.b[l]);
  }
  return v;
}

// velocity may be null (no momentum buffer).
inline StepBuffers step_buffers(const std::vector<size_t>& sizes, Output output, const StepLayout& layout,
                                float* parameters, float* velocity, float* workspace, const uint8_t* labels) {
  StepBuffers s;
  s.sizes = sizes;
  s.output = output;
  ParameterViews p = parameter_views(layout, parameters);
  s.w = std::move(p.w);
  s.b = std::move(p.b);
  s.parameter_floats = layout.parameter_floats;
  for (size_t ld : layout.ldw) s.ldw.push_back(int(ld));
  if (velocity) {
    ParameterViews v = parameter_views(layout, velocity);
    s.vw = std::move(v.w);
    s.vb = std::move(v.b);
    s.velocity = velocity;
  }
  for (size_t l = 0; l < sizes.size(); ++l) {
    s.a.push_back(workspace + layout.a[l]);
    s.d.push_back(workspace + layout.d[l]);
  }
  s.labels = labels;
  return s;
}

// Copies between a Network and a flat parameter buffer laid out by step_layout.
inline void flatten(const Network& net, const StepLayout& layout, float* out) {
  for (size_t l = 0; l < net.weights.size(); ++l) {
    const size_t rows = net.sizes[l + 1];
    for (size_t c = 0; c < net.sizes[l]; ++c)
      std::copy_n(net.weights[l].begin() + c * rows, rows, out + layout.w[l] + c * layout.ldw[l]);
    std::copy(net.biases[l].begin(), net.biases[l].end(), out + layout.b[l]);
  }
}

inline void unflatten(const float* in, const StepLayout& layout, Network& net) {
  for (size_t l = 0; l < net.weights.size(); ++l) {
    const size_t rows = net.sizes[l + 1];
    for (size_t c = 0; c < net.sizes[l]; ++c)
      std::copy_n(in + layout.w[l] + c * layout.ldw[l], rows, net.weights[l].begin() + c * rows);
    std::copy(in + layout.b[l], in + layout.b[l] + net.biases[l].size(), net.biases[l].begin());
  }
}

// The end of Backend::gradient on either backend: the gradient (host copy of a flat buffer) into
// a Network, and the mean cost plus the L2 term of the current parameters.
inline double finish_gradient(const float* host_grad, const StepLayout& layout, const Network& current,
                              double cost_sum, int m, const Hyper& h, Network& grad) {
  grad = zero_network(current.sizes);
  unflatten(host_grad, layout, grad);
  return cost_sum / m + l2_term(current, h);
}

// The cost's delta a - y holds only for the output layer it was derived for.
inline void check_output_layer(Output output, Cost cost) {
  if (output != output_layer(cost))
    throw Error(output == Output::softmax ? "a softmax output layer needs the log-likelihood cost"
                                          : "the log-likelihood cost needs a softmax output layer");
}

template <StepOps Ops>
void feedforward(Ops& ops, const StepBuffers& s, int m) {
  for (size_t l = 0; l + 1 < s.sizes.size(); ++l) {
    const int n_out = int(s.sizes[l + 1]), n_in = int(s.sizes[l]);
    ops.gemm(false, false, n_out, m, n_in, 1.0f, s.w[l], s.ldw[l], s.a[l], n_in, 0.0f, s.a[l + 1], n_out);
    if (l + 2 == s.sizes.size() && s.output == Output::softmax)
      ops.bias_softmax(n_out, m, s.b[l], s.a[l + 1]);
    else
      ops.bias_sigmoid(n_out, m, s.b[l], s.a[l + 1]);
  }
}

// Fills every delta; the output delta also adds the batch's cost to *cost_sum (backend memory).
template <StepOps Ops>
void backprop(Ops& ops, const StepBuffers& s, int m, Cost cost, double* cost_sum) {
  const size_t L = s.sizes.size() - 1;
  ops.output_delta(cost, int(s.sizes[L]), m, s.a[L], s.labels, s.d[L], cost_sum);
  for (size_t l = L - 1; l >= 1; --l) {
    const int n = int(s.sizes[l]), n_next = int(s.sizes[l + 1]);
    ops.gemm(true, false, n, m, n_next, 1.0f, s.w[l], s.ldw[l], s.d[l + 1], n_next, 0.0f, s.d[l], n);
    ops.hidden_delta(n, m, s.a[l], s.d[l]);
  }
}

// C[l] = beta * C[l] + alpha * d[l+1] a[l]^T and c[l] = beta_b * c[l] + alpha * rowsum(d[l+1]):
// the SGD update when C is W itself, the gradient when C is a copy of W.
template <StepOps Ops>
void weight_and_bias_gemms(Ops& ops, const StepBuffers& s, int m, float alpha, float beta_w, float beta_b,
                           const std::vector<float*>& C, const std::vector<float*>& c) {
  for (size_t l = 0; l + 1 < s.sizes.size(); ++l) {
    const int n_out = int(s.sizes[l + 1]), n_in = int(s.sizes[l]);
    ops.gemm(false, true, n_out, n_in, m, alpha, s.d[l + 1], n_out, s.a[l], n_in, beta_w, C[l], s.ldw[l]);
    ops.add_row_sums(n_out, m, alpha, s.d[l + 1], beta_b, c[l]);
  }
}

// One SGD step on the batch already gathered into a[0] and labels. Hidden deltas use the old
// weights, so every delta is computed before any weight changes. Without momentum the update is
// folded into the weight GEMM (beta = the L2 decay); with it, the GEMMs update the velocities and
// one pass over the whole flat buffer adds them to the parameters.
template <StepOps Ops>
void update_mini_batch(Ops& ops, const StepBuffers& s, int m, const Hyper& h, double* cost_sum) {
  check_output_layer(s.output, h.cost);
  feedforward(ops, s, m);
  backprop(ops, s, m, h.cost, cost_sum);
  if (h.momentum == 0) {
    const float decay = float(1.0 - h.eta * h.lambda / double(h.n));
    weight_and_bias_gemms(ops, s, m, float(-h.eta / m), decay, 1.0f, s.w, s.b);
    return;
  }
  if (!s.velocity) throw Error("momentum needs the backend's velocity buffer");
  const float mu = float(h.momentum);
  weight_and_bias_gemms(ops, s, m, float(-h.eta / m), mu, mu, s.vw, s.vb);
  if (h.lambda > 0) {
    const float decay = float(-h.eta * h.lambda / double(h.n));
    for (size_t l = 0; l + 1 < s.sizes.size(); ++l) ops.axpy(s.sizes[l] * size_t(s.ldw[l]), decay, s.w[l], s.vw[l]);
  }
  ops.axpy(s.parameter_floats, 1.0f, s.velocity, s.w[0]);
}

// The gradient of the mean cost plus L2 term into gw, gb (shaped like w, b).
template <StepOps Ops>
void mean_gradient(Ops& ops, const StepBuffers& s, int m, const Hyper& h, const std::vector<float*>& gw,
                   const std::vector<float*>& gb, double* cost_sum) {
  check_output_layer(s.output, h.cost);
  feedforward(ops, s, m);
  backprop(ops, s, m, h.cost, cost_sum);
  for (size_t l = 0; l + 1 < s.sizes.size(); ++l) ops.copy(s.sizes[l] * size_t(s.ldw[l]), s.w[l], gw[l]);
  weight_and_bias_gemms(ops, s, m, float(1.0 / m), float(h.lambda / double(h.n)), 0.0f, gw, gb);
}

}  // namespace bp
