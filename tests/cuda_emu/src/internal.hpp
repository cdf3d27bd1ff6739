// The emulated device's state, shared by the runtime calls (runtime.cpp), the scheduler
// (device.cpp), the block runner (blocks.cpp) and cuBLAS (cublas.cpp). One device; every call
// takes the device lock, so host threads may call in as they may on CUDA.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backprop_emu/control.hpp"
#include "backprop_emu/device.hpp"
#include "cuda_runtime_api.h"

#if defined(__SANITIZE_ADDRESS__)
#define BP_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BP_EMU_ASAN 1
#endif
#endif

namespace bp::emu {

// ---- memory ----
enum class MemoryKind { device, pinned };

struct Allocation {
  uintptr_t base = 0;
  size_t size = 0;
  MemoryKind kind = MemoryKind::device;
  uint64_t id = 0;
};

// A device allocation a piece of work touches: checked to be still allocated when the work runs.
struct Use {
  const void* p;
  uint64_t allocation;
  std::string what;  // "argument 3", "C", ...
};

// ---- work queued on streams ----
struct Stream;

struct Work {
  enum class Kind { run, record, wait } kind = Kind::run;
  std::string what;  // the kernel's or call's name, for messages
  std::function<void()> body;
  std::vector<Use> uses;
  bool is_kernel = false;
  // record: the event's state; wait: the stream and position waited for
  std::shared_ptr<struct EventState> event;
  std::shared_ptr<Stream> wait_stream;
  uint64_t wait_seq = 0;
};

struct Graph {
  std::vector<Work> nodes;
};

struct Stream {
  std::deque<std::pair<uint64_t, Work>> queue;
  uint64_t next_seq = 1, completed = 0;  // work numbered from 1; all up to `completed` has run
  // Capture in progress: nodes go to `capture` instead of the queue.
  std::unique_ptr<Graph> capture;
  bool capture_invalid = false;
  cudaStreamCaptureMode capture_mode = cudaStreamCaptureModeGlobal;
  std::thread::id capture_thread;
};

struct EventState {
  bool timing = true;
  std::shared_ptr<Stream> stream;  // where the latest record was queued (null: never recorded)
  uint64_t seq = 0;
  std::chrono::steady_clock::time_point when;
};

struct Device {
  std::recursive_mutex lock;
  cudaError_t sticky = cudaSuccess;             // a failure on the device: every later call returns it
  std::map<uintptr_t, Allocation> allocations;  // by base address
  uint64_t next_allocation = 1;
  size_t device_bytes = 0, memory_limit = 0;
  std::map<const void*, std::shared_ptr<Stream>> streams;  // by handle; the null stream at nullptr
  std::vector<std::shared_ptr<Stream>> retired;            // destroyed streams whose work has still to run
  std::set<const void*> graphs, execs;                     // live cudaGraph_t and cudaGraphExec_t handles
  std::map<const void*, std::shared_ptr<EventState>> events;
  std::map<const void*, int> dynamic_shared_optin;  // per kernel, bytes (cudaFuncSetAttribute)
  std::mt19937_64 rng;
  Stats stats;
};

Device& device();  // created, with its null stream, on first use

// ---- errors ----
// The calling host thread's last error (cudaGetLastError), and the device's sticky error.
cudaError_t record_error(cudaError_t e);
// cudaGetLastError (clear) and cudaPeekAtLastError: the sticky error first.
cudaError_t take_last_error(bool clear);
// A fault on the device: says what happened on stderr and makes `e` sticky.
void device_fault(cudaError_t e, const std::string& message);
// A misuse that fails the call: says what on stderr, records and returns e.
cudaError_t misuse(cudaError_t e, const std::string& message);

// ---- memory ----
const Allocation* find_allocation(const void* p);  // the allocation holding p, if any
// The device allocation holding [p, p + bytes), or null.
const Allocation* device_range(const void* p, size_t bytes);
bool is_device_pointer(const void* p);

// ---- streams ----
std::shared_ptr<Stream> stream_of(cudaStream_t s);  // null for an unknown handle
// Queues w on s (or adds it to s's capture). Returns w's sequence number (0 when captured).
uint64_t enqueue(Stream& s, Work w);
// Runs queued work, choosing among the ready streams at random, until done() holds.
void run_until(const std::function<bool()>& done);
void run_stream(Stream& s);  // until everything queued on s has run
void run_all();
// A call the CUDA docs call unsafe during a capture on this thread (allocation, synchronisation):
// returns cudaErrorStreamCaptureUnsupported and invalidates the capture, or cudaSuccess.
cudaError_t capture_forbids(const char* call);
void invalidate_capture(Stream& s);  // after a failed enqueue: a capture on s cannot end in a graph

// ---- kernels ----
void run_grid(const char* name, dim3 grid, dim3 block, size_t dynamic_shared, const std::function<void()>& body);

}  // namespace bp::emu
