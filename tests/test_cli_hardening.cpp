// The binary against a demanding user and an adversary (issue 15): bad counts, odd output files,
// resumes that disagree with their checkpoint, unreadable images. Each test failed before its fix
// (run them against an older build with BACKPROP_TEST_BINARY=path/to/backprop).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "base/error.hpp"
#include "data/dataset.hpp"
#include "helpers.hpp"
#include "train/backend_factory.hpp"
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
  ASSERT_EQ(run_backprop("train " + small() + " --device cpu --seed " + seed + " --epochs 2 --save " + whole).exit_code,
            0);
  const auto first = run_backprop("train " + small() + " --device cpu --seed " + seed + " --epochs 1 --checkpoint " +
                                  ck + " --checkpoint-every 1");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto second =
      run_backprop("train " + data() + " --quiet --device cpu --resume " + ck + " --epochs 2 --save " + resumed);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  const ModelFile a = load_model(whole), b = load_model(resumed);
  EXPECT_EQ(b.metadata.at("seed"), seed);
  EXPECT_EQ(a.net.weights, b.net.weights);
  EXPECT_EQ(a.net.biases, b.net.biases);
  // Giving the same seed again is no conflict.
  const auto again =
      run_backprop("train " + data() + " --quiet --device cpu --resume " + ck + " --seed " + seed + " --epochs 2");
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
      {"train " + small() + " --early-stop -1", "--early-stop"},
      {"train " + small() + " --early-stop 99999999999999999999", "--early-stop"},
      {"train " + small() + " --eta inf", "--eta"},
      {"train " + small() + " --lambda nan", "--lambda"},
      {"gradcheck --layers 16,4,3 " + data() + " --batch -1", "--batch"},
      {"gradcheck --layers 16,4,3 " + data() + " --params -1", "--params"},
      {"predict" + m + " --index -1", "--index"},
      {"predict" + m + " --index 1,,2", "--index"},
      {"predict" + m + " --index 1,", "--index"},
      {"inspect" + m + " --out " + dir_.file("pics") + " --mistakes -1", "--mistakes"},
      {"eval" + m + " --threads 99999999999", "--threads"},
      {"bench --quick --epochs -1", "--epochs"},
      {"bench --quick --widths 30,-1", "--widths"},
  };
  for (const auto& [args, flag] : cases) {
    const auto r = run_backprop(args);
    EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << args << " exit " << r.exit_code << "\n" << r.output;
    EXPECT_NE(r.output.find(flag + ": must be a"), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
  }
}

// Issue 25, item 16: an empty set is not evaluated as "0 / 0" with exit 0, and a CPU path that
// no build has is called unknown, not "not runnable".
TEST_F(Hardening, AnEmptySetAndAnUnknownCpuPathAreSaidSo) {
  const std::string model = dir_.file("m.safetensors");
  ASSERT_EQ(run_backprop("train " + small() + " --epochs 1 --device cpu --save " + model).exit_code, 0);
  const auto empty = run_backprop("eval --model " + model + " " + data() + " --set validation --validation-size 0");
  EXPECT_EQ(empty.exit_code, 2) << empty.output;
  EXPECT_NE(empty.output.find("--set validation: the set is empty"), std::string::npos) << empty.output;
  EXPECT_EQ(std::count(empty.output.begin(), empty.output.end(), '\n'), 1) << empty.output;
  const auto path = test::run_shell("BACKPROP_CPU_PATH=garbage " + test::backprop_binary() + " info");
  EXPECT_EQ(path.exit_code, 0) << path.output;
  EXPECT_NE(path.output.find("BACKPROP_CPU_PATH=garbage is unknown (avx512, avx2 or plain)"), std::string::npos)
      << path.output;
}

