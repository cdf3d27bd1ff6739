// Whether a command's outputs are distinct files from each other and from its inputs, compared as
// files, not as spellings: the same device and inode where the file exists (so that hard links,
// symlinks, "./x" and "dir/../x" all meet), the same canonical path where it does not exist yet.
#pragma once

#include <string>
#include <vector>

namespace bp {

struct FileRole {
  std::string flag;  // "--log", "--resume", "--data", ...
  std::string path;
};

// Throws bp::UsageError ("--log X is the same file as --resume Y: ...") for the first output that
// is another output or one of the inputs. Character devices (/dev/null, /dev/stdout), which logs
// may be written to, may be named more than once.
void check_distinct_files(const std::vector<FileRole>& outputs, const std::vector<FileRole>& inputs);

}  // namespace bp
