// The CUDA kernels that cuBLAS does not provide, then their launchers, each for K networks: the
// network is the grid's y dimension (a loop over k = blockIdx.y, blockIdx.y + gridDim.y, ...
// since gridDim.y is at most 65,535), and its operand is at base + k * stride. Elementwise math
// comes from model_math.cuh, shared with the CPU backend.
#include <thrust/count.h>
#include <thrust/execution_policy.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/system_error.h>
#if !defined(BACKPROP_CUDA_EMULATION)
#include <thrust/system/cuda/execution_policy.h>
#endif

#include <algorithm>

#include "kernels/launch.cuh"
#include "kernels/step_kernels.cuh"

namespace bp::kernels {
namespace {
constexpr int kThreads = 256;
constexpr unsigned kMaxGridY = 65535;
constexpr unsigned kMaxBlocksX = 4096;  // per network; the x loops stride over the rest

inline unsigned blocks_x(size_t total) {
  return unsigned(std::max<size_t>(1, std::min<size_t>((total + kThreads - 1) / kThreads, kMaxBlocksX)));
}
inline unsigned blocks_y(size_t count) { return unsigned(std::min<size_t>(std::max<size_t>(count, 1), kMaxGridY)); }

// Thread x of a grid-stride loop over `total` elements of each network.
#define BP_FOR_NETWORK(k, count) for (size_t k = blockIdx.y; k < (count); k += gridDim.y)
#define BP_FOR_ELEMENT(e, total) \
  for (size_t e = size_t(blockIdx.x) * blockDim.x + threadIdx.x; e < (total); e += size_t(gridDim.x) * blockDim.x)

// Launch: grid (ceil(dim / 256) <= 4096, min(count * m, 65535)); column c = k * m + j.
__global__ void gather_kernel(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si,
                              int m, float* x, size_t sx, uint8_t* labels_out, size_t sl, size_t columns, Expansion e) {
  for (size_t c = blockIdx.y; c < columns; c += gridDim.y) {
    const size_t k = c / size_t(m), j = c % size_t(m);
    const uint32_t sample = idx[k * si + j];
    const size_t image = e.image(sample);
    const unsigned variant = e.variant(sample);
    float* col = x + k * sx + j * dim;
    BP_FOR_ELEMENT(i, dim) {
      const long from = shifted_source(i, dim, e.width, variant);
      col[i] = from < 0 ? 0.0f : normalise_pixel(pixels[image * dim + size_t(from)]);
    }
    if (blockIdx.x == 0 && threadIdx.x == 0) labels_out[k * sl + j] = labels[image];
  }
}

__global__ void bias_sigmoid_kernel(int n, size_t total, const float* b, size_t sb, float* a, size_t sa, size_t count) {
  BP_FOR_NETWORK(k, count) {
    float* ak = a + k * sa;
    const float* bk = b + k * sb;
    BP_FOR_ELEMENT(e, total) ak[e] = sigmoid(ak[e] + bk[e % n]);
  }
}

// One thread per column j of network k.
__global__ void bias_softmax_kernel(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count) {
  BP_FOR_NETWORK(k, count) {
    BP_FOR_ELEMENT(j, size_t(m)) bias_softmax_column(n, b + k * sb, a + k * sa + j * size_t(n));
  }
}

// Block 256: each block sums its part of network k's cost in shared memory, then one double
// atomicAdd into cost_sums[k]. The k loop is the same for every thread of a block, so the
// __syncthreads inside it are reached by all.
__global__ void output_delta_kernel(Cost cost, int n, size_t total, const float* a, size_t sa, const uint8_t* labels,
                                    size_t sl, float* d, size_t sd, double* cost_sums, size_t count) {
  BP_SHARED(double, partial, kThreads);
  BP_FOR_NETWORK(k, count) {
    const float* ak = a + k * sa;
    const uint8_t* lk = labels + k * sl;
    float* dk = d + k * sd;
    double mine = 0;
    BP_FOR_ELEMENT(e, total) {
      const float y = lk[e / n] == int(e % n) ? 1.0f : 0.0f;
      dk[e] = output_delta(cost, ak[e], y);
      mine += unit_cost(cost, ak[e], y);
    }
    partial[threadIdx.x] = mine;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s /= 2) {
      if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
      __syncthreads();
    }
    if (threadIdx.x == 0) atomicAdd(cost_sums + k, partial[0]);
    __syncthreads();  // partial is reused for the next k
  }
}

__global__ void hidden_delta_kernel(size_t total, const float* a, size_t sa, float* d, size_t sd, size_t count) {
  BP_FOR_NETWORK(k, count) {
    const float* ak = a + k * sa;
    float* dk = d + k * sd;
    BP_FOR_ELEMENT(e, total) dk[e] *= sigmoid_prime_from_activation(ak[e]);
  }
}

// One thread per row i of network k.
__global__ void add_row_sums_kernel(int n, int m, const float* alpha, const float* d, size_t sd, const float* beta,
                                    float* c, size_t sc, size_t count) {
  BP_FOR_NETWORK(k, count) {
    BP_FOR_ELEMENT(i, size_t(n)) {
      const float* dk = d + k * sd;
      float sum = 0;
      for (int j = 0; j < m; ++j) sum += dk[i + size_t(j) * n];
      float* ck = c + k * sc;
      ck[i] = alpha[k] * sum + (beta[k] == 0.0f ? 0.0f : beta[k] * ck[i]);
    }
  }
}

__global__ void scale_add_kernel(int rows, size_t total, const float* alpha, const float* G, const float* beta,
                                 float* C, int ldc, size_t sc, size_t count) {
  BP_FOR_NETWORK(k, count) {
    const float* gk = G + k * total;
    float* ck = C + k * sc;
    BP_FOR_ELEMENT(e, total) {
      float* target = ck + e % rows + (e / rows) * size_t(ldc);
      *target = alpha[k] * gk[e] + (beta[k] == 0.0f ? 0.0f : beta[k] * *target);
    }
  }
}

__global__ void axpy_scaled_kernel(size_t n, const float* alpha, const float* x, size_t sx, float* y, size_t sy,
                                   size_t count) {
  BP_FOR_NETWORK(k, count) {
    const float* xk = x + k * sx;
    float* yk = y + k * sy;
    BP_FOR_ELEMENT(e, n) yk[e] += alpha[k] * xk[e];
  }
}

// One thread per column j of network k.
__global__ void count_predictions_kernel(int n, int m, const float* a, size_t sa, const uint8_t* labels,
                                         unsigned long long* counts, size_t count) {
  BP_FOR_NETWORK(k, count) {
    BP_FOR_ELEMENT(j, size_t(m)) {
      const int predicted = argmax(a + k * sa + j * size_t(n), n);
      unsigned long long* ck = counts + k * (size_t(n) + 1);
      atomicAdd(ck + predicted, 1ull);
      if (predicted == labels[j]) atomicAdd(ck + n, 1ull);
    }
  }
}

struct ColumnIsCorrect {
  int n;
  const float* a;
  const uint8_t* labels;
  __device__ bool operator()(int j) const { return argmax(a + size_t(j) * n, n) == labels[j]; }
};

}  // namespace

