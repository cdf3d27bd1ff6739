// The CUDA kernels that cuBLAS does not provide, then their launchers. Elementwise math comes from
// activations.cuh, shared with the CPU backends. Every kernel is a grid-stride or one-thread-per-
// element loop over column-major (n, m) matrices.
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
constexpr unsigned kMaxGridY = 65535;  // the hardware limit of gridDim.y

inline unsigned ceil_div(size_t a, size_t b) { return unsigned((a + b - 1) / b); }

// ---- kernels ----

// Launch: grid (ceil(dim / 256), min(m, kMaxGridY)), block 256. Thread (i, y) converts pixel i
// of samples y, y + gridDim.y, ... (gridDim.y is at most 65,535; a batch may be larger).
__global__ void gather_normalise_kernel(const uint8_t* pixels, const uint8_t* labels, size_t dim,
                                        const uint32_t* idx, int m, float* x, uint8_t* labels_out, Expansion e) {
  const size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int j = blockIdx.y; j < m; j += gridDim.y) {
    const size_t image = e.image(idx[j]);
    if (i < dim) {
      const long from = shifted_source(i, dim, e.width, e.variant(idx[j]));
      x[i + size_t(j) * dim] = from < 0 ? 0.0f : normalise_pixel(pixels[image * dim + size_t(from)]);
    }
    if (i == 0) labels_out[j] = labels[image];
  }
}

// Launch: 1-D over n*m elements. a = sigmoid(a + b[row]).
__global__ void bias_sigmoid_kernel(int n, size_t total, const float* b, float* a) {
  for (size_t e = size_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += size_t(gridDim.x) * blockDim.x)
    a[e] = sigmoid(a[e] + b[e % n]);
}

// Launch: 1-D, one thread per column j (the output layer has few units: 10 for MNIST).
__global__ void bias_softmax_kernel(int n, int m, const float* b, float* a) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j < m) bias_softmax_column(n, b, a + size_t(j) * n);
}

// Launch: 1-D over n*m elements, block 256. delta = cost'(a, y) [* sigmoid'], and the block's
// cost summed in shared memory, then one double atomicAdd per block.
__global__ void output_delta_kernel(Cost cost, int n, size_t total, const float* a, const uint8_t* labels, float* d,
                                    double* cost_sum) {
  BP_SHARED(double, partial, kThreads);
  double mine = 0;
  for (size_t e = size_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += size_t(gridDim.x) * blockDim.x) {
    const float y = labels[e / n] == int(e % n) ? 1.0f : 0.0f;
    d[e] = output_delta(cost, a[e], y);
    mine += unit_cost(cost, a[e], y);
  }
  partial[threadIdx.x] = mine;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) atomicAdd(cost_sum, partial[0]);
}

// Launch: 1-D over n*m elements. d *= a (1 - a).
__global__ void hidden_delta_kernel(size_t total, const float* a, float* d) {
  for (size_t e = size_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += size_t(gridDim.x) * blockDim.x)
    d[e] *= sigmoid_prime_from_activation(a[e]);
}

// Launch: 1-D, one thread per row i (adjacent threads read adjacent addresses of each column).
__global__ void add_row_sums_kernel(int n, int m, float alpha, const float* d, float beta, float* c) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float sum = 0;
  for (int j = 0; j < m; ++j) sum += d[i + size_t(j) * n];
  c[i] = alpha * sum + (beta == 0.0f ? 0.0f : beta * c[i]);
}

struct ColumnIsCorrect {
  int n;
  const float* a;
  const uint8_t* labels;
  __device__ bool operator()(int j) const { return argmax(a + size_t(j) * n, n) == labels[j]; }
};

// Launch: 1-D, one thread per column j of a(n, m).
__global__ void count_predictions_kernel(int n, int m, const float* a, const uint8_t* labels,
                                         unsigned long long* counts) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= m) return;
  const int predicted = argmax(a + size_t(j) * n, n);
  atomicAdd(counts + predicted, 1ull);
  if (predicted == labels[j]) atomicAdd(counts + n, 1ull);
}

unsigned elementwise_blocks(size_t total) { return std::max(1u, std::min(ceil_div(total, kThreads), 65535u)); }

}  // namespace

// ---- launchers ----

cudaError_t gather_normalise(const uint8_t* pixels, const uint8_t* labels, size_t dim, const uint32_t* idx, int m,
                             float* x, uint8_t* labels_out, cudaStream_t stream, Expansion e) {
  if (m <= 0) return cudaSuccess;
  const dim3 grid(ceil_div(dim, kThreads), std::min(unsigned(m), kMaxGridY));
  BP_LAUNCH(gather_normalise_kernel, grid, kThreads, 0, stream)(pixels, labels, dim, idx, m, x, labels_out, e);
  return cudaGetLastError();
}

cudaError_t bias_sigmoid(int n, int m, const float* b, float* a, cudaStream_t stream) {
  const size_t total = size_t(n) * m;
  BP_LAUNCH(bias_sigmoid_kernel, elementwise_blocks(total), kThreads, 0, stream)(n, total, b, a);
  return cudaGetLastError();
}

cudaError_t bias_softmax(int n, int m, const float* b, float* a, cudaStream_t stream) {
  if (m <= 0) return cudaSuccess;
  BP_LAUNCH(bias_softmax_kernel, ceil_div(size_t(m), kThreads), kThreads, 0, stream)(n, m, b, a);
  return cudaGetLastError();
}

cudaError_t output_delta(Cost cost, int n, int m, const float* a, const uint8_t* labels, float* d, double* cost_sum,
                         cudaStream_t stream) {
  const size_t total = size_t(n) * m;
  BP_LAUNCH(output_delta_kernel, elementwise_blocks(total), kThreads, 0, stream)(cost, n, total, a, labels, d, cost_sum);
  return cudaGetLastError();
}

cudaError_t hidden_delta(int n, int m, const float* a, float* d, cudaStream_t stream) {
  const size_t total = size_t(n) * m;
  BP_LAUNCH(hidden_delta_kernel, elementwise_blocks(total), kThreads, 0, stream)(total, a, d);
  return cudaGetLastError();
}

cudaError_t add_row_sums(int n, int m, float alpha, const float* d, float beta, float* c, cudaStream_t stream) {
  BP_LAUNCH(add_row_sums_kernel, ceil_div(size_t(n), kThreads), kThreads, 0, stream)(n, m, alpha, d, beta, c);
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

cudaError_t count_predictions(int n, int m, const float* a, const uint8_t* labels, unsigned long long* counts,
                              cudaStream_t stream) {
  if (m <= 0) return cudaSuccess;
  BP_LAUNCH(count_predictions_kernel, ceil_div(size_t(m), kThreads), kThreads, 0, stream)(n, m, a, labels, counts);
  return cudaGetLastError();
}

cudaError_t check_kernel_image() {
  cudaFuncAttributes attributes;
  return cudaFuncGetAttributes(&attributes, gather_normalise_kernel);
}

}  // namespace bp::kernels
