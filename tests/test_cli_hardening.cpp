// The binary against a demanding user and an adversary (issue 15): bad counts, odd output files,
// resumes that disagree with their checkpoint, unreadable images. Each test failed before its fix
// (run them against an older build with BACKPROP_TEST_BINARY=path/to/backprop).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "helpers.hpp"
#include "train/checkpoint.hpp"

namespace bp {
namespace {

using test::run_backprop;

class Hardening : public ::testing::Test {
 protected:
  void SetUp() override { test::write_fake_mnist(dir_.path().string(), 300, 50, 4, 4, 3, true); }
  std::string data() const { return "--data " + dir_.path().string(); }
  std::string small() const { return data() + " --train-size 200 --validation-size 100 --layers 16,5,3 --quiet"; }
  test::TempDir dir_;
};

// Seeds above 2^53 went through a double on the way back from the checkpoint: the resumed run
// shuffled with another seed.
TEST_F(Hardening, ResumeKeepsA64BitSeedExactly) {
  const std::string seed = "1152921504606846977";  // 2^60 + 1
  const std::string ck = dir_.file("ck"), whole = dir_.file("whole"), resumed = dir_.file("resumed");
  ASSERT_EQ(run_backprop("train " + small() + " --device cpu --seed " + seed + " --epochs 2 --save " + whole).exit_code, 0);
  const auto first = run_backprop("train " + small() + " --device cpu --seed " + seed +
                                  " --epochs 1 --checkpoint " + ck + " --checkpoint-every 1");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto second = run_backprop("train " + data() + " --quiet --device cpu --resume " + ck + " --epochs 2 --save " + resumed);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  const ModelFile a = load_model(whole), b = load_model(resumed);
  EXPECT_EQ(b.metadata.at("seed"), seed);
  EXPECT_EQ(a.net.weights, b.net.weights);
  EXPECT_EQ(a.net.biases, b.net.biases);
  // Giving the same seed again is no conflict.
  const auto again = run_backprop("train " + data() + " --quiet --device cpu --resume " + ck + " --seed " + seed +
                                  " --epochs 2");
  EXPECT_EQ(again.exit_code, 0) << again.output;
}


// Severe 2 and 4: counts that are negative, fractional or too large are usage errors naming the
// flag, never a wrap to 2^64-1 (a run without end) or an abort.
TEST_F(Hardening, BadCountsExitTwoNamingTheFlag) {
  const std::string model = dir_.file("m.safetensors");
  ASSERT_EQ(run_backprop("train " + small() + " --epochs 1 --device cpu --save " + model).exit_code, 0);
  const std::string m = " --model " + model + " " + data();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train " + small() + " --epochs -1", "--epochs"},
      {"train " + small() + " --epochs 1.5", "--epochs"},
      {"train " + small() + " --epochs 99999999999999999999999", "--epochs"},
      {"train " + small() + " --batch -1", "--batch"},
      {"train " + small() + " --seed -1", "--seed"},
      {"train " + small() + " --seed 18446744073709551616", "--seed"},
      {"train " + small() + " --train-size -5", "--train-size"},
      {"train " + small() + " --validation-size -1", "--validation-size"},
      {"train " + small() + " --threads -1", "--threads"},
      {"train " + small() + " --checkpoint-every -1 --checkpoint " + dir_.file("ck"), "--checkpoint-every"},
      {"train " + small() + " --eta inf", "--eta"},
      {"train " + small() + " --lambda nan", "--lambda"},
      {"gradcheck --layers 16,4,3 " + data() + " --batch -1", "--batch"},
      {"gradcheck --layers 16,4,3 " + data() + " --params -1", "--params"},
      {"predict" + m + " --index -1", "--index"},
      {"inspect" + m + " --out " + dir_.file("pics") + " --mistakes -1", "--mistakes"},
      {"eval" + m + " --threads 99999999999", "--threads"},
      {"bench --quick --epochs -1", "--epochs"},
      {"bench --quick --widths 30,-1", "--widths"},
  };
  for (const auto& [args, flag] : cases) {
    const auto r = run_backprop(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(flag + ": must be a"), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
  }
}

// Severe 3: an --out that cannot be a folder is one line and exit 2, not an uncaught exception.
TEST_F(Hardening, InspectOutThatIsAFileIsOneLine) {
  const std::string model = dir_.file("m.safetensors"), file = dir_.file("file");
  ASSERT_EQ(run_backprop("train " + small() + " --epochs 1 --device cpu --save " + model).exit_code, 0);
  std::ofstream(file) << "x";
  for (const std::string& out : {file, file + "/sub"}) {
    const auto r = run_backprop("inspect --model " + model + " " + data() + " --out " + out);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("--out " + out), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

// Severe 1: a FIFO, a folder or a device at --save/--checkpoint is refused and left as it was;
// a symlink is written through (and said so), not replaced.
TEST_F(Hardening, OddSaveTargetsAreRefusedOrWrittenThrough) {
  namespace fs = std::filesystem;
  const std::string fifo = dir_.file("fifo"), folder = dir_.file("folder"), link = dir_.file("link"),
                    real = dir_.file("real");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  fs::create_directory(folder);
  fs::create_symlink("real", link);
  std::vector<std::string> targets = {fifo, folder};
  // A character device of our own (a copy of /dev/null's numbers), where we may make one (root).
  const std::string device = dir_.file("null");
  if (mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) targets.push_back(device);
  for (const std::string flag : {"--save", "--checkpoint"}) {
    for (const std::string& target : targets) {
      const auto r = run_backprop("train " + small() + " --epochs 1 --device cpu " + flag + " " + target);
      EXPECT_EQ(r.exit_code, 2) << flag << " " << target << "\n" << r.output;
      EXPECT_NE(r.output.find("refusing to write over it"), std::string::npos) << r.output;
      EXPECT_EQ(r.output.find("Epoch 0"), std::string::npos) << "refused before training\n" << r.output;
    }
  }
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_TRUE(fs::is_directory(folder));
  if (targets.size() == 3) {
    EXPECT_TRUE(fs::is_character_file(device));
  }
  const auto r = run_backprop("train " + small() + " --epochs 1 --device cpu --save " + link);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("symlink"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(load_model(real).net.sizes, (std::vector<size_t>{16, 5, 3}));
}

// Medium 5: output paths are checked before training: a missing folder, an empty name, two
// outputs on one file, an existing log (without --resume) are found before epoch 0.
TEST_F(Hardening, OutputPathsAreCheckedBeforeTraining) {
  const std::string log = dir_.file("log.jsonl");
  std::ofstream(log) << "{\"epoch\": 0}\n";
  const std::vector<std::string> cases = {
      "--save " + dir_.file("missing/m"),
      "--checkpoint " + dir_.file("missing/ck"),
      "--log " + dir_.file("missing/log"),
      "--save ''",
      "--save " + dir_.file("same") + " --checkpoint " + dir_.file("same"),
      "--log " + dir_.file("same2") + " --save " + dir_.file("./same2"),
      "--log " + log,
  };
  for (const std::string& args : cases) {
    const auto r = run_backprop("train " + small() + " --epochs 1 --device cpu " + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_EQ(r.output.find("Epoch 0"), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
  }
  std::ifstream in(log);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "{\"epoch\": 0}") << "the existing log is kept";
}

// Medium 5: a full disk under --log or stdout is an error, not exit 0 with nothing written.
TEST_F(Hardening, WriteErrorsOnLogAndStdoutAreReported) {
  const std::string model = dir_.file("m");
  const auto r = run_backprop("train " + small() + " --epochs 2 --device cpu --log /dev/full --save " + model);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--log /dev/full: write failed"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(model)) << "the model is still saved";
  const auto info = test::run_shell(test::backprop_binary() + " info > /dev/full");
  EXPECT_EQ(info.exit_code, 1) << info.output;
  EXPECT_NE(info.output.find("standard output"), std::string::npos) << info.output;
  const auto train = test::run_shell(test::backprop_binary() + " train " + small() + " --epochs 1 > /dev/full");
  EXPECT_EQ(train.exit_code, 1) << train.output;
}

}  // namespace
}  // namespace bp
