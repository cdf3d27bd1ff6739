// Files replaced whole or not at all: a crash or a full disk leaves the old file, never a torn one.
#pragma once

#include <string>

namespace bp {

// Writes `bytes` to `path` through a temporary file in the same folder, fsync and rename. A
// symlink is written through; a device node, FIFO or folder at `path` is refused (bp::Error).
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace bp
