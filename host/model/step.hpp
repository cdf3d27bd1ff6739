// The minibatch step for K networks of one shape, written once over an operation set `Ops` that
// each fast backend implements (CpuOps with a BLAS, CudaOps with cuBLAS and kernels/). A single
// network is K = 1. Matrices are column-major with the minibatch as columns, so every line below
// is one GEMM or one elementwise pass for all K networks, with the same transposes and leading
// dimensions on the CPU and the GPU; network k's matrices are network 0's plus k times a stride.
//
//   feedforward  a[l+1] = sigmoid(W[l] a[l] + b[l])   (the last layer softmax for log-likelihood)
//   backprop     d[L] = cost'(a[L], y) * sigmoid'(z[L]) (a[L] - y for cross-entropy and log-likelihood);
//                d[l] = (W[l]^T d[l+1]) * sigmoid'(z[l])
//   update       W[l] = (1 - eta*lambda/n) W[l] - (eta/m) d[l+1] a[l]^T;  b[l] -= (eta/m) rowsum(d[l+1])
//   momentum     V[l] = mu V[l] - (eta/m) d[l+1] a[l]^T - (eta*lambda/n) W[l];  v[l] = mu v[l] - (eta/m) rowsum(d[l+1]);
//                then every parameter += its velocity (chapter 3; mu = 0 takes the plain update above)
//
// sigmoid'(z) is taken as a(1-a), so only activations are kept. Each network's eta, lambda and mu
// enter as per-network scalars in the backend's memory (StepScalars), read when the step runs, so
// one launch serves every network whatever its hyper-parameters, and a replayed CUDA graph sees a
// new eta without being captured again.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/error.hpp"
#include "model/network.hpp"

