// RAII owners of every device resource the CUDA backend uses: device and pinned buffers, streams,
// events, the cuBLAS handle and instantiated graphs. Move-only; destructors never throw (a
// failing free at teardown has nothing better to do than be ignored), but they clear the error it
// leaves in the runtime's last-error slot (released_quietly), so that a later, unrelated launch's
// cudaGetLastError() does not report it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>

#include "cuda/cuda_check.hpp"

namespace bp {

// For destructors: a failed release is ignored, and its error taken out of the runtime's
// last-error slot (a sticky error, from a lost device, stays whatever is done here).
inline void released_quietly(cudaError_t status) {
  if (status != cudaSuccess) (void)cudaGetLastError();
}

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) : n_(n) {
    if (n > 0) BP_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p_), n * sizeof(T)));
  }
  ~DeviceBuffer() {
    if (p_) released_quietly(cudaFree(p_));
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  T* data() const { return p_; }
  size_t size() const { return n_; }

  // The first n elements from or to host memory, queued on stream s (the caller synchronises).
  void upload(const T* src, size_t n, cudaStream_t s) {
    BP_CUDA_CHECK(cudaMemcpyAsync(p_, src, n * sizeof(T), cudaMemcpyHostToDevice, s));
  }
  void download(T* dst, size_t n, cudaStream_t s) const {
    BP_CUDA_CHECK(cudaMemcpyAsync(dst, p_, n * sizeof(T), cudaMemcpyDeviceToHost, s));
  }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

template <class T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t n) : n_(n) {
    if (n > 0) BP_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&p_), n * sizeof(T)));
  }
  ~PinnedBuffer() {
    if (p_) released_quietly(cudaFreeHost(p_));
  }
  PinnedBuffer(PinnedBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  T* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

class Stream {
 public:
  Stream() { BP_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() { released_quietly(cudaStreamDestroy(s_)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }
  void synchronize() const { BP_CUDA_CHECK(cudaStreamSynchronize(s_)); }

 private:
  cudaStream_t s_ = nullptr;
};

class Event {
 public:
  // Timing events cost more to record; only the benchmarks ask for them.
  explicit Event(bool timing = false) {
    BP_CUDA_CHECK(cudaEventCreateWithFlags(&e_, timing ? cudaEventDefault : cudaEventDisableTiming));
  }
  ~Event() { released_quietly(cudaEventDestroy(e_)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }
  void record(cudaStream_t s) { BP_CUDA_CHECK(cudaEventRecord(e_, s)); }
  void synchronize() const { BP_CUDA_CHECK(cudaEventSynchronize(e_)); }
  void wait_on(cudaStream_t s) const { BP_CUDA_CHECK(cudaStreamWaitEvent(s, e_, 0)); }
  // Milliseconds from `start` to this event (both made with timing, both recorded); waits for this.
  float elapsed_ms_since(const Event& start) const {
    synchronize();
    float ms = 0;
    BP_CUDA_CHECK(cudaEventElapsedTime(&ms, start.e_, e_));
    return ms;
  }

 private:
  cudaEvent_t e_ = nullptr;
};

class CublasHandle {
 public:
  CublasHandle() { BP_CUBLAS_CHECK(cublasCreate(&h_)); }
  // cublasDestroy frees through the runtime, which may leave its last error set on a failure.
  ~CublasHandle() {
    if (cublasDestroy(h_) != CUBLAS_STATUS_SUCCESS) (void)cudaGetLastError();
  }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

// An instantiated CUDA graph, made from a stream capture.
class GraphExec {
 public:
  GraphExec() = default;
  ~GraphExec() { reset(); }
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  void reset() {
    if (exec_) released_quietly(cudaGraphExecDestroy(exec_));
    exec_ = nullptr;
  }
  bool ready() const { return exec_ != nullptr; }
  // Ends the capture on `s` and instantiates what it recorded. Call reset() before the capture
  // begins: an executable is not destroyed while its stream captures.
  void end_capture(cudaStream_t s) {
    reset();
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(s, &graph);
    if (ended != cudaSuccess && graph) cudaGraphDestroy(graph);
    BP_CUDA_CHECK(ended);
    const cudaError_t status = cudaGraphInstantiate(&exec_, graph, 0);
    released_quietly(cudaGraphDestroy(graph));  // the executable keeps what it needs
    if (status != cudaSuccess) exec_ = nullptr;
    BP_CUDA_CHECK(status);
  }
  void launch(cudaStream_t s) const { BP_CUDA_CHECK(cudaGraphLaunch(exec_, s)); }

 private:
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace bp
