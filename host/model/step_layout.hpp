// Where the step's operands live: one network's matrices in a flat parameter block and a
// workspace block, K networks' blocks a fixed stride apart, the pointers the step reads
// (StepBuffers), and copies between a Network and its flat block. The step itself, which
// only reads these, is step.hpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/error.hpp"
#include "model/network.hpp"

namespace bp {

// Per-network scalars of one step or gradient, as computed from each network's Hyper and the
// batch size m. Laid out as four runs of K floats (alpha, beta_w, beta_b, l2) so that a backend
// copies them to its memory in one piece.
struct StepScalars {
  std::vector<float> values;  // 4 * K
  size_t count = 0;
  bool momentum = false;  // the velocities take the GEMMs (all networks or none)
  bool l2 = false;        // momentum: some network's lambda is not 0 (its decay goes into the velocities)
};

// Pointers into the backend's memory (host or device): network 0's matrices and workspace, the
// strides to the others', and the step's scalars.
struct StepBuffers {
  std::vector<size_t> sizes;
  std::vector<float*> w;  // w[l]: (sizes[l+1], sizes[l]), leading dimension ldw[l]
  std::vector<int> ldw;
  std::vector<float*> b;            // b[l]: (sizes[l+1])
  std::vector<float*> a;            // a[l]: (sizes[l], capacity); a[0] holds the gathered inputs
  std::vector<float*> d;            // d[l]: (sizes[l], capacity) for l >= 1; d[0] unused
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
  size_t capacity = 0;                       // columns (samples) the workspace holds
  size_t param_stride = 0, work_stride = 0;  // the blocks rounded up to whole aligned matrices
  bool shared_input = false;                 // a[0] is not in the workspace: one input for every network
};

// Every matrix starts on a multiple of 32 floats (128 bytes), so that cuBLAS and the vector
// kernels see aligned operands on every layer of every network (given a buffer at least that
// aligned); nothing reads the gaps.
constexpr size_t kMatrixAlignFloats = 32;
constexpr size_t kCacheLineFloats = 16;  // 64 bytes

inline size_t round_up_aligned(size_t n) {
  return (n + kMatrixAlignFloats - 1) / kMatrixAlignFloats * kMatrixAlignFloats;
}

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
inline StepBuffers step_buffers(const std::vector<size_t>& sizes, Output output, const StepLayout& layout, size_t count,
                                float* parameters, float* velocity, float* workspace, const uint8_t* labels,
                                size_t label_stride, float* shared_input = nullptr) {
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
inline double finish_gradient(const float* host_grad, const StepLayout& layout, const Network& current, double cost_sum,
                              int m, const Hyper& h, Network& grad) {
  grad = zero_network(current.sizes);
  unflatten(host_grad, layout, grad);
  return cost_sum / m + l2_term(current, h);
}

}  // namespace bp