namespace bp {

// The operation set the step runs on, in the backend's memory (host or device). Operand X of
// network k is X + k * strideX; a stride of 0 shares one operand among all networks (evaluation's
// input). `count` is K. Scalar arrays (`const float*`) hold one value per network. See CpuOps for
// each op's formula.
template <class Ops>
concept StepOps = requires(Ops& ops, bool t, int r, size_t stride, size_t count, float scalar, const float* scalars,
                           const float* in, float* out, const uint8_t* labels, Cost cost, double* cost_sums) {
  // C_k = alpha op(A_k) op(B_k) + beta C_k, cuBLAS's arguments (one alpha and beta for all)
  ops.gemm(t, t, r, r, r, scalar, in, r, stride, in, r, stride, scalar, out, r, stride, count);
  // C_k = alpha[k] op(A_k) op(B_k) + beta[k] C_k; beta[k] == 0 does not read C_k
  ops.gemm_scaled(t, t, r, r, r, scalars, in, r, stride, in, r, stride, scalars, out, r, stride, count);
  ops.bias_sigmoid(r, r, in, stride, out, stride, count);                          // a_k = sigmoid(a_k + b_k)
  ops.bias_softmax(r, r, in, stride, out, stride, count);                          // columns of a_k: softmax(. + b_k)
  ops.output_delta(cost, r, r, in, stride, labels, stride, out, stride, cost_sums, count);  // cost_sums[k] += C_k
  ops.hidden_delta(r, r, in, stride, out, stride, count);                          // d_k *= a_k (1 - a_k)
  ops.add_row_sums(r, r, scalars, in, stride, scalars, out, stride, count);        // c_k = beta[k] c_k + alpha[k] rowsum(d_k)
  ops.axpy_scaled(stride, scalars, in, stride, out, stride, count);                // y_k(n) += alpha[k] x_k(n)
  ops.axpy(stride, scalar, in, out);                                               // y(n) += alpha x(n), one flat run
  ops.copy(stride, in, out);                                                       // y(n) = x(n), one flat run
};

// Per-network scalars of one step or gradient, as computed from each network's Hyper and the
// batch size m. Laid out as four runs of K floats (alpha, beta_w, beta_b, l2) so that a backend
// copies them to its memory in one piece.
struct StepScalars {
  std::vector<float> values;  // 4 * K
  size_t count = 0;
  bool momentum = false;  // the velocities take the GEMMs (all networks or none)
  bool l2 = false;        // momentum: some network's lambda is not 0 (its decay goes into the velocities)
};

// The SGD step's: alpha -eta/m; plain: beta_w 1 - eta lambda/n, beta_b 1; momentum: beta_w =
// beta_b = mu, l2 -eta lambda/n.
inline StepScalars step_scalars(std::span<const Hyper> hypers, int m) {
  StepScalars s;
  s.count = hypers.size();
  s.values.assign(4 * s.count, 0.0f);
  s.momentum = !hypers.empty() && hypers[0].momentum != 0;
  for (size_t k = 0; k < s.count; ++k) {
    const Hyper& h = hypers[k];
    if ((h.momentum != 0) != s.momentum) throw Error("networks trained together must all use momentum or none");
    s.values[k] = float(-h.eta / m);
    if (!s.momentum) {
      s.values[s.count + k] = float(1.0 - h.eta * h.lambda / double(h.n));
      s.values[2 * s.count + k] = 1.0f;
    } else {
      s.values[s.count + k] = s.values[2 * s.count + k] = float(h.momentum);
      s.values[3 * s.count + k] = float(-h.eta * h.lambda / double(h.n));
      s.l2 = s.l2 || h.lambda > 0;
    }
  }
  return s;
}

// The mean gradient's: alpha 1/m, beta_w lambda/n (onto a copy of W), beta_b 0.
inline StepScalars gradient_scalars(std::span<const Hyper> hypers, int m) {
  StepScalars s;
  s.count = hypers.size();
  s.values.assign(4 * s.count, 0.0f);
  for (size_t k = 0; k < s.count; ++k) {
    s.values[k] = float(1.0 / m);
    s.values[s.count + k] = float(hypers[k].lambda / double(hypers[k].n));
  }
  return s;
}

// Pointers into the backend's memory (host or device): network 0's matrices and workspace, the
// strides to the others', and the step's scalars.
struct StepBuffers {
  std::vector<size_t> sizes;
  std::vector<float*> w;  // w[l]: (sizes[l+1], sizes[l]), leading dimension ldw[l]
  std::vector<int> ldw;
  std::vector<float*> b;  // b[l]: (sizes[l+1])
  std::vector<float*> a;  // a[l]: (sizes[l], capacity); a[0] holds the gathered inputs
  std::vector<float*> d;  // d[l]: (sizes[l], capacity) for l >= 1; d[0] unused
  const uint8_t* labels = nullptr;  // (capacity) labels of the gathered batch
  Output output = Output::sigmoid;  // the last layer's activation
  // Momentum: one velocity per parameter in a flat buffer laid out like the parameters (null when
  // the backend has none); w[0] is the start of the parameter buffer.
  std::vector<float*> vw, vb;
  float* velocity = nullptr;
  size_t count = 1;         // K
  size_t param_stride = 0;  // floats from network k's parameters (and velocities) to k+1's
  size_t work_stride = 0;   // ... of a[1..], d[1..]
  size_t input_stride = 0;  // ... of a[0]; 0: one input shared by all (evaluation)
  size_t label_stride = 0;  // bytes between the networks' labels; 0: shared
  // The current step's scalars in backend memory (StepScalars' runs), and its two choices.
  const float *alpha = nullptr, *beta_w = nullptr, *beta_b = nullptr, *l2 = nullptr;
  bool momentum = false, l2_decay = false;
};

// Where each matrix of one network lives in its flat parameter block and workspace block, and how
// far apart K networks' blocks are, so that a backend allocates (and copies) each in one piece.
struct StepLayout {
  std::vector<size_t> w, b;  // offsets into a network's parameters
  std::vector<size_t> ldw;   // w[l]'s leading dimension: its rows as stored (see step_layout)
  std::vector<size_t> a, d;  // offsets into a network's workspace
  size_t parameter_floats = 0, workspace_floats = 0;
  size_t capacity = 0;       // columns (samples) the workspace holds
  size_t param_stride = 0, work_stride = 0;  // the blocks rounded up to whole aligned matrices
  bool shared_input = false; // a[0] is not in the workspace: one input for every network
};

// Every matrix starts on a multiple of 32 floats (128 bytes), so that cuBLAS and the vector
// kernels see aligned operands on every layer of every network (given a buffer at least that
// aligned); nothing reads the gaps.
constexpr size_t kMatrixAlignFloats = 32;
constexpr size_t kCacheLineFloats = 16;  // 64 bytes

inline size_t round_up_aligned(size_t n) { return (n + kMatrixAlignFloats - 1) / kMatrixAlignFloats * kMatrixAlignFloats; }

inline size_t place_aligned(size_t& end, size_t floats) {
  const size_t at = round_up_aligned(end);
  end = at + floats;
  return at;
}

// weight_rows_align: each weight matrix's columns are stored that many floats apart, rounded up
// (the rows past sizes[l+1] are padding, zero, that no operation reads as a weight). The CPU
// backend aligns them to cache lines (kCacheLineFloats): its sparse kernels read and write
// W[0] a column (one pixel) at a time, and a column that straddles lines costs up to 1.5x.
// shared_input leaves a[0] out of the workspace (the caller provides one (dim, capacity) buffer
// for all networks). The parameter offsets depend on the sizes and the alignment only.
inline StepLayout step_layout(const std::vector<size_t>& sizes, size_t capacity, size_t weight_rows_align = 1,
                              bool shared_input = false) {
  StepLayout s;
  s.capacity = capacity;
  s.shared_input = shared_input;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    s.ldw.push_back((sizes[l + 1] + weight_rows_align - 1) / weight_rows_align * weight_rows_align);
    s.w.push_back(place_aligned(s.parameter_floats, sizes[l] * s.ldw[l]));
    s.b.push_back(place_aligned(s.parameter_floats, sizes[l + 1]));
  }
  for (size_t l = 0; l < sizes.size(); ++l) {
    s.a.push_back(place_aligned(s.workspace_floats, l == 0 && shared_input ? 0 : sizes[l] * capacity));
    s.d.push_back(place_aligned(s.workspace_floats, l == 0 ? 0 : sizes[l] * capacity));
  }
  s.param_stride = round_up_aligned(s.parameter_floats);
  s.work_stride = round_up_aligned(s.workspace_floats);
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

// K networks' buffers: parameters (and velocities, null for none) K * param_stride floats, the
// workspace K * work_stride; shared_input, for a layout that left a[0] out, the one input buffer;
// labels label_stride bytes apart (0: shared). The scalars are pointed to later (point_scalars).
inline StepBuffers step_buffers(const std::vector<size_t>& sizes, Output output, const StepLayout& layout,
                                size_t count, float* parameters, float* velocity, float* workspace,
                                const uint8_t* labels, size_t label_stride, float* shared_input = nullptr) {
  if (layout.shared_input != (shared_input != nullptr)) throw Error("internal error: a shared input needs its layout");
  StepBuffers s;
  s.sizes = sizes;
  s.output = output;
  ParameterViews p = parameter_views(layout, parameters);
  s.w = std::move(p.w);
  s.b = std::move(p.b);
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
  s.count = count;
  s.param_stride = layout.param_stride;
  s.work_stride = layout.work_stride;
  s.input_stride = layout.work_stride;
  if (shared_input) {
    s.a[0] = shared_input;
    s.input_stride = 0;
  }
  s.labels = labels;
  s.label_stride = label_stride;
  return s;
}

// The step's scalars: `values` is a StepScalars' runs copied to the backend's memory.
inline void point_scalars(StepBuffers& s, const StepScalars& scalars, const float* values) {
  if (scalars.count != s.count) throw Error("internal error: scalars for another number of networks");
  s.alpha = values;
  s.beta_w = values + s.count;
  s.beta_b = values + 2 * s.count;
  s.l2 = values + 3 * s.count;
  s.momentum = scalars.momentum;
  s.l2_decay = scalars.l2;
}

// Copies between a Network and a flat parameter block laid out by step_layout.
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

// K networks into K blocks param_stride apart (padding zero), and back.
inline std::vector<float> flatten_all(std::span<const Network> nets, const StepLayout& layout) {
  std::vector<float> out(nets.size() * layout.param_stride, 0.0f);
  for (size_t k = 0; k < nets.size(); ++k) flatten(nets[k], layout, out.data() + k * layout.param_stride);
  return out;
}

inline std::vector<Network> unflatten_all(const float* in, const StepLayout& layout, size_t count,
                                          const std::vector<size_t>& sizes, Output output) {
  std::vector<Network> nets(count, zero_network(sizes));
  for (size_t k = 0; k < count; ++k) {
    nets[k].output = output;
    unflatten(in + k * layout.param_stride, layout, nets[k]);
  }
  return nets;
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
    const size_t in_stride = l == 0 ? s.input_stride : s.work_stride;
    ops.gemm(false, false, n_out, m, n_in, 1.0f, s.w[l], s.ldw[l], s.param_stride, s.a[l], n_in, in_stride, 0.0f,
             s.a[l + 1], n_out, s.work_stride, s.count);
    if (l + 2 == s.sizes.size() && s.output == Output::softmax)
      ops.bias_softmax(n_out, m, s.b[l], s.param_stride, s.a[l + 1], s.work_stride, s.count);
    else
      ops.bias_sigmoid(n_out, m, s.b[l], s.param_stride, s.a[l + 1], s.work_stride, s.count);
  }
}