// Issue 25, item 15: an explicit --data that is not there, or does not fit, is an error; random
// images stand in only for the default folder.
TEST_F(Hardening, GradcheckOnDataThatIsNotThereIsAnError) {
  for (const std::string& args :
       {"gradcheck --layers 16,4,3 --data " + dir_.file("none"), "gradcheck --layers 9,4,3 " + data()}) {
    const auto r = run_backprop(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_EQ(r.output.find("random images"), std::string::npos) << args << "\n" << r.output;
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
    EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << args << " exit " << r.exit_code << "\n" << r.output;
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

// Medium 11 and the resume at the end: a resumed partial epoch is marked as such on its line and
// in --log (its rate counts only its samples); a resume with nothing left to run is refused
// instead of printing "best test accuracy: 0.00%".
TEST_F(Hardening, ResumedPartialEpochIsMarked) {
  const std::string ck = dir_.file("ck"), log = dir_.file("log.jsonl");
  ASSERT_EQ(run_backprop("train " + small() + " --epochs 1 --device cpu --checkpoint " + ck + " --checkpoint-every 1")
                .exit_code,
            0);
  ModelFile m = load_model(ck);  // as if stopped half-way through epoch 1 (batch 10, 200 samples)
  m.metadata["next_sample"] = "100";
  save_model(ck, m.net, m.metadata, m.extra);
  const auto r = run_backprop("train " + data() + " --quiet --device cpu --resume " + ck + " --epochs 2 --log " + log);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(resumed: the last 100 of 200 samples)"), std::string::npos) << r.output;
  std::ifstream in(log);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j.at("epoch"), 1);
  EXPECT_EQ(j.at("samples"), 100);
  EXPECT_EQ(j.at("partial"), true);
  EXPECT_DOUBLE_EQ(j.at("samples_per_second").get<double>(), 100 / j.at("train_seconds").get<double>());

  const auto end = run_backprop("train " + data() + " --quiet --device cpu --resume " + ck + " --epochs 1");
  EXPECT_EQ(end.exit_code, 2) << end.output;
  EXPECT_NE(end.output.find("part of epoch 1; pass --epochs 2"), std::string::npos) << end.output;
  EXPECT_EQ(end.output.find("0.00%"), std::string::npos) << end.output;
}

// Medium 12: --threads above the hardware threads is capped, with a notice; --streamed on the
// CPU is ignored with a notice.
TEST_F(Hardening, ThreadsAreCappedAndStreamedOnCpuIsNoticed) {
  const int hardware = int(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(capped_threads(1000, true), std::min(1000, hardware));
  EXPECT_EQ(capped_threads(0, true), 0);
  const auto r = run_backprop("train " + small() + " --epochs 1 --device cpu --threads 1000 --streamed");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (hardware < 1000) {
    EXPECT_NE(r.output.find("notice: --threads 1000 is more than the " + std::to_string(hardware) +
                            " hardware threads; using " + std::to_string(hardware)),
              std::string::npos)
        << r.output;
  }
  EXPECT_NE(r.output.find("--streamed applies to the CUDA backend only"), std::string::npos) << r.output;
}

// Medium 7: predict classifies every readable picture, reports each bad one, exits 1 at the end.
TEST_F(Hardening, PredictGoesOnPastBadPictures) {
  test::TempDir big;
  test::write_fake_mnist(big.path().string(), 120, 20, 28, 28, 3, true);
  const std::string model = big.file("m");
  ASSERT_EQ(run_backprop("train --data " + big.path().string() +
                         " --layers 784,5,3 --epochs 1 --quiet --device cpu "
                         "--save " +
                         model)
                .exit_code,
            0);
  std::string pgm = "P5\n28 28\n255\n";
  for (int i = 0; i < 28 * 28; ++i) pgm += char((i % 28 > 10 && i % 28 < 16) ? 0 : 255);  // a dark bar on white
  for (const char* name : {"a.pgm", "b.pgm"}) std::ofstream(big.file(name), std::ios::binary) << pgm;
  std::ofstream(big.file("bad.pgm"), std::ios::binary) << "P5\n28 28\n255\nshort";
  const auto r = run_backprop("predict --model " + model + " " + big.file("a.pgm") + " " + big.file("missing.pgm") +
                              " " + big.file("bad.pgm") + " " + big.file("b.pgm"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(big.file("a.pgm") + ": "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(big.file("b.pgm") + ": "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("error: " + big.file("missing.pgm")), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("error: " + big.file("bad.pgm")), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 of 4 pictures could not be read"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("missing.pgm: cannot open image: No such file or directory"), std::string::npos) << r.output;
  // Image errors name the path once and say what the file is.
  std::filesystem::create_directory(big.file("folder.png"));
  std::ofstream(big.file("colour.ppm"), std::ios::binary) << "P6\n1 1\n255\nabc";
  const auto odd =
      run_backprop("predict --model " + model + " " + big.file("folder.png") + " " + big.file("colour.ppm"));
  EXPECT_EQ(odd.exit_code, 1) << odd.output;
  EXPECT_NE(odd.output.find("folder.png: is a folder"), std::string::npos) << odd.output;
  EXPECT_NE(odd.output.find("PPM/PBM are not supported"), std::string::npos) << odd.output;
  for (const char* name : {"folder.png", "colour.ppm"}) {
    const std::string path = big.file(name);
    EXPECT_EQ(odd.output.find(path), odd.output.rfind(path)) << "named once: " << odd.output;
  }
}

// Medium 8: one stray label must not silently build a network with 11 or 256 outputs.
TEST_F(Hardening, StrayLabelsAreRefusedNamingFileAndIndex) {
  const auto rewrite_labels = [&](const std::string& prefix, size_t count, uint64_t seed, size_t index, uint8_t label) {
    LabelledImages li = synthetic_images(count, 4, 4, 3, seed);  // as write_fake_mnist made them
    li.labels[index] = label;
    test::write_bytes(dir_.file(prefix + "-labels-idx1-ubyte.gz"), test::idx_bytes({uint32_t(count)}, li.labels), true);
  };
  rewrite_labels("train", 300, 1, 7, 10);
  auto r = run_backprop("train " + data() + " --train-size 200 --validation-size 100 --quiet --epochs 1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("train-labels-idx1-ubyte.gz: label 10 at index 7"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("Epoch 0"), std::string::npos) << r.output;
  // --layers settles the classes: 11 outputs take label 10.
  r = run_backprop("train " + data() + " --train-size 200 --validation-size 100 --quiet --epochs 1 --layers 16,5,11");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  rewrite_labels("train", 300, 1, 7, 1);
  rewrite_labels("t10k", 50, 2, 3, 255);
  r = run_backprop("train " + data() + " --train-size 200 --validation-size 100 --quiet --epochs 1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("t10k-labels-idx1-ubyte.gz: label 255 at index 3"), std::string::npos) << r.output;
  r = run_backprop("train " + data() + " --train-size 200 --validation-size 100 --quiet --epochs 1 --layers 16,5,3");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("label 255 at index 3 is not below the network's 3 outputs"), std::string::npos) << r.output;
}

// Medium 10: eval --set validation uses the split the model was trained with and says so.
TEST_F(Hardening, EvalValidationUsesTheRecordedSplit) {
  const std::string model = dir_.file("m");
  ASSERT_EQ(run_backprop("train " + data() +
                         " --train-size 100 --validation-size 100 --layers 16,5,3 --quiet "
                         "--epochs 1 --device cpu --save " +
                         model)
                .exit_code,
            0);
  const auto r = run_backprop("eval --model " + model + " " + data() + " --set validation --device cpu");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(" / 100 correct"), std::string::npos) << "the default split has 50\n" << r.output;
  EXPECT_NE(r.output.find("as the model was trained"), std::string::npos) << r.output;
  // The test set needs only the test files (eval and predict --index).
  std::filesystem::remove(dir_.file("train-images-idx3-ubyte.gz"));
  const auto test = run_backprop("eval --model " + model + " " + data() + " --device cpu");
  EXPECT_EQ(test.exit_code, 0) << test.output;
  EXPECT_NE(test.output.find("test: "), std::string::npos) << test.output;
  const auto index = run_backprop("predict --model " + model + " " + data() + " --index 3");
  EXPECT_NE(index.output.find("test image 3: "), std::string::npos) << index.output;
}

// Medium 6: a resume refuses conflicting data flags and warns when --data is another data set.
TEST_F(Hardening, ResumeRefusesConflictsAndNoticesOtherData) {
  const std::string ck = dir_.file("ck");
  ASSERT_EQ(run_backprop("train " + small() + " --epochs 1 --device cpu --checkpoint " + ck + " --checkpoint-every 1")
                .exit_code,
            0);
  for (const std::string flag : {"--train-size 150", "--validation-size 50", "--shuffle-labels"}) {
    const auto r = run_backprop("train " + data() + " --quiet --device cpu --resume " + ck + " --epochs 2 " + flag);
    EXPECT_EQ(r.exit_code, 2) << flag << "\n" << r.output;
    EXPECT_NE(r.output.find("conflicts with the checkpoint"), std::string::npos) << flag << "\n" << r.output;
  }
  test::TempDir other;
  test::write_fake_mnist(other.path().string(), 300, 60, 4, 4, 3, true);
  const auto r =
      run_backprop("train --data " + other.path().string() + " --quiet --device cpu --resume " + ck + " --epochs 2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("is not the data set"), std::string::npos) << r.output;
  const auto same = run_backprop("train " + data() + " --quiet --device cpu --resume " + ck + " --epochs 2");
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_EQ(same.output.find("is not the data set"), std::string::npos) << same.output;
}

// A crafted checkpoint's bad values are reported against the file, exit 1, not as a flag's.
TEST_F(Hardening, CraftedCheckpointErrorsNameTheFile) {
  const std::string ck = dir_.file("ck");
  ASSERT_EQ(run_backprop("train " + small() + " --epochs 1 --device cpu --checkpoint " + ck + " --checkpoint-every 1")
                .exit_code,
            0);
  const ModelFile good = load_model(ck);
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"mini_batch", "0"}, {"eta", "-3"}, {"next_sample", "7"}, {"next_sample", "200"}, {"seed", "-1"}}) {
    Metadata md = good.metadata;
    md[key] = value;
    save_model(ck, good.net, md);
    const auto r = run_backprop("train " + data() + " --quiet --device cpu --resume " + ck + " --epochs 3");
    EXPECT_EQ(r.exit_code, 1) << key << "=" << value << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("backprop: error: " + ck + ": ", 0), 0u) << key << "=" << value << "\n" << r.output;
  }
}

// The small ones: each a clear exit-2 line where there was silence, a clamp or a vague message.
TEST_F(Hardening, SmallUsageMistakesGetAPreciseMessage) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"trian", "unknown command 'trian'; the commands are train,"},
      {"train " + small() + " --epoch 3", "did you mean --epochs?"},
      {"train " + small() + " --layers 16,5,3,", "--layers must be comma-separated"},
      {"train " + small() + " --batch 201", "--batch 201 exceeds the 200 training images"},
      {"bench --quick --backends cpu,bogus", "--backends: bogus not in"},
      {"eval --model " + dir_.file("none") + " " + data(), "cannot open model file: No such file or directory"},
      {"eval --model " + dir_.path().string() + " " + data(), "is a folder, not a model file"},
      {"train --data " + dir_.file("none") + " --quiet", "scripts/fetch-mnist"},
      {"bench --quick --json " + dir_.file("missing/b.json"), "--json " + dir_.file("missing/b.json")},
  };
  for (const auto& [args, message] : cases) {
    const auto r = run_backprop(args);
    EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << args << " exit " << r.exit_code << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
  }
}

// Issue 25, severe 5: no output may be an input or another output, compared as files (a hard link,
// a "./" or "../" spelling, the same file under another name), for train and sweep; --log on a
// resume appends only to a log. Each refusal leaves the file as it was. (--checkpoint may name
// the checkpoint resumed from: the run updating its own checkpoint.)
TEST_F(Hardening, OutputsThatAreInputsAreRefusedAndLeaveTheFile) {
  const auto bytes = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string ck = dir_.file("ck");
  ASSERT_EQ(run_backprop("train " + small() + " --device cpu --epochs 1 --checkpoint " + ck + " --checkpoint-every 1")
                .exit_code,
            0);
  const std::string ck_bytes = bytes(ck);
  std::filesystem::create_directory(dir_.file("out"));
  const std::string notes = dir_.file("notes.txt");
  std::ofstream(notes) << "my notes\n";
  std::filesystem::create_hard_link(ck, dir_.file("ck-link"));
  const std::string labels = dir_.file("train-labels-idx1-ubyte.gz");
  const std::string label_bytes = bytes(labels);
  const std::string sweep_small = data() + " --train-size 200 --validation-size 100 --layers 16,5,3";  // no --quiet
  struct Case {
    std::string args, said;
  };
  const Case cases[] = {
      {"train " + data() + " --quiet --resume " + ck + " --epochs 2 --log " + ck, "is the same file as --resume"},
      {"train " + data() + " --quiet --resume " + ck + " --epochs 2 --log " + dir_.file("ck-link"),
       "is the same file as --resume"},
      {"train " + data() + " --quiet --resume " + ck + " --epochs 2 --save " + dir_.path().string() + "/./ck",
       "is the same file as --resume"},
      {"train " + data() + " --quiet --resume " + ck + " --epochs 2 --log " + notes, "is not a backprop log"},
      {"train " + small() + " --epochs 1 --save " + labels, "is the same file as --data"},
      {"train " + small() + " --epochs 1 --checkpoint " + dir_.file("x") + " --save " + dir_.path().string() + "/../" +
           dir_.path().filename().string() + "/x",
       "is the same file as --save"},
      {"sweep " + sweep_small + " --epochs 1 --seeds 1-2 --log " + dir_.file("out/curves.png") + " --out " +
           dir_.file("out"),
       "is the same file as --log"},
      {"sweep " + sweep_small + " --epochs 1 --seeds 1-2 --save-best " + labels, "is the same file as --data"},
  };
  for (const Case& c : cases) {
    const test::RunResult r = run_backprop(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.said), std::string::npos) << c.args << "\n" << r.output;
  }
  EXPECT_EQ(bytes(ck), ck_bytes);
  EXPECT_EQ(bytes(notes), "my notes\n");
  EXPECT_EQ(bytes(labels), label_bytes);
  // The log of the run itself is appended to on its resume, and the run may go on updating the
  // checkpoint it resumed from, as before.
  const std::string log = dir_.file("log.jsonl");
  ASSERT_EQ(run_backprop("train " + small() + " --device cpu --epochs 1 --checkpoint " + dir_.file("ck2") +
                         " --checkpoint-every 1 --log " + log)
                .exit_code,
            0);
  const test::RunResult resumed =
      run_backprop("train " + data() + " --quiet --resume " + dir_.file("ck2") + " --epochs 2 --log " + log +
                   " --checkpoint " + dir_.file("ck2") + " --checkpoint-every 1");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
}

