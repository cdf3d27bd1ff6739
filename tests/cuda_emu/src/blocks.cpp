// Runs a kernel's grid: blocks one after another in a seeded random order, the threads of a block as fibers (Debian's
// Boost.Context, boost::context::fiber) that switch only at __syncthreads. Between barriers the
// threads run in a seeded random order. A thread's stack comes from a pool and goes back when
// the thread returns. When a block's first thread returns without a barrier, the others run as
// plain calls (run_rest_directly).
//
// Under AddressSanitizer every switch is announced (__sanitizer_start_switch_fiber /
// __sanitizer_finish_switch_fiber, sanitizer/common_interface_defs.h), as Boost.Context itself
// does for its ucontext back end, so that ASan follows the stacks.
#include <boost/context/fiber.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "internal.hpp"

#if BP_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace ctx = boost::context;

namespace bp::emu {

namespace {

thread_local const uint3* current_thread = nullptr;
thread_local const GridPosition* current_grid = nullptr;

constexpr size_t kStackBytes = 256 * 1024;  // kernels are shallow; ASan's frames are larger
constexpr size_t kEntryFrames = 16 * 1024;  // the top of a stack: Boost.Context's record and entry frame
constexpr size_t kStaticSharedLimit = 48 * 1024;
constexpr size_t kSharedArena = 256 * 1024;  // room to let a block over the limit run out after its fault
constexpr unsigned char kPoison = 0xFF;

class StackPool {
 public:
  ~StackPool() {
    for (void* s : free_) std::free(s);
  }
  ctx::stack_context allocate() {
    void* base = nullptr;
    if (free_.empty()) {
      base = std::aligned_alloc(64, kStackBytes);
      if (!base) throw std::bad_alloc();
    } else {
      base = free_.back();
      free_.pop_back();
    }
#if BP_EMU_ASAN
    // The one frame a finished thread leaves poisoned is its entry frame, at the top (it jumps
    // out instead of returning); the kernel's frames below it returned. Unpoisoning the whole
    // stack instead took half the sanitizer build's GPU test time.
    __asan_unpoison_memory_region(static_cast<char*>(base) + kStackBytes - kEntryFrames, kEntryFrames);
#endif
    ctx::stack_context sc;
    sc.size = kStackBytes;
    sc.sp = static_cast<char*>(base) + kStackBytes;
    last_bottom_ = base;
    return sc;
  }
  const void* last_bottom() const { return last_bottom_; }
  void deallocate(ctx::stack_context& sc) noexcept { free_.push_back(static_cast<char*>(sc.sp) - sc.size); }