cudaError_t gather(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, size_t si, int m,
                   float* x, size_t sx, uint8_t* labels_out, size_t sl, size_t count, cudaStream_t stream,
                   Expansion e) {
  const size_t columns = size_t(std::max(m, 0)) * count;
  if (columns == 0) return cudaSuccess;
  const dim3 grid(blocks_x(dim), blocks_y(columns));
  BP_LAUNCH(gather_kernel, grid, kThreads, 0, stream)
  (pixels, labels, dim, idx, si, m, x, sx, labels_out, sl, columns, e);
  return cudaGetLastError();
}

cudaError_t bias_sigmoid(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count,
                         cudaStream_t stream) {
  const size_t total = size_t(n) * m;
  if (total == 0 || count == 0) return cudaSuccess;
  BP_LAUNCH(bias_sigmoid_kernel, dim3(blocks_x(total), blocks_y(count)), kThreads, 0, stream)
  (n, total, b, sb, a, sa, count);
  return cudaGetLastError();
}

cudaError_t bias_softmax(int n, int m, const float* b, size_t sb, float* a, size_t sa, size_t count,
                         cudaStream_t stream) {
  if (m <= 0 || count == 0) return cudaSuccess;
  BP_LAUNCH(bias_softmax_kernel, dim3(blocks_x(size_t(m)), blocks_y(count)), kThreads, 0, stream)
  (n, m, b, sb, a, sa, count);
  return cudaGetLastError();
}

