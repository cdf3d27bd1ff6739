// libFuzzer target for the IDX reader: the input is written to an in-memory file and read through
// read_idx, so raw and gzip inputs both take the real path (zlib included). Anything but a clean
// parse or a bp::Error is a finding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "base/error.hpp"
#include "data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd_create("idx", 0);
  if (fd < 0) return 0;
  if (size > 0 && write(fd, data, size) != ssize_t(size)) {
    close(fd);
    return 0;
  }
  try {
    const bp::IdxArray a = bp::read_idx("/proc/self/fd/" + std::to_string(fd));
    size_t product = 1;
    for (uint32_t d : a.dims) product *= d;
    if (product != a.data.size()) __builtin_trap();  // the reader promised a consistent array
  } catch (const bp::Error&) {}
  close(fd);
  return 0;
}
