// The emulated device itself (tests/cuda_emu, emulation build only): each check the hardware or
// the CUDA documentation makes, and that the GPU tests lean on, shown to fire. A device fault is
// sticky, as on CUDA, so those run in a child process (a death test) and report from there.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "backprop_emu/control.hpp"
#include "cuda/cuda_check.hpp"
#include "cuda/device_buffer.hpp"
#include "helpers.hpp"
#include "kernels/launch.cuh"
#include "kernels/vector_reads.cuh"

namespace bp {
namespace {

__global__ void fill_kernel(float* out, int n, float value) {
  const int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i] = value;
}

// Threads below `early` return before the barrier the others wait at.
__global__ void divergent_barrier_kernel(float* out, unsigned early) {
  if (threadIdx.x < early) return;
  __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void big_shared_kernel(float* out) {
  BP_SHARED(float, big, 13 * 1024);  // 52 KiB: over the 48 KiB of static shared memory a block may have
  big[threadIdx.x] = 1.0f;
  out[threadIdx.x] = big[threadIdx.x];
}

// Each thread reads its float of the block's dynamic shared memory before writing it: the poison
// (NaN) in every block, never the value the block before left.
__global__ void dynamic_shared_kernel(float* out, int floats) {
  BP_DYNAMIC_SHARED(float, d);
  const int t = int(threadIdx.x);
  out[blockIdx.x * blockDim.x + t] = d[floats - 1 - t];
  d[floats - 1 - t] = float(blockIdx.x);
}

// Reads 4 floats of dynamic shared memory as a float4 from `offset` floats in.
__global__ void float4_read_kernel(float* out, int offset) {
  BP_DYNAMIC_SHARED(float, d);
  for (int i = 0; i < 8; ++i) d[i] = float(i);
  float v[4];
  kernels::load_floats(d + offset, v);
  out[0] = v[0] + v[1] + v[2] + v[3];
}

// out[0] = in[0] + 1, one thread.
__global__ void add_one_kernel(const float* in, float* out) { out[0] = in[0] + 1.0f; }

std::vector<float> download(const DeviceBuffer<float>& d, const Stream& s) {
  std::vector<float> host(d.size());
  d.download(host.data(), host.size(), s.get());
  s.synchronize();
  return host;
}

// Runs f in a child and exits 0 there; the child's stderr (the emulation's message, and what f
// printed) is matched against `expected`.
#define EXPECT_FAULT(f, expected) \
  EXPECT_EXIT((f(), std::fflush(stderr), std::exit(0)), ::testing::ExitedWithCode(0), expected)

TEST(CudaEmulation, FreshDeviceMemoryIsPoisoned) {
  Stream s;
  DeviceBuffer<float> d(5);
  for (float x : download(d, s)) EXPECT_TRUE(std::isnan(x));
}

TEST(CudaEmulation, ABlockOfMoreThan1024ThreadsIsALaunchError) {
  Stream s;
  DeviceBuffer<float> d(2048);
  BP_LAUNCH(fill_kernel, 1, 1025, 0, s.get())(d.data(), 2048, 1.0f);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  BP_LAUNCH(fill_kernel, dim3(1, 65536), 32, 0, s.get())(d.data(), 2048, 1.0f);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);       // grid y at most 65,535
  BP_LAUNCH(fill_kernel, 2, 1024, 0, s.get())(d.data(), 2048, 2.0f);  // not sticky: the next launch runs
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_EQ(download(d, s), std::vector<float>(2048, 2.0f));
}

// Whichever thread a block starts with: one that waits at the barrier (fibers from the start) or
// one that returns (the others then run as plain calls). With 5 of 64 returning early, 40 blocks
// take both paths; with 63, the one block starts with a returning thread (the emulation's seeded
// order; a direct path that reported nothing fails this case).
TEST(CudaEmulation, ABarrierNotEveryThreadReachesIsADeviceFault) {
  for (const unsigned early : {5u, 63u}) {
    const auto run = [early] {
      const unsigned blocks = early == 63 ? 1 : 40;
      Stream s;
      DeviceBuffer<float> d(64);
      BP_LAUNCH(divergent_barrier_kernel, blocks, 64, 0, s.get())(d.data(), early);
      std::fprintf(stderr, "sync: %s\n", cudaGetErrorName(cudaStreamSynchronize(s.get())));
    };
    EXPECT_FAULT(run, "reached by " + std::to_string(64 - early) + " of 64 threads(.|\n)*sync: cudaErrorLaunchFailure")
        << early << " threads return early";
  }
}

TEST(CudaEmulation, StaticSharedMemoryOver48KiBIsADeviceFault) {
  const auto run = [] {
    Stream s;
    DeviceBuffer<float> d(32);
    BP_LAUNCH(big_shared_kernel, 1, 32, 0, s.get())(d.data());
    std::fprintf(stderr, "sync: %s\n", cudaGetErrorName(cudaStreamSynchronize(s.get())));
  };
  EXPECT_FAULT(run, "over the 48 KiB(.|\n)*sync: cudaErrorLaunchOutOfResources");
}

// Above 48 KiB only after cudaFuncSetAttribute (CUDA C++ Programming Guide, "Shared Memory":
// dynamic allocations above 48 KB need an explicit opt-in), and fresh in every block.
TEST(CudaEmulation, DynamicSharedMemoryNeedsItsOptInAndStartsPoisonedInEveryBlock) {
  Stream s;
  const int floats = 16 * 1024;  // 64 KiB
  DeviceBuffer<float> d(3 * 32);
  BP_CUDA_CHECK(cudaFuncSetAttribute(dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 0));
  BP_LAUNCH(dynamic_shared_kernel, 3, 32, floats * sizeof(float), s.get())(d.data(), floats);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  BP_CUDA_CHECK(
      cudaFuncSetAttribute(dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, floats * sizeof(float)));
  BP_LAUNCH(dynamic_shared_kernel, 3, 32, floats * sizeof(float), s.get())(d.data(), floats);
  ASSERT_EQ(cudaGetLastError(), cudaSuccess);
  for (float v : download(d, s)) EXPECT_TRUE(std::isnan(v)) << v;
}

// A float4 read must be 16-byte aligned, as on the hardware (cudaErrorMisalignedAddress).
TEST(CudaEmulation, AMisalignedVectorReadIsADeviceFault) {
  {
    Stream s;
    DeviceBuffer<float> d(1);
    BP_LAUNCH(float4_read_kernel, 1, 1, 8 * sizeof(float), s.get())(d.data(), 4);
    s.synchronize();
    EXPECT_EQ(download(d, s), std::vector<float>{4 + 5 + 6 + 7});
  }
  const auto run = [] {
    Stream s;
    DeviceBuffer<float> d(1);
    BP_LAUNCH(float4_read_kernel, 1, 1, 8 * sizeof(float), s.get())(d.data(), 2);
    std::fprintf(stderr, "sync: %s\n", cudaGetErrorName(cudaStreamSynchronize(s.get())));
  };
  EXPECT_FAULT(run, "a float4 read at .*, not 16-byte aligned(.|\n)*sync: cudaErrorMisalignedAddress");
}

TEST(CudaEmulation, AHostPointerAsAKernelArgumentIsADeviceFault) {
  const auto run = [] {
    Stream s;
    std::vector<float> host(4);
    BP_LAUNCH(fill_kernel, 1, 4, 0, s.get())(host.data(), 4, 1.0f);
    std::fprintf(stderr, "sync: %s\n", cudaGetErrorName(cudaStreamSynchronize(s.get())));
  };
  EXPECT_FAULT(run, "argument 0 .* is not device memory(.|\n)*sync: cudaErrorIllegalAddress");
}

TEST(CudaEmulation, ACopyMustSayWhereItsMemoryIs) {
  Stream s;
  DeviceBuffer<float> a(4), b(4);
  std::vector<float> host(4, 1.0f);
  EXPECT_EQ(cudaMemcpyAsync(a.data(), b.data(), 16, cudaMemcpyHostToDevice, s.get()), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpyAsync(host.data(), a.data(), 16, cudaMemcpyHostToDevice, s.get()), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpyAsync(a.data(), host.data(), 20, cudaMemcpyHostToDevice, s.get()),
            cudaErrorInvalidValue);  // past the end
  EXPECT_EQ(cudaMemcpyAsync(a.data(), host.data(), 16, cudaMemcpyHostToDevice, s.get()), cudaSuccess);
  (void)cudaGetLastError();
  EXPECT_EQ(download(a, s), host);
}

// Work on two streams runs in any order their events allow: without the wait, a read on stream 2
// of what stream 1 writes sees the old value in some of the seeded interleavings; with it, never.
TEST(CudaEmulation, AMissingEventWaitShowsAsWrongNumbers) {
  Stream one, two;
  Event written;
  DeviceBuffer<float> in(1), out(1);
  int stale[2] = {0, 0};
  for (int wait = 0; wait < 2; ++wait) {
    for (int trial = 0; trial < 32; ++trial) {
      BP_CUDA_CHECK(cudaMemsetAsync(in.data(), 0, sizeof(float), one.get()));
      one.synchronize();
      BP_LAUNCH(fill_kernel, 1, 1, 0, one.get())(in.data(), 1, 41.0f);
      written.record(one.get());
      if (wait) written.wait_on(two.get());
      BP_LAUNCH(add_one_kernel, 1, 1, 0, two.get())(in.data(), out.data());
      if (download(out, two)[0] != 42.0f) ++stale[wait];
    }
  }
  EXPECT_GT(stale[0], 0) << "the scheduler never ran stream 2 before stream 1";
  EXPECT_EQ(stale[1], 0);
}

TEST(CudaEmulation, AllocationOrSynchronisationInsideACaptureFailsIt) {
  Stream s;
  for (int sync = 0; sync < 2; ++sync) {
    BP_CUDA_CHECK(cudaStreamBeginCapture(s.get(), cudaStreamCaptureModeThreadLocal));
    void* p = nullptr;
    EXPECT_EQ(sync ? cudaStreamSynchronize(s.get()) : cudaMalloc(&p, 64), cudaErrorStreamCaptureUnsupported);
    cudaGraph_t graph = nullptr;
    EXPECT_EQ(cudaStreamEndCapture(s.get(), &graph), cudaErrorStreamCaptureInvalidated);
    EXPECT_EQ(graph, nullptr);
    (void)cudaGetLastError();
  }
}

// A replay runs the captured arguments on memory as it is at replay time.
TEST(CudaEmulation, AGraphReplaysItsArgumentsOnTodaysMemory) {
  Stream s;
  DeviceBuffer<float> in(1), out(1);
  BP_CUDA_CHECK(cudaMemsetAsync(in.data(), 0, sizeof(float), s.get()));
  s.synchronize();
  GraphExec graph;
  BP_CUDA_CHECK(cudaStreamBeginCapture(s.get(), cudaStreamCaptureModeThreadLocal));
  BP_LAUNCH(add_one_kernel, 1, 1, 0, s.get())(in.data(), out.data());
  graph.end_capture(s.get());
  EXPECT_TRUE(std::isnan(download(out, s)[0])) << "the capture ran its work";
  const std::vector<float> seven = {7.0f};
  in.upload(seven.data(), 1, s.get());
  const uint64_t before = emu::stats().graph_launches;
  graph.launch(s.get());
  EXPECT_EQ(download(out, s)[0], 8.0f);
  EXPECT_EQ(emu::stats().graph_launches - before, 1u);
}

TEST(CudaEmulation, GemmChecksItsArgumentsAndNeverReadsCWhenBetaIsZero) {
  Stream s;
  CublasHandle blas;
  BP_CUBLAS_CHECK(cublasSetStream(blas.get(), s.get()));
  const std::vector<float> a = {1, 2, 3, 4, 5, 6}, b = {1, 1, 1};  // A 2x3 column-major, B 3x1
  DeviceBuffer<float> A(6), B(3), C(2);
  A.upload(a.data(), 6, s.get());
  B.upload(b.data(), 3, s.get());
  const float one = 1, zero = 0;
  EXPECT_EQ(
      cublasSgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 3, &one, A.data(), 1, B.data(), 3, &zero, C.data(), 2),
      CUBLAS_STATUS_INVALID_VALUE);  // lda below the rows of A
  EXPECT_EQ(
      cublasSgemm(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, 2, 1, 3, &one, A.data(), 2, B.data(), 3, &zero, C.data(), 2),
      CUBLAS_STATUS_INVALID_VALUE);  // op(A) = A^T is 2x3 only if A is 3x2: lda >= 3
  // C starts as NaN (fresh memory): beta 0 must not read it.
  BP_CUBLAS_CHECK(
      cublasSgemm(blas.get(), CUBLAS_OP_N, CUBLAS_OP_N, 2, 1, 3, &one, A.data(), 2, B.data(), 3, &zero, C.data(), 2));
  EXPECT_EQ(download(C, s), (std::vector<float>{9, 12}));
}

