// The minibatch step for K networks of one shape at once, written once over an operation set
// `Ops` (CpuBatchedOps loops over the networks calling CpuOps; CudaBatchedOps runs each line as
// one cublasSgemmStridedBatched or one batched kernel). It is step.hpp's algorithm line for line:
// network k's matrices are network 0's plus k times a stride (parameters, workspace, input,
// labels), and its eta, lambda and mu live in per-network scalar arrays in the backend's memory,
// so that one launch serves every network whatever its hyper-parameters.
//
// The scalars enter exactly where step.hpp puts them (alpha = -eta/m and beta = the L2 decay of
// the weight GEMM, or beta = mu for momentum), so on the CPU each network's floats go through the
// same operations in the same order as a lone network's: the batched CPU step is bit-identical
// to K single steps (tested). How a backend honours a per-network alpha and beta in a GEMM is its
// own business (cuBLAS's batched GEMMs take one alpha and beta; see cuda_batched_ops.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/error.hpp"
#include "model/step.hpp"

namespace bp {

// The operation set, in the backend's memory. Operand X of network k is X + k * strideX; a stride
// of 0 shares one operand among all networks (evaluation's input). `count` is K. Scalar arrays
// (`const float*` alpha/beta) hold one value per network.
template <class Ops>
concept BatchedStepOps = requires(Ops& ops, bool t, int r, size_t stride, size_t count, float scalar,
                                  const float* scalars, const float* in, float* out, const uint8_t* labels, Cost cost,
                                  double* cost_sums) {
  // C_k = alpha op(A_k) op(B_k) + beta C_k (one alpha and beta for all)
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
};

// Per-network scalars of one step, as step.hpp computes them from each network's Hyper and the
// batch size m. Laid out as four runs of K floats (alpha, beta_w, beta_b, l2) so a backend copies
// them to its memory in one piece.
struct BatchedScalars {
  std::vector<float> values;  // 4 * K
  size_t count = 0;
  const float* alpha() const { return values.data(); }               // -eta/m
  const float* beta_w() const { return values.data() + count; }      // plain: 1 - eta lambda/n; momentum: mu
  const float* beta_b() const { return values.data() + 2 * count; }  // plain: 1; momentum: mu
  const float* l2() const { return values.data() + 3 * count; }      // momentum: -eta lambda/n
};

// Momentum or not is one choice for all K networks: the two updates are different sequences of
// operations (a group never mixes them; see sweep/groups.hpp).
inline BatchedScalars batched_scalars(const std::vector<Hyper>& hypers, int m) {
  BatchedScalars s;
  s.count = hypers.size();
  s.values.assign(4 * s.count, 0.0f);
  for (size_t k = 0; k < s.count; ++k) {
    const Hyper& h = hypers[k];
    if ((h.momentum != 0) != (hypers[0].momentum != 0))
      throw Error("networks trained together must all use momentum or none");
    s.values[k] = float(-h.eta / m);
    if (h.momentum == 0) {
      s.values[s.count + k] = float(1.0 - h.eta * h.lambda / double(h.n));
      s.values[2 * s.count + k] = 1.0f;
    } else {
      s.values[s.count + k] = s.values[2 * s.count + k] = float(h.momentum);
      s.values[3 * s.count + k] = float(-h.eta * h.lambda / double(h.n));
    }
  }
  return s;
}

// Network 0's matrices (and velocities) plus the strides to the others'.
struct BatchedBuffers {
  StepBuffers first;          // network 0: w, b, a, d, labels, vw, vb, velocity as in step.hpp
  size_t count = 0;           // K
  size_t param_stride = 0;    // floats from network k's parameters (and velocities) to k+1's
  size_t work_stride = 0;     // ... of a[1..], d[1..]
  size_t input_stride = 0;    // ... of a[0]; 0: one input shared by all (evaluation)
  size_t label_stride = 0;    // bytes between the networks' labels; 0: shared
  bool momentum = false;
  // The scalars of the current step, in backend memory (BatchedScalars' layout).
  const float *alpha = nullptr, *beta_w = nullptr, *beta_b = nullptr, *l2 = nullptr;
};

// Where K networks live: parameters (and velocities) K * param_stride floats, the workspace
// K * work_stride floats, each stride a multiple of 32 floats as step_layout aligns its matrices,
// so every network's every matrix starts 128-byte aligned. With a shared input, a[0] is left out
// of each network's workspace (the caller provides one (dim, capacity) buffer for all).
struct BatchedLayout {
  StepLayout one;  // a network's offsets within its own block
  size_t param_stride = 0, work_stride = 0;
};

inline size_t round_up_aligned(size_t n) { return (n + kMatrixAlignFloats - 1) / kMatrixAlignFloats * kMatrixAlignFloats; }

// Weight columns packed (step_layout's weight_rows_align 1): the batched step's GEMMs pass each
// layer's row count as W's leading dimension.
inline BatchedLayout batched_layout(const std::vector<size_t>& sizes, size_t capacity, bool shared_input) {
  BatchedLayout b;
  b.one = step_layout(sizes, capacity, 1);
  if (shared_input) {  // the same layout with a[0] of no size
    StepLayout& s = b.one;
    s.a.clear();
    s.d.clear();
    s.workspace_floats = 0;
    for (size_t l = 0; l < sizes.size(); ++l) {
      s.a.push_back(place_aligned(s.workspace_floats, l == 0 ? 0 : sizes[l] * capacity));
      s.d.push_back(place_aligned(s.workspace_floats, l == 0 ? 0 : sizes[l] * capacity));
    }
  }
  b.param_stride = round_up_aligned(b.one.parameter_floats);
  b.work_stride = round_up_aligned(b.one.workspace_floats);
  return b;
}

// input: null for a per-network a[0] inside the workspace, else the shared input buffer.
inline BatchedBuffers batched_buffers(const std::vector<size_t>& sizes, Output output, const BatchedLayout& layout,
                                      size_t count, float* parameters, float* velocity, float* workspace,
                                      float* shared_input, uint8_t* labels, size_t label_stride) {
  BatchedBuffers b;
  b.first = step_buffers(sizes, output, layout.one, parameters, velocity, workspace, labels);
  b.count = count;
  b.param_stride = layout.param_stride;
  b.work_stride = layout.work_stride;
  b.input_stride = layout.work_stride;
  if (shared_input) {
    b.first.a[0] = shared_input;
    b.input_stride = 0;
  }
  b.label_stride = label_stride;
  b.momentum = velocity != nullptr;
  return b;
}

template <BatchedStepOps Ops>
void feedforward_batched(Ops& ops, const BatchedBuffers& s, int m) {
  const StepBuffers& f = s.first;
  for (size_t l = 0; l + 1 < f.sizes.size(); ++l) {
    const int n_out = int(f.sizes[l + 1]), n_in = int(f.sizes[l]);
    const size_t in_stride = l == 0 ? s.input_stride : s.work_stride;
    ops.gemm(false, false, n_out, m, n_in, 1.0f, f.w[l], n_out, s.param_stride, f.a[l], n_in, in_stride, 0.0f,
             f.a[l + 1], n_out, s.work_stride, s.count);
    if (l + 2 == f.sizes.size() && f.output == Output::softmax)
      ops.bias_softmax(n_out, m, f.b[l], s.param_stride, f.a[l + 1], s.work_stride, s.count);
    else
      ops.bias_sigmoid(n_out, m, f.b[l], s.param_stride, f.a[l + 1], s.work_stride, s.count);
  }
}

template <BatchedStepOps Ops>
void backprop_batched(Ops& ops, const BatchedBuffers& s, int m, Cost cost, double* cost_sums) {
  const StepBuffers& f = s.first;
  const size_t L = f.sizes.size() - 1;
  ops.output_delta(cost, int(f.sizes[L]), m, f.a[L], s.work_stride, f.labels, s.label_stride, f.d[L], s.work_stride,
                   cost_sums, s.count);
  for (size_t l = L - 1; l >= 1; --l) {
    const int n = int(f.sizes[l]), n_next = int(f.sizes[l + 1]);
    ops.gemm(true, false, n, m, n_next, 1.0f, f.w[l], n_next, s.param_stride, f.d[l + 1], n_next, s.work_stride, 0.0f,
             f.d[l], n, s.work_stride, s.count);
    ops.hidden_delta(n, m, f.a[l], s.work_stride, f.d[l], s.work_stride, s.count);
  }
}

// One SGD step of every network on its own batch, already gathered into its a[0] and labels;
// s.alpha.. hold the step's scalars (batched_scalars for this m). As update_mini_batch.
template <BatchedStepOps Ops>
void update_mini_batch_batched(Ops& ops, const BatchedBuffers& s, int m, Cost cost, double* cost_sums) {
  check_output_layer(s.first.output, cost);
  feedforward_batched(ops, s, m);
  backprop_batched(ops, s, m, cost, cost_sums);
  const StepBuffers& f = s.first;
  if (s.momentum && !f.velocity) throw Error("momentum needs the backend's velocity buffer");
  const std::vector<float*>& C = s.momentum ? f.vw : f.w;
  const std::vector<float*>& c = s.momentum ? f.vb : f.b;
  for (size_t l = 0; l + 1 < f.sizes.size(); ++l) {
    const int n_out = int(f.sizes[l + 1]), n_in = int(f.sizes[l]);
    const size_t in_stride = l == 0 ? s.input_stride : s.work_stride;
    ops.gemm_scaled(false, true, n_out, n_in, m, s.alpha, f.d[l + 1], n_out, s.work_stride, f.a[l], n_in, in_stride,
                    s.beta_w, C[l], n_out, s.param_stride, s.count);
    ops.add_row_sums(n_out, m, s.alpha, f.d[l + 1], s.work_stride, s.beta_b, c[l], s.param_stride, s.count);
  }
  if (!s.momentum) return;
  // The L2 term into the velocities (a network with lambda 0 adds 0 * W, which changes nothing),
  // then every parameter of every network += its velocity in one pass.
  for (size_t l = 0; l + 1 < f.sizes.size(); ++l)
    ops.axpy_scaled(f.sizes[l] * f.sizes[l + 1], s.l2, f.w[l], s.param_stride, f.vw[l], s.param_stride, s.count);
  ops.axpy(s.count * s.param_stride, 1.0f, f.velocity, f.w[0]);
}

}  // namespace bp
