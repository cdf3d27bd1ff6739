// The emulated device: its errors, its memory registry, and the scheduler that runs the work
// queued on streams. Work runs only when the host waits for it (a synchronisation, a copy to
// pageable memory, a free), as late as CUDA allows; then the scheduler picks the next ready
// stream at random (seeded: BACKPROP_CUDA_EMU_SEED), so that work on two streams interleaves in
// any order their events allow and a missing wait shows up as wrong numbers.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "internal.hpp"

namespace bp::emu {
namespace {

thread_local cudaError_t last_error = cudaSuccess;

size_t env_size(const char* name, size_t fallback) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  return *end ? fallback : size_t(v);
}

bool head_ready(const Stream& s) {
  if (s.queue.empty()) return false;
  const Work& w = s.queue.front().second;
  return w.kind != Work::Kind::wait || w.wait_stream->completed >= w.wait_seq;
}

// Runs the head of s: a wait or record completes; other work runs unless the device has failed.
void run_head(Stream& s) {
  auto [seq, w] = std::move(s.queue.front());
  s.queue.pop_front();
  Device& d = device();
  if (w.kind == Work::Kind::record) {
    if (w.event->stream.get() == &s && w.event->seq == seq) w.event->when = std::chrono::steady_clock::now();
  } else if (w.kind == Work::Kind::run && d.sticky == cudaSuccess) {
    for (const Use& u : w.uses) {
      const Allocation* a = find_allocation(u.p);
      if (!a || a->id != u.allocation) {
        char text[128];
        std::snprintf(text, sizeof text, " (%p, in allocation #%" PRIu64 ")", u.p, u.allocation);
        device_fault(cudaErrorIllegalAddress,
                     w.what + ": " + u.what + text +
                         " was freed after the work was queued or captured; it runs on freed memory");
        break;
      }
    }
    if (d.sticky == cudaSuccess) {
      w.body();
      if (w.is_kernel) ++d.stats.kernels_run;
    }
  }
  s.completed = seq;
}

}  // namespace

Device& device() {
  static Device* d = [] {
    auto* made = new Device;  // never destroyed: destructors of static backends may still call in
    made->streams[nullptr] = std::make_shared<Stream>();
    made->memory_limit = env_size("BACKPROP_CUDA_EMU_MEMORY_MIB", 4096) << 20;
    made->rng.seed(env_size("BACKPROP_CUDA_EMU_SEED", 1));
    return made;
  }();
  return *d;
}

cudaError_t record_error(cudaError_t e) {
  if (e != cudaSuccess) last_error = e;
  return e;
}

cudaError_t take_last_error(bool clear) {
  const cudaError_t sticky = device().sticky;
  if (sticky != cudaSuccess) return sticky;
  const cudaError_t e = last_error;
  if (clear) last_error = cudaSuccess;
  return e;
}

void device_fault(cudaError_t e, const std::string& message) {
  Device& d = device();
  std::cerr << "CUDA emulation: device fault (" << cudaGetErrorName(e) << "): " << message << "\n";
  if (d.sticky == cudaSuccess) d.sticky = e;
  last_error = e;
}

cudaError_t misuse(cudaError_t e, const std::string& message) {
  std::cerr << "CUDA emulation: " << cudaGetErrorName(e) << ": " << message << "\n";
  return record_error(e);
}

const Allocation* find_allocation(const void* p) {
  Device& d = device();
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = d.allocations.upper_bound(a);
  if (it == d.allocations.begin()) return nullptr;
  --it;
  // One past the end belongs to the allocation too: an empty range at its end is valid.
  return a <= it->second.base + it->second.size ? &it->second : nullptr;
}

const Allocation* device_range(const void* p, size_t bytes) {
  const Allocation* a = find_allocation(p);
  if (!a || a->kind != MemoryKind::device) return nullptr;
  return reinterpret_cast<uintptr_t>(p) + bytes <= a->base + a->size ? a : nullptr;
}

bool is_device_pointer(const void* p) {
  const Allocation* a = find_allocation(p);
  return a && a->kind == MemoryKind::device;
}

std::shared_ptr<Stream> stream_of(cudaStream_t s) {
  Device& d = device();
  auto it = d.streams.find(s);
  return it == d.streams.end() ? nullptr : it->second;
}

uint64_t enqueue(Stream& s, Work w) {
  if (s.capture) {
    s.capture->nodes.push_back(std::move(w));
    return 0;
  }
  const uint64_t seq = s.next_seq++;
  s.queue.emplace_back(seq, std::move(w));
  return seq;
}