// Issue 25, medium 9: a --save model, resumed, went on silently from a state the run never had
// (its best validation epoch's parameters with the last epoch's counters, momentum's velocities
// restarted at zero). It is refused, as is a momentum checkpoint without its velocities.
TEST_F(Hardening, ASavedModelIsNotACheckpoint) {
  const std::string model = dir_.file("m");
  ASSERT_EQ(run_backprop("train " + small() + " --device cpu --epochs 2 --save " + model).exit_code, 0);
  const test::RunResult r = run_backprop("train " + data() + " --quiet --resume " + model + " --epochs 4");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is a trained model (train --save), not a checkpoint"), std::string::npos) << r.output;

  const std::string ck = dir_.file("ck"), stripped = dir_.file("stripped");
  ASSERT_EQ(run_backprop("train " + small() + " --device cpu --epochs 1 --momentum 0.5 --eta 0.5 --checkpoint " + ck +
                         " --checkpoint-every 1")
                .exit_code,
            0);
  ModelFile file = load_model(ck);
  ASSERT_EQ(file.extra.count("velocity"), 1u);
  file.extra.erase("velocity");
  save_model(stripped, file.net, file.metadata, file.extra);
  const test::RunResult v = run_backprop("train " + data() + " --quiet --resume " + stripped + " --epochs 2");
  EXPECT_EQ(v.exit_code, 1) << v.output;
  EXPECT_NE(v.output.find("without its velocities"), std::string::npos) << v.output;
  // The checkpoint itself resumes.
  EXPECT_EQ(run_backprop("train " + data() + " --quiet --resume " + ck + " --epochs 2").exit_code, 0);
}

