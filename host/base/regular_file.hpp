// The one check every reader of a user-named file makes before opening it: a device (/dev/zero,
// /dev/urandom) would be read until memory runs out, and opening a FIFO blocks until a writer
// comes, so anything but a regular file (or a link to one) is refused with one sentence. stat()
// does not open the file, so the check itself never blocks.
#pragma once

#include <sys/stat.h>

#include <string>

#include "base/error.hpp"

namespace bp {

// Throws UsageError naming `path` when it exists and is not a regular file; `what` names what was
// expected ("model file", "image", "IDX file"). A missing file is left to the caller's open, which
// says so with the system's reason.
inline void require_regular_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return;
  if (S_ISDIR(st.st_mode)) throw UsageError(path + ": is a folder, not " + what);
  const char* kind = S_ISFIFO(st.st_mode)                         ? "a FIFO"
                     : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                     : S_ISSOCK(st.st_mode)                       ? "a socket"
                                                                  : "not a regular file";
  throw UsageError(path + ": is " + std::string(kind) + ", not " + what + " (only regular files are read)");
}

}  // namespace bp
