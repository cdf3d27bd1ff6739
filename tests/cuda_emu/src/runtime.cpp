// The CUDA runtime calls backprop uses, on the emulated device, with the semantics of the CUDA
// Runtime API reference (docs.nvidia.com/cuda/cuda-runtime-api): the module of each group is
// named above it, and "API synchronization behavior" for what a copy waits for.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "internal.hpp"

#if BP_EMU_ASAN
#include <sanitizer/asan_interface.h>
#endif

struct CUgraph_st {
  bp::emu::Graph graph;
};
struct CUgraphExec_st {
  bp::emu::Graph graph;
};

using namespace bp::emu;

namespace {

// Every call takes the device lock and, once the device has failed, returns its sticky error
// ("Error Handling": a sticky error is returned by every later call).
#define BP_EMU_ENTER             \
  Device& d = device();          \
  std::lock_guard guard(d.lock); \
  if (d.sticky != cudaSuccess) return record_error(d.sticky)

constexpr size_t kDeviceAlignment = 256;  // cudaMalloc: "suitably aligned for any kind of variable"
constexpr unsigned char kPoison = 0xFF;   // every float and double of fresh memory reads as NaN

cudaError_t allocate(void** p, size_t bytes, MemoryKind kind, const char* call) {
  BP_EMU_ENTER;
  if (const cudaError_t e = capture_forbids(call)) return e;
  if (!p) return misuse(cudaErrorInvalidValue, std::string(call) + " with a null result pointer");
  *p = nullptr;
  if (bytes == 0) return cudaSuccess;
  if (kind == MemoryKind::device && (bytes > d.memory_limit || d.device_bytes > d.memory_limit - bytes))
    return record_error(cudaErrorMemoryAllocation);
  const size_t rounded = (bytes + kDeviceAlignment - 1) / kDeviceAlignment * kDeviceAlignment;
  void* memory = std::aligned_alloc(kDeviceAlignment, rounded);
  if (!memory) return record_error(cudaErrorMemoryAllocation);
  std::memset(memory, kPoison, rounded);
#if BP_EMU_ASAN
  // Past the size asked for, up to the 256-byte rounding: a kernel reading there is reported.
  __asan_poison_memory_region(static_cast<char*>(memory) + bytes, rounded - bytes);
#endif
  const uintptr_t base = reinterpret_cast<uintptr_t>(memory);
  d.allocations[base] = Allocation{base, bytes, kind, d.next_allocation++};
  if (kind == MemoryKind::device) d.device_bytes += bytes;
  *p = memory;
  return cudaSuccess;
}

cudaError_t release(void* p, MemoryKind kind, const char* call) {
  BP_EMU_ENTER;
  if (!p) return cudaSuccess;  // "If devPtr is 0, no operation is performed."
  if (const cudaError_t e = capture_forbids(call)) return e;
  run_all();  // cudaFree and cudaFreeHost wait for the device's work first
  if (d.sticky != cudaSuccess) return record_error(d.sticky);
  auto it = d.allocations.find(reinterpret_cast<uintptr_t>(p));
  if (it == d.allocations.end() || it->second.kind != kind)
    return misuse(cudaErrorInvalidValue, std::string(call) + " of a pointer it did not allocate");
  if (kind == MemoryKind::device) d.device_bytes -= it->second.size;
  d.allocations.erase(it);
  std::free(p);
  return cudaSuccess;
}

// Where a copy's source and destination are, as `kind` must say (cudaMemcpyDefault infers it).
struct CopyPlan {
  bool ok = false;
  bool src_pageable = false, dst_pageable = false;
  std::vector<Use> uses;
};

CopyPlan plan_copy(void* dst, size_t dst_extent, const void* src, size_t src_extent, cudaMemcpyKind kind,
                   const char* call) {
  CopyPlan plan;
  const bool dst_dev = is_device_pointer(dst), src_dev = is_device_pointer(src);
  if (kind == cudaMemcpyDefault) kind = cudaMemcpyKind((src_dev ? 2 : 0) + (dst_dev ? 1 : 0));
  const bool want_src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  const bool want_dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const auto side = [&](const void* p, size_t extent, bool want_dev, const char* name) -> bool {
    if (want_dev) {
      const Allocation* a = device_range(p, extent);
      if (!a) {
        misuse(cudaErrorInvalidValue, std::string(call) + ": the " + name + " (" + std::to_string(extent) +
                                          " bytes) is not inside one device allocation");
        return false;
      }
      plan.uses.push_back({p, a->id, name});
      return true;
    }
    if (is_device_pointer(p)) {
      misuse(cudaErrorInvalidValue,
             std::string(call) + ": the " + name + " is device memory, but the copy's kind says host");
      return false;
    }
    return true;
  };
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDeviceToDevice) {
    misuse(cudaErrorInvalidMemcpyDirection, std::string(call) + ": no such cudaMemcpyKind");
    return plan;
  }
  if (!side(dst, dst_extent, want_dst_dev, "destination") || !side(src, src_extent, want_src_dev, "source"))
    return plan;
  const Allocation* s = find_allocation(src);
  const Allocation* t = find_allocation(dst);
  plan.src_pageable = !want_src_dev && !(s && s->kind == MemoryKind::pinned);
  plan.dst_pageable = !want_dst_dev && !(t && t->kind == MemoryKind::pinned);
  plan.ok = true;
  return plan;
}

