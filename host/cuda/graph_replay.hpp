// One captured CUDA graph, replayed while everything it baked in is unchanged (tiny-cuda-nn's
// CudaGraph::capture_and_execute): launch overhead dominates a step at mini-batch 10, and a graph
// of many steps costs one launch. `Key` names what the recorded launches bake in (every device
// buffer they read or write and every host scalar of their launches); any change means capturing
// again. Values read from device memory when the graph runs (the step's per-network scalars) are
// not part of the key.
#pragma once

#include <functional>
#include <iostream>

#include "cuda/cuda_check.hpp"
#include "cuda/device_buffer.hpp"

namespace bp {

template <class Key>
class GraphReplay {
 public:
  explicit GraphReplay(bool enabled = true) : enabled_(enabled) {}

  // False once a capture has failed (or when made disabled): the caller runs its work eagerly.
  bool enabled() const { return enabled_; }
  // Whether the graph held was captured for `key`.
  bool holds(const Key& key) const { return exec_.ready() && key_ == key; }
  // Forgets the graph (it points into buffers about to be freed).
  void reset() {
    exec_.reset();
    key_ = Key{};
  }

  // Launches the graph of `record` for `key` on `stream`, capturing `record` first unless the
  // graph held is that one. Returns false, having launched nothing, when graphs are off: if the
  // capture or instantiation fails it says so once on stderr and turns graphs off for good, so
  // the run goes on with eager launches. `record` must not allocate, synchronise or copy from
  // pageable host memory (none of which a capture allows).
  bool launch(cudaStream_t stream, const Key& key, const std::function<void()>& record) {
    if (!enabled_) return false;
    if (!holds(key)) {
      try {
        capture(stream, record);
        key_ = key;
      } catch (const CudaError& e) {
        (void)cudaGetLastError();  // capture errors are not sticky; clear the last-error slot
        enabled_ = false;
        std::cerr << "notice: CUDA graph capture failed (" << e.what() << "); continuing with eager steps\n";
        return false;
      }
    }
    exec_.launch(stream);
    return true;
  }

 private:
  // The old graph goes first: an executable is not destroyed while its stream captures.
  void capture(cudaStream_t stream, const std::function<void()>& record) {
    reset();
    BP_CUDA_CHECK(cudaStreamSynchronize(stream));
    BP_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      record();
    } catch (...) {
      cudaGraph_t partial = nullptr;
      (void)cudaStreamEndCapture(stream, &partial);
      if (partial) (void)cudaGraphDestroy(partial);
      throw;
    }
    exec_.end_capture(stream);
  }

  GraphExec exec_;
  Key key_{};
  bool enabled_;
};

}  // namespace bp