// Fills every delta; the output delta also adds each network's batch cost to cost_sums[k]
// (backend memory).
template <StepOps Ops>
void backprop(Ops& ops, const StepBuffers& s, int m, Cost cost, double* cost_sums) {
  const size_t L = s.sizes.size() - 1;
  ops.output_delta(cost, int(s.sizes[L]), m, s.a[L], s.work_stride, s.labels, s.label_stride, s.d[L], s.work_stride,
                   cost_sums, s.count);
  for (size_t l = L - 1; l >= 1; --l) {
    const int n = int(s.sizes[l]), n_next = int(s.sizes[l + 1]);
    ops.gemm(true, false, n, m, n_next, 1.0f, s.w[l], s.ldw[l], s.param_stride, s.d[l + 1], n_next, s.work_stride,
             0.0f, s.d[l], n, s.work_stride, s.count);
    ops.hidden_delta(n, m, s.a[l], s.work_stride, s.d[l], s.work_stride, s.count);
  }
}

// C[l]_k = beta_w[k] C[l]_k + alpha[k] d[l+1]_k a[l]_k^T and c[l]_k = beta_b[k] c[l]_k + alpha[k]
// rowsum(d[l+1]_k): the SGD update when C is W itself, the gradient when C is a copy of W.
template <StepOps Ops>
void weight_and_bias_gemms(Ops& ops, const StepBuffers& s, int m, const std::vector<float*>& C,
                           const std::vector<float*>& c) {
  for (size_t l = 0; l + 1 < s.sizes.size(); ++l) {
    const int n_out = int(s.sizes[l + 1]), n_in = int(s.sizes[l]);
    const size_t in_stride = l == 0 ? s.input_stride : s.work_stride;
    ops.gemm_scaled(false, true, n_out, n_in, m, s.alpha, s.d[l + 1], n_out, s.work_stride, s.a[l], n_in, in_stride,
                    s.beta_w, C[l], s.ldw[l], s.param_stride, s.count);
    ops.add_row_sums(n_out, m, s.alpha, s.d[l + 1], s.work_stride, s.beta_b, c[l], s.param_stride, s.count);
  }
}

