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
//   momentum     V[l] = mu V[l] - (eta/m) d[l+1] a[l]^T - (eta*lambda/n) W[l];  v[l] = mu v[l] - (eta/m)
//   rowsum(d[l+1]);
//                then every parameter += its velocity (chapter 3; mu = 0 takes the plain update above)
//
// sigmoid'(z) is taken as a(1-a), so only activations are kept. Each network's eta, lambda and mu
// enter as per-network scalars in the backend's memory (StepScalars), read when the step runs, so
// one launch serves every network whatever its hyper-parameters, and a replayed CUDA graph sees a
// new eta without being captured again. Where the operands live (StepLayout, StepBuffers) is
// step_layout.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/error.hpp"
#include "model/network.hpp"
#include "model/step_layout.hpp"

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
  ops.bias_sigmoid(r, r, in, stride, out, stride, count);  // a_k = sigmoid(a_k + b_k)
  ops.bias_softmax(r, r, in, stride, out, stride, count);  // columns of a_k: softmax(. + b_k)
  ops.output_delta(cost, r, r, in, stride, labels, stride, out, stride, cost_sums, count);  // cost_sums[k] += C_k
  ops.hidden_delta(r, r, in, stride, out, stride, count);                                   // d_k *= a_k (1 - a_k)
  ops.add_row_sums(r, r, scalars, in, stride, scalars, out, stride, count);  // c_k = beta[k] c_k + alpha[k] rowsum(d_k)
  ops.axpy_scaled(stride, scalars, in, stride, out, stride, count);          // y_k(n) += alpha[k] x_k(n)
  ops.axpy(stride, scalar, in, out);                                         // y(n) += alpha x(n), one flat run
  ops.copy(stride, in, out);                                                 // y(n) = x(n), one flat run
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
    ops.gemm(true, false, n, m, n_next, 1.0f, s.w[l], s.ldw[l], s.param_stride, s.d[l + 1], n_next, s.work_stride, 0.0f,
             s.d[l], n, s.work_stride, s.count);
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
