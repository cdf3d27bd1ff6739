// The fused engine's kernel (see fused_step.cuh). Block k is network k; its kFusedThreads threads
// share every phase of a step, which are separated by barriers (3L + 3 per step, L weight layers):
//   batch     thread c < m reads sample c's index and label;
//   gather    thread i takes pixels i, i + T, ... of every sample (consecutive threads read
//             consecutive bytes) and flags the pixels that are zero in the whole batch;
//   forward   thread (j, p) sums its share p of unit j's inputs for a group of samples at once
//             (one weight read feeds that many FMAs), first-layer inputs zero in the whole batch
//             skipped; the partial sums are added in a fixed order, so every run gives the same
//             bits;
//   deltas    one thread per output (unit, sample); one per hidden (unit, sample) for W^T d;
//   update    thread (j, q) owns weights (j, q), (j, q + T/n), ...: each is one dot of length M,
//             so no two threads write one weight and no atomics are needed.
// Activations and deltas are stored sample-fastest, unit i's M samples at i * S, so that a thread
// reads one unit's samples at consecutive addresses (as float4s where S is M rounded up to 4).
// Every step computes all M columns: a shorter last batch has its missing inputs and output deltas
// zero, which adds exactly nothing to any sum, and leaves its costs out. The kernel is compiled
// for the book's mini-batch of 10 (B = 10: the sample loops unrolled, a unit's deltas held in
// registers during the update) and for any other (B = 0). Weights are column-major as everywhere
// else (W[j + i * rows]): the threads of a warp take consecutive j, so their reads of one column
// fall on consecutive banks, while the activations they read are the same (a broadcast).
#include "kernels/fused_step.cuh"
#include "kernels/launch.cuh"
#include "kernels/vector_reads.cuh"