// A copy of `height` rows of `width` bytes, queued on s. Its memory is read and written when it
// runs, pageable or pinned: "API synchronization behavior" promises the Async copies no staging
// of a pageable source before they return, so a caller may not reuse it until the stream has
// reached the copy. To pageable memory the call returns once the copy is done.
cudaError_t copy_rows(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                      cudaMemcpyKind kind, cudaStream_t stream, const char* call) {
  BP_EMU_ENTER;
  const std::shared_ptr<Stream> s = stream_of(stream);
  if (!s) return misuse(cudaErrorInvalidResourceHandle, std::string(call) + " on an unknown stream");
  if (width > dpitch || width > spitch)  // "width must not exceed either dpitch or spitch"
    return misuse(cudaErrorInvalidPitchValue, std::string(call) + ": a row is wider than its pitch");
  if (width == 0 || height == 0) return cudaSuccess;
  const size_t dst_extent = (height - 1) * dpitch + width, src_extent = (height - 1) * spitch + width;
  CopyPlan plan = plan_copy(dst, dst_extent, src, src_extent, kind, call);
  if (!plan.ok) {
    invalidate_capture(*s);
    return cudaErrorInvalidValue;
  }
  if ((plan.src_pageable || plan.dst_pageable) && s->capture) {
    s->capture_invalid = true;
    return misuse(cudaErrorStreamCaptureUnsupported,
                  std::string(call) + " with pageable host memory inside a stream capture; the capture is invalidated");
  }
  Work w;
  w.what = call;
  w.uses = std::move(plan.uses);
  auto* to = static_cast<unsigned char*>(dst);
  const auto* from = static_cast<const unsigned char*>(src);
  w.body = [to, dpitch, from, spitch, width, height] {
    for (size_t r = 0; r < height; ++r) std::memmove(to + r * dpitch, from + r * spitch, width);
  };
  enqueue(*s, std::move(w));
  if (plan.dst_pageable) run_stream(*s);
  return record_error(d.sticky);
}

}  // namespace

// ---- Error Handling ----

cudaError_t cudaGetLastError() {
  std::lock_guard guard(device().lock);
  return take_last_error(true);
}

