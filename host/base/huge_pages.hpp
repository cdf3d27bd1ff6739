// Asking the kernel for 2 MiB pages under a large buffer before its pages are first touched:
// the trainer reads images (and their lists) in random order, and with 4 KiB pages nearly every
// sample's first byte misses the TLB (MNIST's 47 MB span 11,500 such pages). A hint only:
// where the kernel declines (or has no transparent huge pages) nothing changes.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

namespace bp {

inline void advise_huge_pages(const void* data, size_t bytes) {
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  if (bytes < 4 * kHuge) return;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace bp