// Model files that parse but are not sound are refused precisely: NaN parameters, F16 tensors,
// overlapping tensors, a plain safetensors file without backprop's metadata.
TEST(ModelRefusal, UnsoundTensorsAndForeignFilesAreNamed) {
  const Network net = initialise({3, 2}, Init::normal, 1);
  test::TempDir dir;
  save_model(dir.file("m"), net, {});
  std::ifstream in(dir.file("m"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  const std::string data = bytes.substr(8 + n);
  const auto file = [&](const nlohmann::json& h, const std::string& d) {
    std::string text = h.dump();
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = char((text.size() >> (8 * i)) & 0xff);
    return out + text + d;
  };
  const auto refused = [&](const std::string& b, const std::string& message) {
    try {
      parse_model(b, "x.safetensors");
      ADD_FAILURE() << "accepted; expected " << message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("[json.exception"), std::string::npos) << e.what();
    }
  };
  // A file with a correct checksum for what it holds: the defect itself must be caught.
  const auto checksummed = [](nlohmann::json h, const std::string& d) {
    Metadata md;
    for (const auto& [k, v] : h["__metadata__"].items()) md[k] = v.get<std::string>();
    h["__metadata__"]["crc32"] = model_checksum(md, d);
    return h;
  };
  std::string nan_data = data;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan_data.data(), &nan, 4);
  refused(file(checksummed(header, nan_data), nan_data), "holds nan");
  nlohmann::json f16 = header;
  f16["layers.0.bias"]["dtype"] = "F16";
  refused(file(f16, data), "is F16; backprop models hold F32 tensors");
  nlohmann::json overlap = header;  // the bias inside the weight's bytes, the first 8 unused
  overlap["layers.0.weight"]["data_offsets"] = {8, 32};
  overlap["layers.0.bias"]["data_offsets"] = {8, 16};
  refused(file(checksummed(overlap, data), data), "overlap");
  nlohmann::json plain = header;
  plain.erase("__metadata__");
  refused(file(plain, data), "not a backprop model");
}