void run_until(const std::function<bool()>& done) {
  Device& d = device();
  std::vector<Stream*> ready;
  while (!done()) {
    ready.clear();
    for (auto& [handle, s] : d.streams)
      if (head_ready(*s)) ready.push_back(s.get());
    std::erase_if(d.retired, [](const std::shared_ptr<Stream>& s) { return s->queue.empty(); });
    for (const std::shared_ptr<Stream>& s : d.retired)
      if (head_ready(*s)) ready.push_back(s.get());
    if (ready.empty()) {
      device_fault(cudaErrorLaunchFailure,
                   "the host waits for work that can never run (a wait on an event whose record never runs)");
      return;
    }
    run_head(*ready[d.rng() % ready.size()]);
  }
}

void run_stream(Stream& s) {
  const uint64_t target = s.next_seq - 1;
  run_until([&] { return s.completed >= target; });
}

void run_all() {
  Device& d = device();
  run_until([&] {
    for (auto& [handle, s] : d.streams)
      if (!s->queue.empty()) return false;
    for (const std::shared_ptr<Stream>& s : d.retired)
      if (!s->queue.empty()) return false;
    return true;
  });
}

cudaError_t capture_forbids(const char* call) {
  Device& d = device();
  cudaError_t result = cudaSuccess;
  for (auto& [handle, s] : d.streams) {
    if (!s->capture || s->capture_mode == cudaStreamCaptureModeRelaxed) continue;
    if (s->capture_mode == cudaStreamCaptureModeThreadLocal && s->capture_thread != std::this_thread::get_id())
      continue;
    s->capture_invalid = true;
    result = misuse(cudaErrorStreamCaptureUnsupported,
                    std::string(call) +
                        " while a stream is being captured (CUDA Runtime API, cudaStreamBeginCapture: "
                        "potentially unsafe API calls are prohibited); the capture is invalidated");
  }
  return result;
}

void invalidate_capture(Stream& s) {
  if (s.capture) s.capture_invalid = true;
}

void submit_kernel(const char* name, const void* func, dim3 grid, dim3 block, size_t dynamic_shared,
                   cudaStream_t stream, std::vector<PointerArgument> pointers, std::function<void()> body) {
  Device& d = device();
  std::lock_guard guard(d.lock);
  if (d.sticky != cudaSuccess) return void(record_error(d.sticky));
  const std::shared_ptr<Stream> s = stream_of(stream);
  if (!s)
    return void(
        misuse(cudaErrorInvalidResourceHandle, std::string("kernel ") + name + " launched on an unknown stream"));
  // Execution configuration limits of compute capability 9.0 (CUDA C++ Programming Guide,
  // "Technical Specifications per Compute Capability"); a bad one fails the launch, not the device.
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  std::string bad;
  if (threads == 0 || grid.x == 0 || grid.y == 0 || grid.z == 0)
    bad = "a zero grid or block dimension";
  else if (threads > 1024)
    bad = std::to_string(threads) + " threads per block (at most 1,024)";
  else if (block.x > 1024 || block.y > 1024 || block.z > 64)
    bad = "a block dimension over its limit (1024, 1024, 64)";
  else if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535)
    bad = "a grid dimension over its limit (2^31-1, 65535, 65535)";
  if (!bad.empty()) {
    invalidate_capture(*s);
    return void(misuse(cudaErrorInvalidConfiguration, std::string("kernel ") + name + " launched with " + bad));
  }
  auto optin = d.dynamic_shared_optin.find(func);
  const size_t limit = optin == d.dynamic_shared_optin.end() ? 48 * 1024 : size_t(optin->second);
  if (dynamic_shared > limit) {
    invalidate_capture(*s);
    return void(misuse(cudaErrorInvalidValue, std::string("kernel ") + name + " launched with " +
                                                  std::to_string(dynamic_shared) +
                                                  " bytes of dynamic shared memory, over the " + std::to_string(limit) +
                                                  " its attributes allow (cudaFuncSetAttribute opts in above 48 KiB)"));
  }
  Work w;
  w.what = std::string("kernel ") + name;
  w.is_kernel = true;
  for (const PointerArgument& p : pointers) {
    const Allocation* a = find_allocation(p.p);
    if (!a) {
      char text[160];
      std::snprintf(text, sizeof text, "kernel %s: argument %d (%p) is not device memory (host memory, or freed)", name,
                    p.index, p.p);
      invalidate_capture(*s);
      return device_fault(cudaErrorIllegalAddress, text);
    }
    w.uses.push_back({p.p, a->id, "argument " + std::to_string(p.index)});
  }
  const std::string kernel = name;
  w.body = [kernel, grid, block, dynamic_shared, body = std::move(body)] {
    run_grid(kernel.c_str(), grid, block, dynamic_shared, body);
  };
  enqueue(*s, std::move(w));
}

Stats stats() {
  Device& d = device();
  std::lock_guard guard(d.lock);
  Stats s = d.stats;
  s.device_bytes = d.device_bytes;
  return s;
}

void set_device_memory(size_t bytes) {
  Device& d = device();
  std::lock_guard guard(d.lock);
  d.memory_limit = bytes;
}

}  // namespace bp::emu
