// Where a write to a path will land, checked before anything is written: a symlink is written
// through (its final target is what changes), an existing target must be a regular file (never
// replace a device node, a FIFO or a folder), and its folder must exist and be writable (the
// atomic write makes a temporary file there). Errors are one sentence naming the path.
#pragma once

#include <string>

namespace bp {

struct WriteTarget {
  std::string path;  // as given
  std::string real;  // where the bytes go: `path`, or a symlink's final target
  bool via_symlink = false;
  bool exists = false;  // `real` exists (a regular file, or a character device if allowed)
};

// Throws bp::UsageError: `label` (e.g. "--save") names the flag. `allow_devices` lets a
// character device such as /dev/null or /dev/stdout be written to in place (logs, not models).
WriteTarget check_write_target(const std::string& path, const std::string& label, bool allow_devices = false);

}  // namespace bp
