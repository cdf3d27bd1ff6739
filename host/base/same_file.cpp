// See same_file.hpp.
#include "base/same_file.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <optional>

#include "base/error.hpp"

namespace bp {
namespace {

// What a path names: a file's device and inode, or for a path that does not exist, its canonical
// spelling (its folder may exist, and another path may reach it through a link).
struct Identity {
  bool exists = false, device = false;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string canonical;

  bool operator==(const Identity& o) const {
    if (exists != o.exists) return false;
    return exists ? dev == o.dev && ino == o.ino : canonical == o.canonical;
  }
};

Identity identity(const std::string& path) {
  Identity id;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    id.exists = true;
    id.device = S_ISCHR(st.st_mode);
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    return id;
  }
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  id.canonical = ec ? std::filesystem::absolute(path, ec).lexically_normal().string() : p.string();
  return id;
}

}  // namespace

void check_distinct_files(const std::vector<FileRole>& outputs, const std::vector<FileRole>& inputs) {
  std::vector<std::pair<const FileRole*, Identity>> seen;
  for (const FileRole& in : inputs)
    if (!in.path.empty()) seen.emplace_back(&in, identity(in.path));
  const size_t input_count = seen.size();
  for (const FileRole& out : outputs) {
    if (out.path.empty()) continue;
    const Identity id = identity(out.path);
    for (size_t i = 0; i < seen.size(); ++i) {
      const auto& [other, other_id] = seen[i];
      if (id.device && i >= input_count) continue;  // two outputs to /dev/null
      if (id == other_id)
        throw UsageError(
            out.flag + " " + out.path + " is the same file as " + other->flag + " " + other->path + ": " +
            (i < input_count ? "writing it would destroy what the run reads" : "one output would overwrite the other") +
            "; choose another name");
    }
    seen.emplace_back(&out, id);
  }
}

}  // namespace bp
