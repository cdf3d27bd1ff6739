// safetensors models: round trip, the on-disk layout other tools expect, and refusal of corrupt,
// truncated and inconsistent files.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/atomic_file.hpp"
#include "base/error.hpp"
#include "helpers.hpp"
#include "train/checkpoint.hpp"

namespace bp {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Checkpoint, RoundTripsParametersAndMetadata) {
  test::TempDir dir;
  const Network net = initialise({12, 7, 4}, Init::normal, 9);
  save_model(dir.file("m.safetensors"), net, {{"eta", "3.0"}});
  const ModelFile back = load_model(dir.file("m.safetensors"));
  EXPECT_EQ(back.net.sizes, net.sizes);
  EXPECT_EQ(back.net.weights, net.weights);
  EXPECT_EQ(back.net.biases, net.biases);
  EXPECT_EQ(back.metadata.at("eta"), "3.0");
}

TEST(Checkpoint, OutputLayerRoundTripsAndOldFilesAreSigmoid) {
  test::TempDir dir;
  const Network soft = initialise({12, 7, 4}, Init::normal, 9, Output::softmax);
  save_model(dir.file("soft"), soft, {}, {{"best", soft}});
  EXPECT_EQ(load_model(dir.file("soft")).net.output, Output::softmax);
  EXPECT_EQ(load_model(dir.file("soft")).extra.at("best").output, Output::softmax);  // same network
  save_model(dir.file("sig"), initialise({12, 7, 4}, Init::normal, 9));
  EXPECT_EQ(read_all(dir.file("sig")).find("\"output\""), std::string::npos);  // unchanged format
  EXPECT_EQ(load_model(dir.file("sig")).net.output, Output::sigmoid);
  save_model(dir.file("bad"), initialise({12, 7, 4}, Init::normal, 9), {{"output", "tanh"}});
  EXPECT_THROW(load_model(dir.file("bad")), Error);
}

TEST(Checkpoint, LayoutIsRowMajorOutByIn) {
  test::TempDir dir;
  Network net = zero_network({3, 2});
  for (size_t j = 0; j < 2; ++j)
    for (size_t k = 0; k < 3; ++k) net.w(0, j, k) = float(10 * j + k);
  save_model(dir.file("m"), net);
  const std::string bytes = read_all(dir.file("m"));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  ASSERT_EQ(n % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["layers.0.weight"]["shape"], nlohmann::json({2, 3}));
  const size_t start = header["layers.0.weight"]["data_offsets"][0];
  float row[6];
  std::memcpy(row, bytes.data() + 8 + n + start, sizeof row);
  EXPECT_EQ(std::vector<float>(row, row + 6), (std::vector<float>{0, 1, 2, 10, 11, 12}));
}

TEST(Checkpoint, RefusesCorruptFiles) {
  test::TempDir dir;
  save_model(dir.file("m"), initialise({12, 7, 4}, Init::normal, 9));
  const std::string good = read_all(dir.file("m"));
  std::string flipped = good;
  flipped[flipped.size() - 5] ^= 0x40;
  std::string huge_header = good;
  huge_header[6] = 1;
  std::string bad_json = good;
  bad_json[8] = '[';
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"short", good.substr(0, 5)},
      {"truncated", good.substr(0, good.size() - 4)},
      {"extra", good + "xxxx"},
      {"flipped", flipped},
      {"huge_header", huge_header},
      {"bad_json", bad_json},
  };
  for (const auto& [name, bytes] : cases) {
    EXPECT_THROW(parse_model(bytes, name), Error) << name;
  }
  EXPECT_THROW(load_model(dir.file("missing")), UsageError);
}