 private:
  std::vector<void*> free_;
  const void* last_bottom_ = nullptr;
};

struct PoolAllocator {
  StackPool* pool;
  ctx::stack_context allocate() { return pool->allocate(); }
  void deallocate(ctx::stack_context& sc) noexcept { pool->deallocate(sc); }
};

// Never destroyed: a static backend's destructor may still run a kernel (cudaFree waits for the
// device) after thread-local objects are gone.
StackPool& stacks() {
  static thread_local StackPool* pool = new StackPool;
  return *pool;
}

struct Lane {
  uint3 idx{};
  ctx::fiber fiber;      // the thread, while suspended at a barrier
  ctx::fiber scheduler;  // while it runs: where it switches back to
  bool started = false, finished = false;
  const char* barrier_file = nullptr;
  int barrier_line = 0;
  const void* stack_bottom = nullptr;
  void* fake_stack = nullptr;
};

// The block being run: its threads, its shared memory, and where the scheduler's stack is.
struct Block {
  const char* kernel = "";
  const std::function<void()>* body = nullptr;
  std::vector<Lane> lanes;
  Lane* running = nullptr;
  bool aborting = false;    // after a barrier fault: barriers return at once, the threads run out
  bool misaligned = false;  // a misaligned access was reported: once per launch, as the hardware stops there
  bool direct = false;      // its threads run as plain calls (run_rest_directly), not fibers
  std::map<std::pair<const char*, int>, size_t> shared_offsets;
  std::vector<unsigned char> shared;
  size_t shared_used = 0;
  std::vector<unsigned char> dynamic;
  const void* scheduler_bottom = nullptr;
  size_t scheduler_size = 0;
};

thread_local Block* current_block = nullptr;

void announce_switch([[maybe_unused]] void** fake, [[maybe_unused]] const void* bottom, [[maybe_unused]] size_t size) {
#if BP_EMU_ASAN
  __sanitizer_start_switch_fiber(fake, bottom, size);
#endif
}

void arrived([[maybe_unused]] void* fake, [[maybe_unused]] const void** old_bottom, [[maybe_unused]] size_t* old_size) {
#if BP_EMU_ASAN
  __sanitizer_finish_switch_fiber(fake, old_bottom, old_size);
#endif
}

// Runs `lane` until it reaches a barrier or returns.
void resume(Block& b, Lane& lane) {
  b.running = &lane;
  current_thread = &lane.idx;
  if (!lane.started) {
    lane.started = true;
    Block* block = &b;
    Lane* me = &lane;
    lane.fiber = ctx::fiber(std::allocator_arg, PoolAllocator{&stacks()}, [block, me](ctx::fiber&& scheduler) {
      arrived(nullptr, &block->scheduler_bottom, &block->scheduler_size);
      me->scheduler = std::move(scheduler);
      (*block->body)();
      me->finished = true;
      announce_switch(nullptr, block->scheduler_bottom, block->scheduler_size);  // this stack ends
      return std::move(me->scheduler);
    });
    lane.stack_bottom = stacks().last_bottom();
  }
  void* fake = nullptr;
  announce_switch(&fake, lane.stack_bottom, kStackBytes);
  lane.fiber = std::move(lane.fiber).resume();
  arrived(fake, nullptr, nullptr);
  b.running = nullptr;
}

std::string position(const GridPosition& g) {
  return "block (" + std::to_string(g.block.x) + "," + std::to_string(g.block.y) + "," + std::to_string(g.block.z) +
         ")";
}

// A block's threads did not all reach the same __syncthreads: `reached` of them reached the one
// `at` waits at while the others had returned (0: they wait at different ones).
void barrier_fault(const Block& b, const GridPosition& g, const Lane& at, size_t reached) {
  const size_t n = b.lanes.size();
  const std::string where = std::string(at.barrier_file) + ":" + std::to_string(at.barrier_line);
  device_fault(cudaErrorLaunchFailure,
               "kernel " + std::string(b.kernel) + ", " + position(g) + ": " +
                   (reached > 0 ? "__syncthreads at " + where + " reached by " + std::to_string(reached) + " of " +
                                      std::to_string(n) + " threads (the others had returned)"
                                : "threads wait at different __syncthreads (" + where + " and another)") +
                   "; CUDA requires every thread of the block to reach the same one");
}

// The block's first thread (order[0]) returned without reaching a barrier, so in a correct kernel
// no thread of the block reaches one (CUDA C++ Programming Guide, __syncthreads(): "allowed in
// conditional code but only if the conditional evaluates identically across the entire thread
// block"). The others then run as plain calls in the same random order, without a fiber and its
// stack switches each (most kernels have no barrier; the K-network GPU tests ran 1.7x faster).
// A thread that does reach one is the fault the fiber path reports: it is counted
// (syncthreads returns at once, as when aborting) and reported when the block is done.
void run_rest_directly(Block& b, const GridPosition& g, const std::vector<unsigned>& order) {
  b.direct = true;
  for (size_t i = 1; i < order.size(); ++i) {
    Lane& lane = b.lanes[order[i]];
    b.running = &lane;
    current_thread = &lane.idx;
    (*b.body)();
    lane.finished = true;
  }
  b.running = nullptr;
  b.direct = false;
  const Lane* first = nullptr;
  size_t reached = 0;
  for (const Lane& l : b.lanes)
    if (l.barrier_file) {
      if (!first) first = &l;
      ++reached;
    }
  if (first && !b.aborting) barrier_fault(b, g, *first, reached);
}

void run_block(Block& b, const GridPosition& g, std::mt19937_64& rng) {
  const unsigned n = g.block_dim.x * g.block_dim.y * g.block_dim.z;
  b.lanes.clear();
  b.lanes.resize(n);
  for (unsigned t = 0; t < n; ++t)
    b.lanes[t].idx = uint3{t % g.block_dim.x, t / g.block_dim.x % g.block_dim.y, t / (g.block_dim.x * g.block_dim.y)};
  b.shared_offsets.clear();
  b.shared_used = 0;
  b.aborting = false;
  b.dynamic.assign(g.dynamic_shared, kPoison);
  std::vector<unsigned> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), rng);
  resume(b, b.lanes[order[0]]);
  if (b.lanes[order[0]].finished) return run_rest_directly(b, g, order);
  for (bool first_round = true;; first_round = false) {
    if (!first_round) std::shuffle(order.begin(), order.end(), rng);
    for (unsigned t : order)
      if (!b.lanes[t].finished && !(first_round && t == order[0])) resume(b, b.lanes[t]);
    unsigned finished = 0;
    const Lane* first_waiting = nullptr;
    bool same = true;
    for (const Lane& l : b.lanes) {
      if (l.finished) {
        ++finished;
        continue;
      }
      if (!first_waiting)
        first_waiting = &l;
      else if (l.barrier_line != first_waiting->barrier_line ||
               std::strcmp(l.barrier_file, first_waiting->barrier_file) != 0)
        same = false;
    }
    if (finished == n) return;
    if (!b.aborting && (finished > 0 || !same)) {
      barrier_fault(b, g, *first_waiting, finished > 0 ? n - finished : 0);
      b.aborting = true;  // run the rest out without barriers: the device has failed anyway
    }
    for (Lane& l : b.lanes) l.barrier_file = nullptr;
  }
}

}  // namespace