// One SGD step of every network on its own batch, already gathered into its a[0] and labels, with
// the scalars of step_scalars(hypers, m). Hidden deltas use the old weights, so every delta is
// computed before any weight changes. Without momentum the update is folded into the weight GEMM
// (beta = the L2 decay); with it, the GEMMs update the velocities, the L2 term goes into them
// where some network has one (lambda 0 adds 0 * W), and one pass over the whole flat buffer adds
// them to the parameters.
template <StepOps Ops>
void update_mini_batch(Ops& ops, const StepBuffers& s, int m, Cost cost, double* cost_sums) {
  check_output_layer(s.output, cost);
  feedforward(ops, s, m);
  backprop(ops, s, m, cost, cost_sums);
  if (!s.momentum) return weight_and_bias_gemms(ops, s, m, s.w, s.b);
  if (!s.velocity) throw Error("momentum needs the backend's velocity buffer");
  weight_and_bias_gemms(ops, s, m, s.vw, s.vb);
  if (s.l2_decay)
    for (size_t l = 0; l + 1 < s.sizes.size(); ++l)
      ops.axpy_scaled(s.sizes[l] * size_t(s.ldw[l]), s.l2, s.w[l], s.param_stride, s.vw[l], s.param_stride, s.count);
  ops.axpy(s.count * s.param_stride, 1.0f, s.velocity, s.w[0]);
}

// The gradient of the mean cost plus L2 term into gw, gb (shaped like w, b, param_stride apart),
// with the scalars of gradient_scalars(hypers, m).
template <StepOps Ops>
void mean_gradient(Ops& ops, const StepBuffers& s, int m, Cost cost, const std::vector<float*>& gw,
                   const std::vector<float*>& gb, double* cost_sums) {
  check_output_layer(s.output, cost);
  feedforward(ops, s, m);
  backprop(ops, s, m, cost, cost_sums);
  ops.copy(s.count * s.param_stride, s.w[0], gw[0]);
  weight_and_bias_gemms(ops, s, m, gw, gb);
}

}  // namespace bp
