// Helpers shared by the tests: temporary folders, IDX files written on the fly, running the
// backprop binary, and where the MNIST data are.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.hpp"

namespace bp::test {

// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip = false);
// The bytes of an unsigned-byte IDX file with the given dimensions and payload.
std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& payload);
// Writes a small MNIST-format data set (random images, labels 0..classes-1) into `dir`.
void write_fake_mnist(const std::string& dir, size_t train, size_t test, size_t rows, size_t cols, size_t classes,
                      bool gzip);

// A random data set in memory: train + validation images of rows x rows pixels (the validation
// set the last ones), `test` more from seed + 1, labels 0..classes-1.
Dataset small_dataset(size_t train, size_t validation, size_t rows, size_t classes, uint64_t seed, size_t test);

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
RunResult run_backprop(const std::string& args);
// The binary the tests run: $BACKPROP_TEST_BINARY (to run the tests against another build, e.g.
// one without a fix), else the one built beside them.
std::string backprop_binary();
// `command` through /bin/sh with stderr appended to the output (for tests that redirect stdout).
RunResult run_shell(const std::string& command);

// backprop started in the background with its stdout and stderr on a pipe, for signal tests.
struct Child {
  int pid = -1;
  int out = -1;  // read end
  // Reads until a line containing `text` arrives (true) or the output ends (false).
  bool wait_for(const std::string& text, std::string& seen);
  // Waits for the process to end; its exit code, or 128 + signal.
  int finish(std::string& seen);
};
Child spawn_backprop(const std::string& args);

// $BACKPROP_DATA, else the repository's data/mnist; empty when the MNIST files are not there.
std::string mnist_dir();
// mnist_dir(), and a test failure when it is empty under BACKPROP_REQUIRE_DATA=1 (the caller
// skips on empty, so the data can never be silently missing where they are required).
std::string required_mnist_dir();

}  // namespace bp::test