// Issue 25, medium 8: the checksum was optional (renaming its key turned it off) and covered only
// the tensors, so 22 of 120 random header bit flips were accepted, some changing a resumed run's
// state. Every single-bit flip anywhere in a checkpoint's length field and header is now refused,
// or leaves a file that reads back identically; a file without its checksum or of another format
// is refused.
TEST(Checkpoint, EveryHeaderBitFlipIsRefusedOrHarmless) {
  test::TempDir dir;
  const Network net = initialise({16, 5, 3}, Init::normal, 4);
  const Metadata md = {{"seed", "7"}, {"eta", "0.5"}, {"next_epoch", "3"}, {"schedule_best_epoch", "2"}};
  save_model(dir.file("ck"), net, md, {{"best", initialise({16, 5, 3}, Init::normal, 5)}});
  const std::string good = read_all(dir.file("ck"));
  const ModelFile want = parse_model(good, "ck");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(good[i])) << (8 * i);
  size_t refused = 0, harmless = 0;
  for (size_t byte = 0; byte < 8 + n; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[byte] = char(bad[byte] ^ (1 << bit));
      try {
        const ModelFile got = parse_model(bad, "ck");
        EXPECT_EQ(got.metadata, want.metadata) << "byte " << byte << " bit " << bit;
        EXPECT_EQ(got.net.weights, want.net.weights) << "byte " << byte << " bit " << bit;
        EXPECT_EQ(got.extra.at("best").weights, want.extra.at("best").weights) << "byte " << byte << " bit " << bit;
        ++harmless;
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  std::cout << refused << " flips refused, " << harmless << " harmless, of " << 8 * (8 + n) << "\n";
  EXPECT_GT(refused, 8 * n);  // nearly all

  const auto without = [&](const std::string& key, const std::string& value) {
    nlohmann::json header = nlohmann::json::parse(good.substr(8, n));
    if (value.empty())
      header["__metadata__"].erase(key);
    else
      header["__metadata__"][key] = value;
    const std::string text = header.dump();
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = char((text.size() >> (8 * i)) & 0xff);
    return out + text + good.substr(8 + n);
  };
  for (const auto& [bytes, said] : {std::pair{without("crc32", ""), "has no checksum"},
                                    {without("format", "other"), "format is 'other'"},
                                    {without("format", ""), "format is missing"},
                                    {without("seed", "8"), "checksum mismatch"}}) {
    try {
      parse_model(bytes, "ck");
      ADD_FAILURE() << "accepted; expected " << said;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(said), std::string::npos) << e.what();
    }
  }
}

// Files written before the checksum covered the metadata (their crc32 a plain number, over the
// tensors) are still read, and their tensors still checked.
TEST(Checkpoint, OlderFilesWithTheTensorsChecksumAreRead) {
  test::TempDir dir;
  save_model(dir.file("m"), initialise({12, 7, 4}, Init::normal, 9), {{"seed", "9"}});
  const std::string good = read_all(dir.file("m"));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(good[i])) << (8 * i);
  const std::string data = good.substr(8 + n);
  const auto with_crc = [&](uint32_t crc) {
    nlohmann::json header = nlohmann::json::parse(good.substr(8, n));
    header["__metadata__"]["crc32"] = std::to_string(crc);
    const std::string text = header.dump();
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = char((text.size() >> (8 * i)) & 0xff);
    return out + text + data;
  };
  const uint32_t crc = uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(data.data()), uInt(data.size())));
  EXPECT_EQ(parse_model(with_crc(crc), "old").metadata.at("seed"), "9");
  EXPECT_THROW(parse_model(with_crc(crc ^ 1), "old"), Error);
}

TEST(Checkpoint, FailedWriteLeavesTheOldFile) {
  test::TempDir dir;
  save_model(dir.file("m"), initialise({12, 7, 4}, Init::normal, 1));
  const std::string before = read_all(dir.file("m"));
  EXPECT_THROW(save_model(dir.file("no-such-dir/m"), initialise({12, 7, 4}, Init::normal, 2)), Error);
  EXPECT_EQ(read_all(dir.file("m")), before);
}

// A writer killed after its temporary file exists (mid-write) leaves the old model intact.
TEST(Checkpoint, WriterKilledMidWriteLeavesTheOldFile) {
  test::TempDir dir;
  save_model(dir.file("m"), initialise({12, 7, 4}, Init::normal, 1));
  const std::string before = read_all(dir.file("m"));
  const pid_t pid = fork();
  if (pid == 0) {
    write_file_atomically(dir.file("m"), std::string(size_t{1} << 30, 'x'));  // 1 GiB: slow enough
    _exit(0);
  }
  bool saw_temporary = false;
  for (int i = 0; i < 20000 && !saw_temporary; ++i) {  // up to 20 s
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
      if (e.path().filename().string().rfind(".m.tmp.", 0) == 0) saw_temporary = true;
    if (!saw_temporary) usleep(1000);
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(saw_temporary) << "the writer never made its temporary file";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the writer finished before it could be killed";
  EXPECT_EQ(read_all(dir.file("m")), before);
  EXPECT_NO_THROW(load_model(dir.file("m")));
}

}  // namespace
}  // namespace bp