cudaError_t cudaPeekAtLastError() {
  std::lock_guard guard(device().lock);
  return take_last_error(false);
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
#define BP_EMU_NAME(e) \
  case e: return #e
    BP_EMU_NAME(cudaSuccess);
    BP_EMU_NAME(cudaErrorInvalidValue);
    BP_EMU_NAME(cudaErrorMemoryAllocation);
    BP_EMU_NAME(cudaErrorInitializationError);
    BP_EMU_NAME(cudaErrorInvalidConfiguration);
    BP_EMU_NAME(cudaErrorInvalidPitchValue);
    BP_EMU_NAME(cudaErrorInvalidDevicePointer);
    BP_EMU_NAME(cudaErrorInvalidMemcpyDirection);
    BP_EMU_NAME(cudaErrorDevicesUnavailable);
    BP_EMU_NAME(cudaErrorInvalidDeviceFunction);
    BP_EMU_NAME(cudaErrorNoDevice);
    BP_EMU_NAME(cudaErrorInvalidDevice);
    BP_EMU_NAME(cudaErrorNoKernelImageForDevice);
    BP_EMU_NAME(cudaErrorUnsupportedPtxVersion);
    BP_EMU_NAME(cudaErrorInvalidResourceHandle);
    BP_EMU_NAME(cudaErrorIllegalState);
    BP_EMU_NAME(cudaErrorNotReady);
    BP_EMU_NAME(cudaErrorIllegalAddress);
    BP_EMU_NAME(cudaErrorLaunchOutOfResources);
    BP_EMU_NAME(cudaErrorIllegalInstruction);
    BP_EMU_NAME(cudaErrorMisalignedAddress);
    BP_EMU_NAME(cudaErrorLaunchFailure);
    BP_EMU_NAME(cudaErrorNotSupported);
    BP_EMU_NAME(cudaErrorStreamCaptureUnsupported);
    BP_EMU_NAME(cudaErrorStreamCaptureInvalidated);
    BP_EMU_NAME(cudaErrorStreamCaptureUnmatched);
    BP_EMU_NAME(cudaErrorStreamCaptureWrongThread);
    BP_EMU_NAME(cudaErrorUnknown);
#undef BP_EMU_NAME
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidPitchValue: return "invalid pitch argument";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorMisalignedAddress: return "misaligned address";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureWrongThread:
      return "attempt to terminate a thread-local capture sequence from another thread";
    default: return cudaGetErrorName(error);
  }
}

// ---- Version Management, Device Management ----

cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device_index) {
  BP_EMU_ENTER;
  if (device_index != 0) return record_error(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "CUDA emulation (test build)");
  p->totalGlobalMem = d.memory_limit;
  p->sharedMemPerBlock = 48 * 1024;
  p->sharedMemPerBlockOptin = 227 * 1024;
  p->sharedMemPerMultiprocessor = 228 * 1024;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024, p->maxThreadsDim[1] = 1024, p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647, p->maxGridSize[1] = 65535, p->maxGridSize[2] = 65535;
  p->major = 9, p->minor = 0;  // the limits above are sm_90's
  p->multiProcessorCount = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device_index) {
  BP_EMU_ENTER;
  return device_index == 0 ? cudaSuccess : record_error(cudaErrorInvalidDevice);
}

cudaError_t cudaDeviceSynchronize() {
  BP_EMU_ENTER;
  if (const cudaError_t e = capture_forbids("cudaDeviceSynchronize")) return e;
  run_all();
  return record_error(d.sticky);
}

// ---- Memory Management ----

cudaError_t cudaMalloc(void** p, size_t bytes) { return allocate(p, bytes, MemoryKind::device, "cudaMalloc"); }
cudaError_t cudaMallocHost(void** p, size_t bytes) { return allocate(p, bytes, MemoryKind::pinned, "cudaMallocHost"); }
cudaError_t cudaFree(void* p) { return release(p, MemoryKind::device, "cudaFree"); }
cudaError_t cudaFreeHost(void* p) { return release(p, MemoryKind::pinned, "cudaFreeHost"); }

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  BP_EMU_ENTER;
  *total = d.memory_limit;
  *free_bytes = d.memory_limit > d.device_bytes ? d.memory_limit - d.device_bytes : 0;
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  return copy_rows(dst, bytes, src, bytes, bytes, 1, kind, stream, "cudaMemcpyAsync");
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t stream) {
  return copy_rows(dst, dpitch, src, spitch, width, height, kind, stream, "cudaMemcpy2DAsync");
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream) {
  BP_EMU_ENTER;
  const std::shared_ptr<Stream> s = stream_of(stream);
  if (!s) return misuse(cudaErrorInvalidResourceHandle, "cudaMemsetAsync on an unknown stream");
  if (bytes == 0) return cudaSuccess;
  const Allocation* a = device_range(p, bytes);
  if (!a) {
    invalidate_capture(*s);
    return misuse(cudaErrorInvalidValue,
                  "cudaMemsetAsync: " + std::to_string(bytes) + " bytes not inside one device allocation");
  }
  Work w;
  w.what = "cudaMemsetAsync";
  w.uses.push_back({p, a->id, "destination"});
  w.body = [p, value, bytes] { std::memset(p, value, bytes); };
  enqueue(*s, std::move(w));
  return cudaSuccess;
}

