// Replays the fuzz corpus and every input that ever crashed or hung a fuzz target (tests/fuzz/)
// through the readers in the normal suite: each must parse or be refused with a bp::Error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.hpp"
#include "data/idx.hpp"
#include "train/checkpoint.hpp"

namespace bp {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs(const std::string& corpus, const std::string& crash_prefix) {
  std::vector<fs::path> out;
  const fs::path root = fs::path(BACKPROP_SOURCE_DIR) / "tests/fuzz";
  for (const auto& e : fs::directory_iterator(root / "corpus" / corpus)) out.push_back(e.path());
  for (const auto& e : fs::directory_iterator(root / "crashes"))
    if (e.path().filename().string().rfind(crash_prefix, 0) == 0) out.push_back(e.path());
  return out;
}

TEST(FuzzCorpus, IdxInputsParseOrAreRefused) {
  const auto files = inputs("idx", "idx-");
  ASSERT_GE(files.size(), 5u);
  size_t parsed = 0;
  for (const fs::path& f : files) {
    try {
      const IdxArray a = read_idx(f.string());
      size_t product = 1;
      for (uint32_t d : a.dims) product *= d;
      EXPECT_EQ(product, a.data.size()) << f;
      ++parsed;
    } catch (const Error&) {}
  }
  EXPECT_GE(parsed, 4u);  // the valid seeds, raw and gzip
}

TEST(FuzzCorpus, ModelInputsParseOrAreRefused) {
  const auto files = inputs("model", "model-");
  ASSERT_GE(files.size(), 3u);
  size_t parsed = 0;
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    try {
      parse_model(s.str(), f.string());
      ++parsed;
    } catch (const Error&) {}
  }
  EXPECT_GE(parsed, 2u);  // tiny and deep; bad-crc must be refused
}

}  // namespace
}  // namespace bp