namespace bp::kernels {
namespace {

constexpr int G = kFusedSampleGroup;

// Sample c of the batch into x[c + i * S] for every pixel i (zero for c >= m), and active[i] = some
// sample's pixel i is not zero.
__device__ void gather_batch(const FusedShape& s, const uint8_t* pixels, size_t dim, const Expansion& e,
                             const uint32_t* samples, int m, float* x, uint8_t* active, int t, int T) {
  const int M = s.capacity, S = s.stride;
  for (int i = t; i < int(dim); i += T) {
    unsigned any = 0;
    for (int c = 0; c < M; ++c) {
      uint8_t p = 0;
      if (c < m) {
        const uint32_t sample = samples[c];
        const long from = shifted_source(size_t(i), dim, e.width, e.variant(sample));
        p = from < 0 ? uint8_t(0) : pixels[e.image(sample) * dim + size_t(from)];
      }
      x[c + i * S] = normalise_pixel(p);
      any |= p;
    }
    active[i] = any != 0;
  }
}

// out (n_out units x M samples) = sigmoid(W in + b), or the softmax of each column for the last
// layer. GS samples summed at once: all of them when the batch is compiled in.
template <int B>
__device__ void forward_layer(const FusedShape& s, int l, bool softmax, const float* P, float* smem,
                              const uint8_t* active, int t, int T) {
  constexpr int GS = B > 0 ? B : G;
  const int M = B > 0 ? B : s.capacity, S = s.stride;
  const int n_in = s.sizes[l], n_out = s.sizes[l + 1], parts = s.parts[l];
  const float* W = P + s.w[l];
  const float* bias = P + s.b[l];
  const float* in = smem + s.act[l];
  float* out = smem + s.act[l + 1];
  float* partial = smem + s.partial;  // tile o's samples at o * S
  const int tiles = parts * n_out;
  for (int o = t; o < tiles; o += T) {
    const int j = o % n_out, p = o / n_out;
    const int i0 = int(long(p) * n_in / parts), i1 = int(long(p + 1) * n_in / parts);
    for (int c0 = 0; c0 < M; c0 += GS) {
      float acc[GS] = {};
      for (int i = i0; i < i1; ++i) {
        if (l == 0 && !active[i]) continue;  // adds w * 0 to every sum
        const float w = W[j + i * n_out];
        if constexpr (B > 0) {
          float x[B];
          load_floats(in + i * S, x);
          BP_UNROLL
          for (int u = 0; u < B; ++u) acc[u] += w * x[u];
        } else {
          BP_UNROLL
          for (int u = 0; u < GS; ++u)
            if (c0 + u < M) acc[u] += w * in[c0 + u + i * S];
        }
      }
      BP_UNROLL
      for (int u = 0; u < GS; ++u)
        if (B > 0 || c0 + u < M) partial[c0 + u + o * S] = acc[u];
    }
  }
  __syncthreads();
  for (int e = t; e < n_out * M; e += T) {
    const int c = e % M, j = e / M;
    float z = 0;
    for (int p = 0; p < parts; ++p) z += partial[c + (p * n_out + j) * S];
    out[c + j * S] = softmax ? z : sigmoid(z + bias[j]);
  }
  __syncthreads();
  if (softmax) {
    if (t < M) bias_softmax_column(n_out, bias, out + t, S);
    __syncthreads();
  }
}

// The output delta into delta[L] (zero for the samples c >= m a shorter batch lacks); each
// (unit, sample)'s cost into partial.
__device__ void output_delta_and_cost(const FusedShape& s, Cost cost, float* smem, const uint8_t* labels, int m, int t,
                                      int T) {
  const int L = s.layers, n = s.sizes[L], M = s.capacity, S = s.stride;
  const float* a = smem + s.act[L];
  float* d = smem + s.delta[L];
  float* unit_costs = smem + s.partial;
  for (int e = t; e < n * M; e += T) {
    const int c = e % M, j = e / M, at = c + j * S;
    const float y = c < m && int(labels[c]) == j ? 1.0f : 0.0f;
    d[at] = c < m ? output_delta(cost, a[at], y) : 0.0f;
    unit_costs[at] = c < m ? unit_cost(cost, a[at], y) : 0.0f;
  }
  __syncthreads();
}

// delta[l] = (W[l]^T delta[l+1]) * a[l] (1 - a[l]), from the last hidden layer down.
__device__ void backward(const FusedShape& s, const float* P, float* smem, int t, int T) {
  const int M = s.capacity, S = s.stride;
  for (int l = s.layers - 1; l >= 1; --l) {
    const int n = s.sizes[l], n_next = s.sizes[l + 1];
    const float* W = P + s.w[l];
    const float* d_next = smem + s.delta[l + 1];
    const float* a = smem + s.act[l];
    float* d = smem + s.delta[l];
    for (int e = t; e < n * M; e += T) {
      const int c = e % M, i = e / M;
      float sum = 0;
      for (int j = 0; j < n_next; ++j) sum += W[j + i * n_next] * d_next[c + j * S];
      d[c + i * S] = sum * sigmoid_prime_from_activation(a[c + i * S]);
    }
    __syncthreads();
  }
}

struct Scalars {
  float alpha, beta_w, beta_b, l2;
};

// Every layer's W = beta_w W + alpha d a^T and b = beta_b b + alpha rowsum(d); with momentum the
// same into the velocities (plus l2 W where l2_decay), then the parameters += the velocities.
template <int B>
__device__ void update(const FusedShape& s, bool momentum, bool l2_decay, const Scalars& k, float* P, float* V,
                       const float* smem, const uint8_t* active, int t, int T) {
  const int M = B > 0 ? B : s.capacity, S = s.stride;
  for (int l = 0; l < s.layers; ++l) {
    const int n_in = s.sizes[l], n_out = s.sizes[l + 1];
    const float* d = smem + s.delta[l + 1];
    const float* a = smem + s.act[l];
    const int groups = T >= n_out ? T / n_out : 1;
    for (int o = t; o < groups * n_out; o += T) {
      const int j = o % n_out, q = o / n_out;
      [[maybe_unused]] float dj[B > 0 ? B : 1];  // unit j's deltas, for the batch compiled in
      if constexpr (B > 0) load_floats(d + j * S, dj);
      for (int i = q; i < n_in; i += groups) {
        float g = 0;
        if (l > 0 || active[i]) {
          if constexpr (B > 0) {
            float x[B];
            load_floats(a + i * S, x);
            BP_UNROLL
            for (int c = 0; c < B; ++c) g += dj[c] * x[c];
          } else {
            for (int c = 0; c < M; ++c) g += d[c + j * S] * a[c + i * S];
          }
        }
        const int at = s.w[l] + j + i * n_out;
        if (!momentum) {
          P[at] = k.alpha * g + k.beta_w * P[at];
        } else {
          float v = k.alpha * g + k.beta_w * V[at];
          if (l2_decay) v += k.l2 * P[at];
          V[at] = v;
          P[at] += v;
        }
      }
    }
    for (int j = t; j < n_out; j += T) {
      float g = 0;
      for (int c = 0; c < M; ++c) g += d[c + j * S];
      const int at = s.b[l] + j;
      if (!momentum) {
        P[at] = k.alpha * g + k.beta_b * P[at];
      } else {
        const float v = k.alpha * g + k.beta_b * V[at];
        V[at] = v;
        P[at] += v;
      }
    }
  }
  __syncthreads();
}

template <int B>
__global__ void fused_sgd_kernel(FusedShape s, Cost cost, int momentum, int l2_decay, const uint8_t* pixels,
                                 const uint8_t* labels, size_t dim, Expansion e, const uint32_t* orders, size_t length,
                                 const float* scalars, const float* last_scalars, size_t count, float* params,
                                 float* velocity, double* cost_sums) {
  BP_DYNAMIC_SHARED(float, smem);
  const size_t k = blockIdx.x;
  const int t = int(threadIdx.x), T = int(blockDim.x), M = s.capacity;
  float* P = smem;
  float* const global_p = params + k * size_t(s.param_floats);
  float* const global_v = momentum ? velocity + k * size_t(s.param_floats) : nullptr;
  float* V = !momentum ? nullptr : s.velocity_shared ? smem + s.velocity : global_v;
  uint32_t* samples = reinterpret_cast<uint32_t*>(smem + s.samples);
  uint8_t* batch_labels = reinterpret_cast<uint8_t*>(smem + s.labels);
  uint8_t* active = reinterpret_cast<uint8_t*>(smem + s.active);
  for (int i = t; i < s.param_floats; i += T) {
    P[i] = global_p[i];
    if (momentum && s.velocity_shared) V[i] = global_v[i];
  }
  const uint32_t* order = orders + k * length;
  const size_t steps = (length + size_t(M) - 1) / size_t(M);
  const bool softmax = output_layer(cost) == Output::softmax;
  double cost_sum = 0;  // thread c < M: the costs of its column (sample c of each batch)
  for (size_t step = 0; step < steps; ++step) {
    const int m = int(length - step * M < size_t(M) ? length - step * M : size_t(M));
    const float* sc = m == M ? scalars : last_scalars;
    const Scalars mine{sc[k], sc[count + k], sc[2 * count + k], sc[3 * count + k]};
    if (t < m) {
      const uint32_t sample = order[step * M + t];
      samples[t] = sample;
      batch_labels[t] = labels[e.image(sample)];
    }
    __syncthreads();  // also: the last step's update has finished with x and the parameters
    gather_batch(s, pixels, dim, e, samples, m, smem + s.act[0], active, t, T);
    __syncthreads();
    for (int l = 0; l < s.layers; ++l) forward_layer<B>(s, l, softmax && l + 1 == s.layers, P, smem, active, t, T);
    output_delta_and_cost(s, cost, smem, batch_labels, m, t, T);
    if (t < m) {  // read before the next step's forward pass overwrites them, many barriers on
      double c = 0;
      for (int j = 0; j < s.sizes[s.layers]; ++j) c += smem[s.partial + t + j * s.stride];
      cost_sum += c;
    }
    backward(s, P, smem, t, T);
    update<B>(s, momentum != 0, l2_decay != 0, mine, P, V, smem, active, t, T);
  }
  for (int i = t; i < s.param_floats; i += T) {
    global_p[i] = P[i];
    if (momentum && s.velocity_shared) global_v[i] = V[i];
  }
  double* column_costs = reinterpret_cast<double*>(smem + s.partial);
  if (t < M) column_costs[t] = cost_sum;
  __syncthreads();
  if (t == 0) {  // in a fixed order: the same bits every run
    double sum = 0;
    for (int c = 0; c < M; ++c) sum += column_costs[c];
    cost_sums[k] += sum;
  }
}

template <int B>
cudaError_t launch(const FusedShape& shape, Cost cost, bool momentum, bool l2_decay, const uint8_t* pixels,
                   const uint8_t* labels, size_t dim, Expansion e, const uint32_t* orders, size_t length,
                   const float* scalars, const float* last_scalars, size_t count, float* params, float* velocity,
                   double* cost_sums, cudaStream_t stream) {
  const size_t bytes = size_t(shape.shared_floats) * sizeof(float);
  const cudaError_t set =
      cudaFuncSetAttribute(fused_sgd_kernel<B>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
  if (set != cudaSuccess) return set;
  BP_LAUNCH(fused_sgd_kernel<B>, dim3(unsigned(count)), dim3(kFusedThreads), bytes, stream)
  (shape, cost, int(momentum), int(l2_decay), pixels, labels, dim, e, orders, length, scalars, last_scalars, count,
   params, velocity, cost_sums);
  return cudaGetLastError();
}

}  // namespace

cudaError_t fused_sgd_steps(const FusedShape& shape, Cost cost, bool momentum, bool l2_decay, const uint8_t* pixels,
                            const uint8_t* labels, size_t dim, Expansion e, const uint32_t* orders, size_t length,
                            const float* scalars, const float* last_scalars, size_t count, float* params,
                            float* velocity, double* cost_sums, cudaStream_t stream) {
  if (count == 0 || length == 0) return cudaSuccess;
  if (shape.capacity == kFusedCompiledBatch)
    return launch<kFusedCompiledBatch>(shape, cost, momentum, l2_decay, pixels, labels, dim, e, orders, length, scalars,
                                       last_scalars, count, params, velocity, cost_sums, stream);
  return launch<0>(shape, cost, momentum, l2_decay, pixels, labels, dim, e, orders, length, scalars, last_scalars,
                   count, params, velocity, cost_sums, stream);
}

}  // namespace bp::kernels