cudaError_t output_delta(Cost cost, int n, int m, const float* a, size_t sa, const uint8_t* labels, size_t sl, float* d,
                         size_t sd, double* cost_sums, size_t count, cudaStream_t stream) {
  const size_t total = size_t(n) * m;
  if (total == 0 || count == 0) return cudaSuccess;
  BP_LAUNCH(output_delta_kernel, dim3(blocks_x(total), blocks_y(count)), kThreads, 0, stream)
  (cost, n, total, a, sa, labels, sl, d, sd, cost_sums, count);
  return cudaGetLastError();
}

cudaError_t hidden_delta(int n, int m, const float* a, size_t sa, float* d, size_t sd, size_t count,
                         cudaStream_t stream) {
  const size_t total = size_t(n) * m;
  if (total == 0 || count == 0) return cudaSuccess;
  BP_LAUNCH(hidden_delta_kernel, dim3(blocks_x(total), blocks_y(count)), kThreads, 0, stream)
  (total, a, sa, d, sd, count);
  return cudaGetLastError();
}

cudaError_t add_row_sums(int n, int m, const float* alpha, const float* d, size_t sd, const float* beta, float* c,
                         size_t sc, size_t count, cudaStream_t stream) {
  if (n <= 0 || count == 0) return cudaSuccess;
  BP_LAUNCH(add_row_sums_kernel, dim3(blocks_x(size_t(n)), blocks_y(count)), kThreads, 0, stream)
  (n, m, alpha, d, sd, beta, c, sc, count);
  return cudaGetLastError();
}

cudaError_t scale_add(int rows, int cols, const float* alpha, const float* G, const float* beta, float* C, int ldc,
                      size_t sc, size_t count, cudaStream_t stream) {
  const size_t total = size_t(rows) * cols;
  if (total == 0 || count == 0) return cudaSuccess;
  BP_LAUNCH(scale_add_kernel, dim3(blocks_x(total), blocks_y(count)), kThreads, 0, stream)
  (rows, total, alpha, G, beta, C, ldc, sc, count);
  return cudaGetLastError();
}

cudaError_t axpy_scaled(size_t n, const float* alpha, const float* x, size_t sx, float* y, size_t sy, size_t count,
                        cudaStream_t stream) {
  if (n == 0 || count == 0) return cudaSuccess;
  BP_LAUNCH(axpy_scaled_kernel, dim3(blocks_x(n), blocks_y(count)), kThreads, 0, stream)(n, alpha, x, sx, y, sy, count);
  return cudaGetLastError();
}

cudaError_t count_predictions(int n, int m, const float* a, size_t sa, const uint8_t* labels,
                              unsigned long long* counts, size_t count, cudaStream_t stream) {
  if (m <= 0 || count == 0) return cudaSuccess;
  BP_LAUNCH(count_predictions_kernel, dim3(blocks_x(size_t(m)), blocks_y(count)), kThreads, 0, stream)
  (n, m, a, sa, labels, counts, count);
  return cudaGetLastError();
}

size_t count_correct(int n, int m, const float* a, const uint8_t* labels, cudaStream_t stream, cudaError_t* status) {
#if defined(BACKPROP_CUDA_EMULATION)
  // The emulation build compiles Thrust for its host (CPP) device system, which does not know
  // the emulated streams: the stream's work runs first, as thrust::cuda::par.on(stream) orders it.
  *status = cudaStreamSynchronize(stream);
  if (*status != cudaSuccess) return 0;
  const auto count = thrust::count_if(thrust::device, thrust::counting_iterator<int>(0),
                                      thrust::counting_iterator<int>(m), ColumnIsCorrect{n, a, labels});
  return size_t(count);
#else
  try {
    const auto count = thrust::count_if(thrust::cuda::par.on(stream), thrust::counting_iterator<int>(0),
                                        thrust::counting_iterator<int>(m), ColumnIsCorrect{n, a, labels});
    *status = cudaGetLastError();
    return size_t(count);
  } catch (const thrust::system_error& e) {
    *status = cudaErrorUnknown;
    if (e.code().category() == thrust::cuda_category()) *status = cudaError_t(e.code().value());
    return 0;
  }
#endif
}

cudaError_t check_kernel_image() {
  cudaFuncAttributes attributes;
  return cudaFuncGetAttributes(&attributes, gather_kernel);
}

}  // namespace bp::kernels
