// The IDX reader: valid raw and gzip files, and each kind of malformed file refused with its
// message before anything large is allocated.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <utility>

#include "base/error.hpp"
#include "data/dataset.hpp"
#include "data/idx.hpp"
#include "helpers.hpp"

namespace bp {
namespace {

using test::idx_bytes;
using test::TempDir;
using test::write_bytes;

std::vector<uint8_t> counting(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(i * 7 + 3);
  return v;
}

class IdxFiles : public ::testing::TestWithParam<bool> {};  // parameter: gzip

TEST_P(IdxFiles, ReadsValidFile) {
  TempDir dir;
  const auto payload = counting(5 * 3 * 4);
  write_bytes(dir.file("x"), idx_bytes({5, 3, 4}, payload), GetParam());
  const IdxArray a = read_idx(dir.file("x"));
  EXPECT_EQ(a.dims, (std::vector<uint32_t>{5, 3, 4}));
  EXPECT_EQ(a.data, payload);
}

// Expects read_idx to throw an Error whose message names the file and contains `what`.
void expect_refused(const std::string& path, const std::string& what) {
  try {
    read_idx(path);
    FAIL() << "accepted a malformed file; expected: " << what;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST_P(IdxFiles, RefusesMalformed) {
  TempDir dir;
  const bool gz = GetParam();
  struct Case {
    std::string name;
    std::vector<uint8_t> bytes;
    std::string message;
  };
  std::vector<uint8_t> bad_magic = idx_bytes({4}, counting(4));
  bad_magic[0] = 1;
  std::vector<uint8_t> float_type = idx_bytes({4}, counting(16));
  float_type[2] = 0x0D;
  std::vector<uint8_t> rank0 = {0, 0, 8, 0};
  std::vector<uint8_t> rank9 = {0, 0, 8, 9, 0, 0, 0, 1};
  std::vector<uint8_t> truncated = idx_bytes({10, 28, 28}, counting(10 * 28 * 28 - 1));
  std::vector<uint8_t> extra = idx_bytes({2}, counting(3));
  std::vector<uint8_t> zero_dim = idx_bytes({0, 28, 28}, {});
  std::vector<uint8_t> billions = idx_bytes({4000000000u, 28, 28}, counting(100));
  std::vector<uint8_t> short_header = {0, 0, 8, 3, 0, 0};
  const std::vector<Case> cases = {
      {"empty", {}, "too short"},
      {"magic", bad_magic, "not an IDX file"},
      {"type", float_type, "not supported"},
      {"rank0", rank0, "rank 0"},
      {"rank9", rank9, "rank 9"},
      {"short_header", short_header, "too short for its IDX header"},
      {"truncated", truncated, "truncated"},
      {"extra", extra, "past the data"},
      {"zero", zero_dim, "zero dimension"},
      {"billions", billions, "more than 16 GiB"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    write_bytes(dir.file(c.name), c.bytes, gz);
    expect_refused(dir.file(c.name), c.message);
  }
}

INSTANTIATE_TEST_SUITE_P(RawAndGzip, IdxFiles, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "gzip" : "raw"; });

TEST(Idx, HeaderClaimingTooMuchWithinLimitIsTruncatedNotAllocated) {
  TempDir dir;
  // A plausible header (20,000 images of 28x28, 15.7 MB) over 100 bytes of data.
  write_bytes(dir.file("x"), idx_bytes({20000, 28, 28}, counting(100)));
  expect_refused(dir.file("x"), "truncated");
}

TEST(Idx, CorruptGzipStreamIsRefused) {
  TempDir dir;
  write_bytes(dir.file("x.gz"), idx_bytes({4096}, counting(4096)), true);
  std::FILE* f = std::fopen(dir.file("x.gz").c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 20, SEEK_SET);
  const char junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  std::fwrite(junk, 1, sizeof junk, f);
  std::fclose(f);
  EXPECT_THROW(read_idx(dir.file("x.gz")), Error);
}

// The whole-file fast path (libdeflate where built in) hands what it cannot read cleanly to the
// zlib reader: two gzip members (as `cat a.gz b.gz` makes) still read as one file, a gzip
// trailer that lies about the size changes nothing, and a FIFO (no size up front) still reads.
std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(Idx, TwoGzipMembersReadAsOneFile) {
  TempDir dir;
  const auto bytes = idx_bytes({300}, counting(300));
  write_bytes(dir.file("a.gz"), std::vector<uint8_t>(bytes.begin(), bytes.begin() + 100), true);
  write_bytes(dir.file("b.gz"), std::vector<uint8_t>(bytes.begin() + 100, bytes.end()), true);
  auto both = file_bytes(dir.file("a.gz"));
  const auto b = file_bytes(dir.file("b.gz"));
  both.insert(both.end(), b.begin(), b.end());
  write_bytes(dir.file("ab.gz"), both);
  EXPECT_EQ(read_idx(dir.file("ab.gz")).data, counting(300));
}

TEST(Idx, LyingGzipSizeTrailerIsHarmless) {
  TempDir dir;
  write_bytes(dir.file("x.gz"), idx_bytes({4096}, counting(4096)), true);
  for (uint8_t last : {uint8_t(0x00), uint8_t(0x7f), uint8_t(0xff)}) {
    auto bytes = file_bytes(dir.file("x.gz"));
    bytes.back() = last;  // ISIZE's top byte: claims 0 or up to 4 GiB
    write_bytes(dir.file("y.gz"), bytes);
    try {
      EXPECT_EQ(read_idx(dir.file("y.gz")).data, counting(4096));  // zlib may accept it...
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();  // ...or refuse it
    }
  }
}

// A FIFO blocks its reader at open until a writer comes, and a device is read forever: both are
// refused by name before anything is opened (issue 25; it was read through zlib before). A
// regression blocks here until the test's timeout.
TEST(Idx, RefusesAFifoAndADeviceWithoutOpeningThem) {
  TempDir dir;
  const std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& [path, says] :
       {std::pair<std::string, std::string>{fifo, "is a FIFO"}, {"/dev/zero", "is a device"}}) {
    try {
      read_idx(path);
      ADD_FAILURE() << "read " << path;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  }
}

TEST(Idx, MissingFileIsAUsageError) { EXPECT_THROW(read_idx("/nonexistent/file"), UsageError); }

TEST(Dataset, RefusesMismatchedCounts) {
  TempDir dir;
  write_bytes(dir.file("images"), idx_bytes({3, 2, 2}, counting(12)));
  write_bytes(dir.file("labels"), idx_bytes({4}, {0, 1, 2, 3}));
  try {
    load_labelled_images(dir.file("images"), dir.file("labels"));
    FAIL() << "accepted 3 images with 4 labels";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("holds 3 images but"), std::string::npos) << e.what();
  }
}

TEST(Dataset, RefusesWrongRanks) {
  TempDir dir;
  write_bytes(dir.file("images"), idx_bytes({3, 4}, counting(12)));
  write_bytes(dir.file("labels"), idx_bytes({3}, {0, 1, 2}));
  EXPECT_THROW(load_labelled_images(dir.file("images"), dir.file("labels")), Error);
  write_bytes(dir.file("images3"), idx_bytes({3, 2, 2}, counting(12)));
  write_bytes(dir.file("labels2"), idx_bytes({3, 1}, {0, 1, 2}));
  EXPECT_THROW(load_labelled_images(dir.file("images3"), dir.file("labels2")), Error);
}

TEST(Dataset, SplitsAsNielsen) {
  TempDir dir;
  test::write_fake_mnist(dir.path().string(), 100, 20, 4, 3, 10, true);
  // 20 test images need not show all 10 labels: the classes are given, as --layers would.
  const Dataset d = load_dataset(dir.path().string(), {70, 30}, 10);
  EXPECT_EQ(d.train.count, 70u);
  EXPECT_EQ(d.validation.count, 30u);
  EXPECT_EQ(d.test.count, 20u);
  EXPECT_EQ(d.input_size(), 12u);
  // Validation is the last images of the training file.
  EXPECT_EQ(d.validation.pixels, d.training_file.pixels.data() + 70 * 12);
  EXPECT_EQ(d.validation.labels[29], d.training_file.labels[99]);
  EXPECT_THROW(load_dataset(dir.path().string(), {80, 30}, 10), UsageError);
  EXPECT_THROW(load_dataset(dir.path().string(), {0, 10}, 10), UsageError);
  const Dataset defaults = load_dataset(dir.path().string(), {}, 10);  // Nielsen's 5/6 : 1/6
  EXPECT_EQ(defaults.train.count, 84u);
  EXPECT_EQ(defaults.validation.count, 16u);
  EXPECT_THROW(load_dataset(dir.file("nothing-here"), {10, 10}), UsageError);
}

}  // namespace
}  // namespace bp
