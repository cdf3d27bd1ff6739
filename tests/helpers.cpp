// See helpers.hpp.
#include "helpers.hpp"

#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>

#include "data/dataset.hpp"

namespace bp::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "backprop-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    if (!bytes.empty()) {
      ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
    }
    gzclose(f);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
}

std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out{0, 0, 0x08, uint8_t(dims.size())};
  for (uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(d >> s));
  }
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

void write_fake_mnist(const std::string& dir, size_t train, size_t test, size_t rows, size_t cols, size_t classes,
                      bool gzip) {
  const std::string ext = gzip ? ".gz" : "";
  const auto write_pair = [&](const std::string& prefix, size_t count, uint64_t seed) {
    LabelledImages li = synthetic_images(count, rows, cols, classes, seed);
    write_bytes(dir + "/" + prefix + "-images-idx3-ubyte" + ext,
                idx_bytes({uint32_t(count), uint32_t(rows), uint32_t(cols)}, li.pixels), gzip);
    write_bytes(dir + "/" + prefix + "-labels-idx1-ubyte" + ext, idx_bytes({uint32_t(count)}, li.labels), gzip);
  };
  write_pair("train", train, 1);
  write_pair("t10k", test, 2);
}

std::string backprop_binary() {
  const char* env = std::getenv("BACKPROP_TEST_BINARY");
  return env && *env ? env : BACKPROP_BINARY;
}

RunResult run_shell(const std::string& command) {
  RunResult r;
  const std::string cmd = "exec 2>&1; " + command;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

RunResult run_backprop(const std::string& args) { return run_shell(backprop_binary() + " " + args); }

Child spawn_backprop(const std::string& args) {
  int fds[2];
  Child c;
  if (pipe(fds) != 0) return c;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    close(fds[0]);
    close(fds[1]);
    const std::string cmd = "exec " + backprop_binary() + " " + args;
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  c.pid = pid;
  c.out = fds[0];
  return c;
}

bool Child::wait_for(const std::string& text, std::string& seen) {
  char buf[4096];
  while (seen.find(text) == std::string::npos) {
    const ssize_t n = read(out, buf, sizeof buf);
    if (n <= 0) return false;
    seen.append(buf, size_t(n));
  }
  return true;
}

int Child::finish(std::string& seen) {
  char buf[4096];
  ssize_t n;
  while ((n = read(out, buf, sizeof buf)) > 0) seen.append(buf, size_t(n));
  close(out);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string mnist_dir() {
  const char* env = std::getenv("BACKPROP_DATA");
  const std::string dir = env && *env ? env : std::string(BACKPROP_SOURCE_DIR) + "/data/mnist";
  for (const char* ext : {"", ".gz"}) {
    if (std::filesystem::exists(dir + "/t10k-labels-idx1-ubyte" + ext) &&
        std::filesystem::exists(dir + "/train-images-idx3-ubyte" + ext))
      return dir;
  }
  return "";
}

std::string required_mnist_dir() {
  const std::string dir = mnist_dir();
  const char* required = std::getenv("BACKPROP_REQUIRE_DATA");
  if (dir.empty() && required && std::string(required) == "1") ADD_FAILURE() << "MNIST is required but not found";
  return dir;
}

Dataset small_dataset(size_t train, size_t validation, size_t rows, size_t classes, uint64_t seed, size_t test) {
  Dataset d;
  d.training_file = synthetic_images(train + validation, rows, rows, classes, seed);
  d.test_file = synthetic_images(test, rows, rows, classes, seed + 1);
  d.train = d.training_file.view().slice(0, train);
  d.validation = d.training_file.view().slice(train, validation);
  d.test = d.test_file.view();
  d.classes = classes;
  return d;
}

}  // namespace bp::test
