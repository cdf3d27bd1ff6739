#include "base/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/error.hpp"
#include "base/write_target.hpp"

namespace bp {

void write_file_atomically(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  // Through a symlink to its target; never over a device node, FIFO or folder.
  const fs::path target(check_write_target(path, "").real);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string name = target.filename().string();
  name.insert(0, 1, '.');
  name.append(".tmp.XXXXXX");
  std::string tmp = (dir / name).string();
  const int fd = mkstemp(tmp.data());
  if (fd < 0) throw Error(path + ": cannot create a temporary file in " + dir.string() + ": " + std::strerror(errno));
  const auto give_up = [&](const std::string& what) {
    const int err = errno;
    close(fd);
    unlink(tmp.c_str());
    throw Error(path + ": " + what + ": " + std::strerror(err));
  };
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      give_up("write failed");
    }
    done += size_t(w);
  }
  if (fchmod(fd, 0644) != 0) give_up("chmod failed");
  if (fsync(fd) != 0) give_up("fsync failed");
  if (close(fd) != 0) {
    unlink(tmp.c_str());
    throw Error(path + ": close failed: " + std::strerror(errno));
  }
  if (rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    throw Error(path + ": rename failed: " + std::strerror(err));
  }
}

}  // namespace bp