TEST(CudaEmulation, TheDeviceHasTheMemoryItIsGiven) {
  size_t free_bytes = 0, total = 0, configured = 0;
  BP_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &configured));
  emu::set_device_memory(size_t(64) << 20);
  BP_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  EXPECT_EQ(total, size_t(64) << 20);
  EXPECT_LE(free_bytes, total);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, size_t(65) << 20), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  EXPECT_THROW(DeviceBuffer<float>(size_t(17) << 20), CudaError);  // 68 MiB
  (void)cudaGetLastError();
  emu::set_device_memory(configured);
}

// The emulated device says what it is, is never timed, and --device auto never takes it.
TEST(CudaEmulation, IsNamedNeverTimedAndNeverChosenByAuto) {
  const test::RunResult info = test::run_backprop("info");
  EXPECT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("GPU 0: CUDA emulation (test build)"), std::string::npos) << info.output;
  const test::RunResult bench = test::run_backprop("bench --quick --backends cuda");
  EXPECT_NE(bench.exit_code, 0) << bench.output;
  EXPECT_NE(bench.output.find("CUDA emulation (test build) is not timed"), std::string::npos) << bench.output;
  test::TempDir dir;
  test::write_fake_mnist(dir.path().string(), 200, 50, 28, 28, 10, true);
  const test::RunResult train = test::run_backprop("train --epochs 1 --data " + dir.path().string());
  EXPECT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("notice: --device auto: cpu"), std::string::npos) << train.output;
  EXPECT_NE(train.output.find(", cpu backend,"), std::string::npos) << train.output;
  for (const char* engine : {"cublas", "fused"}) {
    const test::RunResult cuda = test::run_backprop("train --device cuda --engine " + std::string(engine) +
                                                    " --epochs 1 --data " + dir.path().string());
    EXPECT_EQ(cuda.exit_code, 0) << cuda.output;
    EXPECT_NE(cuda.output.find(std::string(engine) == "fused" ? "cuda fused (CUDA emulation: test build) backend"
                                                              : "cuda (CUDA emulation: test build) backend"),
              std::string::npos)
        << cuda.output;
  }
}

}  // namespace
}  // namespace bp
