// std::vector whose storage starts on a cache line (malloc gives 16 bytes): the CPU kernels' vector
// loads and stores of a column that starts on a line touch one line fewer than of one that does
// not, and step_layout's offsets keep each matrix on a line only if the buffer starts on one.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace bp {

template <class T, std::size_t kAlign>
struct AlignedAllocator {
  static_assert(kAlign >= alignof(T) && (kAlign & (kAlign - 1)) == 0, "a power of two, at least T's alignment");
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, kAlign>&) noexcept {}
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, kAlign>;
  };
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kAlign))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(kAlign)); }
  template <class U>
  bool operator==(const AlignedAllocator<U, kAlign>&) const noexcept {
    return true;
  }
};

constexpr std::size_t kCacheLineBytes = 64;

template <class T>
using CacheAlignedVector = std::vector<T, AlignedAllocator<T, kCacheLineBytes>>;

}  // namespace bp