void syncthreads(const char* file, int line) {
  Block& b = *current_block;
  if (b.aborting) return;
  Lane& me = *b.running;
  if (b.direct) {  // a barrier the block's first thread never reached: counted, reported after the block
    if (!me.barrier_file) {
      me.barrier_file = file;
      me.barrier_line = line;
    }
    return;
  }
  me.barrier_file = file;
  me.barrier_line = line;
  announce_switch(&me.fake_stack, b.scheduler_bottom, b.scheduler_size);
  me.scheduler = std::move(me.scheduler).resume();
  arrived(me.fake_stack, &b.scheduler_bottom, &b.scheduler_size);
}

void* shared_array(const char* file, int line, size_t bytes, size_t align) {
  Block& b = *current_block;
  auto [it, fresh] = b.shared_offsets.try_emplace({file, line}, 0);
  if (fresh) {
    const size_t offset = (b.shared_used + align - 1) / align * align;
    if (offset + bytes > kStaticSharedLimit) {
      device_fault(cudaErrorLaunchOutOfResources, "kernel " + std::string(b.kernel) + ": static shared memory of " +
                                                      std::to_string(offset + bytes) + " bytes at " + file + ":" +
                                                      std::to_string(line) + ", over the 48 KiB a block may have");
      if (offset + bytes > kSharedArena) std::abort();  // nvcc would not have compiled it
    }
    std::memset(b.shared.data() + offset, kPoison, bytes);
    it->second = offset;
    b.shared_used = offset + bytes;
  }
  return b.shared.data() + it->second;
}

void* dynamic_shared() { return current_block->dynamic.data(); }

void require_aligned(const void* p, size_t align, const char* what) {
  Block& b = *current_block;
  if (reinterpret_cast<uintptr_t>(p) % align == 0 || b.misaligned) return;
  b.misaligned = true;
  char address[32];
  std::snprintf(address, sizeof address, "%p", p);
  device_fault(cudaErrorMisalignedAddress, "kernel " + std::string(b.kernel) + ", " + position(*current_grid) + ": " +
                                               what + " at " + address + ", not " + std::to_string(align) +
                                               "-byte aligned");
}

const uint3& thread_position() { return *current_thread; }
const GridPosition& grid_position() { return *current_grid; }

void run_grid(const char* name, dim3 grid, dim3 block_dim, size_t dynamic_shared, const std::function<void()>& body) {
  Block b;
  b.kernel = name;
  b.body = &body;
  b.shared.assign(kSharedArena, kPoison);  // never reallocated: the block's threads hold pointers into it
  GridPosition g{uint3{0, 0, 0}, block_dim, grid, dynamic_shared};
  Block* outer_block = current_block;
  const GridPosition* outer_grid = current_grid;
  const uint3* outer_thread = current_thread;
  current_block = &b;
  current_grid = &g;
  std::mt19937_64& rng = device().rng;
  // Blocks in a seeded random order: on the hardware they run in any order, or at once.
  const size_t blocks = size_t(grid.x) * grid.y * grid.z;
  std::vector<uint32_t> order(blocks);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), rng);
  for (const uint32_t i : order) {
    g.block = uint3{unsigned(i % grid.x), unsigned(i / grid.x % grid.y), unsigned(i / (size_t(grid.x) * grid.y))};
    run_block(b, g, rng);
  }
  current_block = outer_block;
  current_grid = outer_grid;
  current_thread = outer_thread;
}

}  // namespace bp::emu