// ---- Stream Management, Event Management ----

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  BP_EMU_ENTER;
  auto s = std::make_shared<Stream>();
  *stream = reinterpret_cast<cudaStream_t>(s.get());
  d.streams[s.get()] = std::move(s);
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  BP_EMU_ENTER;
  const std::shared_ptr<Stream> s = stream ? stream_of(stream) : nullptr;
  if (!s) return misuse(cudaErrorInvalidResourceHandle, "cudaStreamDestroy of an unknown stream");
  // "returns immediately": its queued work still runs, scheduled with the live streams' work.
  if (!s->queue.empty()) d.retired.push_back(s);
  d.streams.erase(stream);
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  BP_EMU_ENTER;
  const std::shared_ptr<Stream> s = stream_of(stream);
  if (!s) return misuse(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize of an unknown stream");
  if (const cudaError_t e = capture_forbids("cudaStreamSynchronize")) return e;
  if (s->capture) {
    s->capture_invalid = true;
    return misuse(cudaErrorStreamCaptureUnsupported, "cudaStreamSynchronize of a stream being captured");
  }
  run_stream(*s);
  return record_error(d.sticky);
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
  BP_EMU_ENTER;
  auto e = std::make_shared<EventState>();
  e->timing = !(flags & cudaEventDisableTiming);
  *event = reinterpret_cast<cudaEvent_t>(e.get());
  d.events[e.get()] = std::move(e);
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  BP_EMU_ENTER;
  if (!d.events.erase(event)) return misuse(cudaErrorInvalidResourceHandle, "cudaEventDestroy of an unknown event");
  return cudaSuccess;  // a record still queued keeps its state alive until it runs
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  BP_EMU_ENTER;
  auto it = d.events.find(event);
  const std::shared_ptr<Stream> s = stream_of(stream);
  if (it == d.events.end() || !s)
    return misuse(cudaErrorInvalidResourceHandle, "cudaEventRecord: unknown event or stream");
  if (s->capture) {
    s->capture_invalid = true;
    return misuse(cudaErrorNotSupported, "cudaEventRecord inside a stream capture is not emulated");
  }
  Work w;
  w.kind = Work::Kind::record;
  w.what = "cudaEventRecord";
  w.event = it->second;
  it->second->seq = enqueue(*s, std::move(w));
  it->second->stream = s;
  return cudaSuccess;
}

