// Checking a write's target before writing.
#include "base/write_target.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/error.hpp"

namespace bp {
namespace {

const char* kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

WriteTarget check_write_target(const std::string& path, const std::string& label, bool allow_devices) {
  namespace fs = std::filesystem;
  const std::string who = label.empty() ? path : label + " " + path;
  if (path.empty()) throw UsageError(label + " needs a file name, got an empty one");
  WriteTarget t;
  t.path = path;
  t.real = path;
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    // Follow the chain to its end; a dangling link's last target is created.
    std::error_code ec;
    fs::path p = path;
    for (int hops = 0; hops < 40 && fs::is_symlink(fs::symlink_status(p, ec)); ++hops) {
      const fs::path next = fs::read_symlink(p, ec);
      if (ec) throw UsageError(who + ": cannot read the symlink: " + ec.message());
      p = next.is_absolute() ? next : p.parent_path() / next;
    }
    if (fs::is_symlink(fs::symlink_status(p, ec))) throw UsageError(who + ": too many levels of symlinks");
    t.real = p.lexically_normal().string();
    t.via_symlink = true;
  }
  if (stat(t.real.c_str(), &st) == 0) {
    t.exists = true;
    const bool device_ok = allow_devices && S_ISCHR(st.st_mode);
    if (!S_ISREG(st.st_mode) && !device_ok) {
      throw UsageError(who + (t.via_symlink ? " (a symlink to " + t.real + ")" : std::string()) + " is " +
                       kind(st.st_mode) + "; refusing to write over it");
    }
    if (device_ok) {
      if (access(t.real.c_str(), W_OK) != 0) throw UsageError(who + ": cannot write: " + std::strerror(errno));
      return t;
    }
  } else if (errno != ENOENT) {
    throw UsageError(who + ": " + std::strerror(errno));
  }
  const fs::path real(t.real);
  const std::string dir = real.has_parent_path() ? real.parent_path().string() : std::string(".");
  if (stat(dir.c_str(), &st) != 0) throw UsageError(who + ": folder " + dir + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) throw UsageError(who + ": " + dir + " is not a folder");
  if (access(dir.c_str(), W_OK | X_OK) != 0)
    throw UsageError(who + ": cannot write in folder " + dir + ": " + std::strerror(errno));
  return t;
}

}  // namespace bp