// Issue 25, severe 6: a reader that stops reading (`| head`) killed the run by SIGPIPE before it
// saved. The left side starts after the reader has gone, so every line it prints meets a closed
// pipe; the run must still save its model, and end with 0 (pipefail shows its own status).
TEST_F(Hardening, AClosedPipeDoesNotLoseTheModel) {
  const std::string model = (dir_.path() / "piped.bpm").string();
  const test::RunResult r =
      test::run_shell("bash -c 'set -o pipefail; (sleep 0.3; exec " + test::backprop_binary() + " train " + small() +
                      " --device cpu --epochs 3 --save " + model + ") | true; echo status=$?'");
  EXPECT_NE(r.output.find("status=0"), std::string::npos) << r.output;
  ASSERT_TRUE(std::filesystem::exists(model)) << r.output;
  EXPECT_EQ(load_model(model).net.sizes, (std::vector<size_t>{16, 5, 3}));
}

// Issue 25, severe 7: a FIFO blocked every reader at open, and a device (/dev/zero) was read until
// memory ran out. Every command that reads a user-named file refuses both at once, by name, and
// exits 2 (1 for predict's pictures, which it reports one by one); a regression shows as the
// timeout's 124.
TEST_F(Hardening, DevicesAndFifosAreRefusedWithoutReading) {
  const std::string fifo = (dir_.path() / "pipe").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  const std::string model = (dir_.path() / "m.bpm").string();  // pictures are prepared to 28x28
  save_model(model, initialise({784, 5, 10}, Init::normal, 1));
  // The data folder's training images as a FIFO (the labels stay a file).
  test::TempDir fifo_data;
  test::write_fake_mnist(fifo_data.path().string(), 300, 50, 4, 4, 3, false);
  for (const auto& entry : std::filesystem::directory_iterator(fifo_data.path()))
    if (entry.path().filename().string().rfind("train-images", 0) == 0) std::filesystem::remove(entry.path());
  const std::string fifo_images = (fifo_data.path() / "train-images-idx3-ubyte").string();
  ASSERT_EQ(::mkfifo(fifo_images.c_str(), 0600), 0) << std::strerror(errno);
  const std::string timeout = "timeout 20 " + test::backprop_binary() + " ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"eval --model " + fifo + " " + data(), "is a FIFO"},
      {"eval --model /dev/zero " + data(), "is a device"},
      {"inspect --model " + fifo + " --out " + (dir_.path() / "pictures").string(), "is a FIFO"},
      {"predict --model " + fifo + " --index 0 " + data(), "is a FIFO"},
      {"predict --model " + model + " " + fifo, "is a FIFO"},
      {"predict --model " + model + " /dev/urandom", "is a device"},
      {"train --device cpu --quiet --resume " + fifo + " " + data(), "is a FIFO"},
      {"train --device cpu --quiet --epochs 1 --layers 16,5,3 --data " + fifo_data.path().string(), "is a FIFO"},
  };
  for (const auto& [args, says] : cases) {
    const test::RunResult r = test::run_shell(timeout + args + " </dev/null");
    EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << args << " exit " << r.exit_code << "\n" << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << args << "\n" << r.output;
  }
}

}  // namespace
}  // namespace bp