// "cudaStreamWaitEvent: makes all future work submitted to stream wait for all work captured in
// event", the event's most recent record at the time of the call; a never-recorded event is no wait.
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned) {
  BP_EMU_ENTER;
  auto it = d.events.find(event);
  const std::shared_ptr<Stream> s = stream_of(stream);
  if (it == d.events.end() || !s)
    return misuse(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: unknown event or stream");
  if (s->capture) {
    s->capture_invalid = true;
    return misuse(cudaErrorNotSupported, "cudaStreamWaitEvent inside a stream capture is not emulated");
  }
  if (!it->second->stream) return cudaSuccess;
  Work w;
  w.kind = Work::Kind::wait;
  w.what = "cudaStreamWaitEvent";
  w.wait_stream = it->second->stream;
  w.wait_seq = it->second->seq;
  enqueue(*s, std::move(w));
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  BP_EMU_ENTER;
  auto it = d.events.find(event);
  if (it == d.events.end()) return misuse(cudaErrorInvalidResourceHandle, "cudaEventSynchronize of an unknown event");
  if (const cudaError_t e = capture_forbids("cudaEventSynchronize")) return e;
  const std::shared_ptr<EventState> e = it->second;
  if (e->stream) run_until([&] { return e->stream->completed >= e->seq; });
  return record_error(d.sticky);
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  BP_EMU_ENTER;
  auto a = d.events.find(start), b = d.events.find(end);
  if (a == d.events.end() || b == d.events.end())
    return misuse(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: unknown event");
  const EventState &x = *a->second, &y = *b->second;
  if (!x.timing || !y.timing || !x.stream || !y.stream) return record_error(cudaErrorInvalidResourceHandle);
  if (x.stream->completed < x.seq || y.stream->completed < y.seq) return record_error(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(y.when - x.when).count();
  return cudaSuccess;
}

// ---- Stream capture (Stream Management) and Graph Management ----

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  BP_EMU_ENTER;
  const std::shared_ptr<Stream> s = stream ? stream_of(stream) : nullptr;
  if (!s) return misuse(cudaErrorStreamCaptureUnsupported, "cudaStreamBeginCapture of the legacy or an unknown stream");
  if (s->capture) return misuse(cudaErrorIllegalState, "cudaStreamBeginCapture of a stream already capturing");
  s->capture = std::make_unique<Graph>();
  s->capture_invalid = false;
  s->capture_mode = mode;
  s->capture_thread = std::this_thread::get_id();
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  BP_EMU_ENTER;
  const std::shared_ptr<Stream> s = stream ? stream_of(stream) : nullptr;
  *graph = nullptr;
  if (!s || !s->capture) return misuse(cudaErrorIllegalState, "cudaStreamEndCapture of a stream not capturing");
  if (s->capture_mode != cudaStreamCaptureModeRelaxed && s->capture_thread != std::this_thread::get_id())
    return misuse(cudaErrorStreamCaptureWrongThread, "cudaStreamEndCapture from another thread");
  std::unique_ptr<Graph> captured = std::move(s->capture);
  if (s->capture_invalid) return record_error(cudaErrorStreamCaptureInvalidated);
  auto* g = new CUgraph_st{std::move(*captured)};
  d.graphs.insert(g);
  *graph = g;
  ++d.stats.graphs_captured;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  BP_EMU_ENTER;
  if (!d.graphs.count(graph)) return misuse(cudaErrorInvalidValue, "cudaGraphInstantiate of an unknown graph");
  auto* e = new CUgraphExec_st{graph->graph};
  d.execs.insert(e);
  *exec = e;
  return cudaSuccess;
}

// The nodes run in stream order after the work queued before, as captured: kernel arguments and
// scalars are those of the capture; memory is read as it is when each node runs.
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  BP_EMU_ENTER;
  const std::shared_ptr<Stream> s = stream_of(stream);
  if (!d.execs.count(exec) || !s)
    return misuse(cudaErrorInvalidResourceHandle, "cudaGraphLaunch: unknown graph or stream");
  if (s->capture) {
    s->capture_invalid = true;
    return misuse(cudaErrorNotSupported, "cudaGraphLaunch inside a stream capture is not emulated");
  }
  Work start;
  start.what = "cudaGraphLaunch";
  start.body = [] { ++device().stats.graph_launches; };
  enqueue(*s, std::move(start));
  for (const Work& node : exec->graph.nodes) enqueue(*s, node);
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  BP_EMU_ENTER;
  if (!d.graphs.erase(graph)) return misuse(cudaErrorInvalidValue, "cudaGraphDestroy of an unknown graph");
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  BP_EMU_ENTER;
  if (!d.execs.erase(exec)) return misuse(cudaErrorInvalidValue, "cudaGraphExecDestroy of an unknown graph");
  delete exec;
  return cudaSuccess;
}

// ---- Execution Control ----

cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, const void* func) {
  BP_EMU_ENTER;
  if (!func) return record_error(cudaErrorInvalidDeviceFunction);
  auto it = d.dynamic_shared_optin.find(func);
  *attributes = cudaFuncAttributes{0, 1024, it == d.dynamic_shared_optin.end() ? 48 * 1024 : it->second};
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attribute, int value) {
  BP_EMU_ENTER;
  if (attribute != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || value > 227 * 1024)
    return misuse(cudaErrorInvalidValue,
                  "cudaFuncSetAttribute: only cudaFuncAttributeMaxDynamicSharedMemorySize, up to sm_90's 227 KiB");
  d.dynamic_shared_optin[func] = value;
  return cudaSuccess;
}
