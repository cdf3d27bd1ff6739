// The backprop binary end to end on small generated data: bad flags and files give one message and
// exit 2; a trained, saved model evaluates to the same count on another backend.
#include <gtest/gtest.h>

#include <signal.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "train/checkpoint.hpp"

#include "helpers.hpp"

namespace bp {
namespace {

using test::run_backprop;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override { test::write_fake_mnist(dir_.path().string(), 300, 50, 4, 4, 3, true); }
  std::string data() const { return "--data " + dir_.path().string() + " --train-size 200 --validation-size 100"; }
  test::TempDir dir_;
};

TEST_F(Cli, BadFlagsExitTwoWithOneMessage) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train --batch 0", "--batch: must be a whole number, 1.."},
      {"train --eta -1", "--eta must be > 0"},
      {"train --layers 16,2", "is not below the network's 2 outputs"},
      {"train --layers 15,5,3", "starts with 15 inputs but the images have 16 pixels"},
      {"train --layers 16,x,3", "--layers must be comma-separated"},
      {"train --cost cubic", "--cost must be quadratic, cross-entropy or log-likelihood"},
      {"train --momentum 1", "--momentum must be >= 0 and < 1"},
      {"train --momentum -0.5", "--momentum must be >= 0 and < 1"},
      {"train --device tpu", "--device must be"},
      {"train --no-such-flag", "no-such-flag"},
      {"train --epochs 0", "--epochs: must be a whole number, 1.."},
      {"train --train-size 400", "exceeds the 300 training images"},
  };
  for (const auto& [args, message] : cases) {
    const auto r = run_backprop(args.substr(0, 5) + " " + data() + " --layers 16,5,3 " + args.substr(6));
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
  }
  const auto missing = run_backprop("train --data /nonexistent/mnist");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("scripts/fetch-mnist"), std::string::npos) << missing.output;
}

// --save writes the parameters of the best-validation epoch: the saved model evaluates (on another
// backend) to the test count printed for that epoch, which is found here from the epoch lines.
TEST_F(Cli, SavedModelIsTheBestValidationEpochsAndEvaluatesTheSameOnTheReference) {
  const std::string model = dir_.file("m.safetensors"), log = dir_.file("log.jsonl");
  const auto train = run_backprop(
      "train " + data() + " --layers 16,5,3 --epochs 6 --eta 6 --device cpu --quiet --save " + model + " --log " + log);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  std::vector<std::string> test;
  std::vector<int> validation;
  const std::regex line("Epoch (\\d+): (\\d+) / 50 .*validation (\\d+) / 100, eta 6,");
  for (std::sregex_iterator it(train.output.begin(), train.output.end(), line), end; it != end; ++it) {
    test.push_back((*it)[2]);
    validation.push_back(std::stoi((*it)[3]));
  }
  ASSERT_EQ(test.size(), 6u) << train.output;
  const size_t best = size_t(std::max_element(validation.begin(), validation.end()) - validation.begin());
  EXPECT_NE(train.output.find("saved " + model + ": the parameters of epoch " + std::to_string(best)),
            std::string::npos)
      << train.output;
  char at_best[64];
  std::snprintf(at_best, sizeof at_best, "test %.2f%% at the best validation epoch %zu;", std::stoi(test[best]) * 2.0,
                best);
  EXPECT_NE(train.output.find(std::string("best test accuracy: ")), std::string::npos) << train.output;
  EXPECT_NE(train.output.find(at_best), std::string::npos) << at_best << "\n" << train.output;
  const auto eval = run_backprop("eval --model " + model + " --data " + dir_.path().string() + " --device reference");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("test: " + test[best] + " / 50 correct"), std::string::npos) << eval.output;
}

TEST_F(Cli, TrainingToolFlagsAreChecked) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--schedule plateau:0", "--schedule must be none or plateau:N"},
      {"--schedule halve", "--schedule must be none or plateau:N"},
      {"--expand rotations", "--expand must be none or shifts"},
      {"--early-stop 3 --validation-size 0", "need validation data"},
      {"--schedule plateau:2 --validation-size 0", "need validation data"},
  };
  for (const auto& [args, message] : cases) {
    const auto r = run_backprop("train --data " + dir_.path().string() + " --train-size 200 --layers 16,5,3 " + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
  }
}

TEST_F(Cli, SavedModelEvaluatesTheSameOnTheReference) {
  for (const std::string cost : {"quadratic", "log-likelihood"}) {  // a softmax model evaluates as softmax
    const std::string model = dir_.file(cost + ".safetensors"), log = dir_.file(cost + ".jsonl");
    const auto train =
        run_backprop("train " + data() + " --layers 16,5,3 --epochs 2 --device cpu --quiet --save " + model +
                     " --log " + log + " --cost " + cost + (cost == "quadratic" ? "" : " --eta 0.5"));
    ASSERT_EQ(train.exit_code, 0) << train.output;
    // --save writes the best-validation epoch's parameters: the epoch named on the "saved" line.
    std::smatch saved, m;
    const std::string epoch =
        std::regex_search(train.output, saved, std::regex("the parameters of epoch (\\d+)")) ? saved[1].str() : "1";
    ASSERT_TRUE(std::regex_search(train.output, m, std::regex("Epoch " + epoch + ": (\\d+) / 50"))) << train.output;
    const auto eval = run_backprop("eval --model " + model + " --data " + dir_.path().string() + " --device reference");
    ASSERT_EQ(eval.exit_code, 0) << eval.output;
    EXPECT_NE(eval.output.find("test: " + m[1].str() + " / 50 correct"), std::string::npos) << cost << eval.output;
  }
}

TEST_F(Cli, CorruptModelIsRefused) {
  const std::string model = dir_.file("m.safetensors");
  ASSERT_EQ(run_backprop("train " + data() + " --layers 16,5,3 --epochs 1 --quiet --save " + model).exit_code, 0);
  std::FILE* f = std::fopen(model.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fseek(f, -3, SEEK_END);
  std::fputc('!', f);
  std::fclose(f);
  const auto r = run_backprop("eval --model " + model + " --data " + dir_.path().string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("checksum mismatch"), std::string::npos) << r.output;
}

TEST_F(Cli, InfoAndHelpRun) {
  const auto info = run_backprop("info");
  EXPECT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("GEMM"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find(" path: "), std::string::npos) << "no kernel path named: " << info.output;
  const auto help = run_backprop("train --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--layers"), std::string::npos);
}

TEST_F(Cli, GradcheckPassesOnSmallNetwork) {
  for (const std::string cost : {"cross-entropy", "log-likelihood"}) {
    const auto r = run_backprop("gradcheck --layers 16,6,3 --data " + dir_.path().string() + " --params 0 --cost " +
                                cost + " --lambda 1");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("gradcheck passed"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace bp

namespace bp {
namespace {

// CI's check of the benchmark: `bench --quick` writes JSON that parses, with every field present
// and sane. Speed is never asserted.
TEST(BenchQuick, JsonHasEveryField) {
  test::TempDir dir;
  const std::string data = test::mnist_dir().empty() ? dir.file("none") : test::mnist_dir();
  const auto r = test::run_backprop("bench --quick --epochs 1 --backends cpu,reference --data " + data + " --json " +
                                    dir.file("b.json") + " --markdown " + dir.file("b.md"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(dir.file("b.json"));
  const nlohmann::json report = nlohmann::json::parse(in);
  for (const char* key :
       {"version", "git_commit", "build", "cuda", "cpu_model", "hardware_threads", "threads", "data", "train_images",
        "test_images", "timed_epochs", "ceilings", "rows", "cpu_kernel_path", "cpu_gemm", "load_seconds"})
    EXPECT_TRUE(report.contains(key)) << key;
  ASSERT_TRUE(report["ceilings"].contains("cpu"));
  for (const char* key : {"sgemm_gflops", "sgemm_shape", "copy_gbps"})
    EXPECT_TRUE(report["ceilings"]["cpu"].contains(key));
  ASSERT_EQ(report["rows"].size(), 4u);  // seed and nielsen, on cpu and reference
  for (const auto& row : report["rows"]) {
    for (const char* key : {"config", "backend", "layers", "batch", "threads", "epoch_seconds", "epoch_seconds_min",
                            "epoch_seconds_max", "epochs_timed", "steps_timed", "extrapolated", "microseconds_per_step",
                            "samples_per_second", "gflop_per_epoch", "gflops", "eval_seconds", "epoch_eval_seconds",
                            "test_accuracy", "fraction_of_sgemm_ceiling"})
      EXPECT_TRUE(row.contains(key)) << key;
    EXPECT_GT(row["epoch_seconds"].get<double>(), 0.0);
    // The fields agree with each other (each is computed on its own in the suite): rate and
    // throughput from the median epoch, and the number of timed epochs asked for.
    const double med = row["epoch_seconds"].get<double>();
    EXPECT_NEAR(row["samples_per_second"].get<double>() * med, report["train_images"].get<double>(),
                1e-6 * report["train_images"].get<double>());
    EXPECT_NEAR(row["gflops"].get<double>() * med, row["gflop_per_epoch"].get<double>(),
                1e-9 + 1e-9 * row["gflop_per_epoch"].get<double>());
    if (!row["extrapolated"].get<bool>()) {
      EXPECT_EQ(row["epochs_timed"].get<int>(), 1);
    }
    EXPECT_GE(row["test_accuracy"].get<double>(), 0.0);
    EXPECT_LE(row["test_accuracy"].get<double>(), 1.0);
  }
  // The analytic FLOP count of 784-30-10: 4*784*30 + 4*30*10 + 2*30*10 per sample.
  EXPECT_DOUBLE_EQ(report["rows"][2]["gflop_per_epoch"].get<double>(),
                   (4.0 * 784 * 30 + 4.0 * 30 * 10 + 2.0 * 30 * 10) * report["train_images"].get<double>() / 1e9);
  EXPECT_NE(r.output.find("samples/s"), std::string::npos);
  EXPECT_GT(report["load_seconds"].get<double>(), 0.0);
  EXPECT_NE(r.output.find("kernels: " + report["cpu_gemm"].get<std::string>()), std::string::npos) << r.output;
}

}  // namespace
}  // namespace bp

namespace bp {
namespace {

class Reliability : public ::testing::Test {
 protected:
  void SetUp() override { test::write_fake_mnist(dir_.path().string(), 3000, 200, 28, 28, 10, false); }
  std::string args(const std::string& extra) const {
    return "train --data " + dir_.path().string() + " --train-size 2000 --validation-size 100 --quiet " + extra;
  }
  static void expect_same_parameters(const std::string& a, const std::string& b) {
    const ModelFile ma = load_model(a), mb = load_model(b);
    EXPECT_EQ(ma.net.weights, mb.net.weights) << a << " vs " << b;
    EXPECT_EQ(ma.net.biases, mb.net.biases) << a << " vs " << b;
  }
  test::TempDir dir_;
};

TEST_F(Reliability, ResumedRunIsBitIdentical) {
  const std::string whole = dir_.file("whole"), ck = dir_.file("ck"), resumed = dir_.file("resumed");
  ASSERT_EQ(run_backprop(args("--device cpu --epochs 4 --save " + whole)).exit_code, 0);
  const auto first = run_backprop(args("--device cpu --epochs 2 --checkpoint " + ck + " --checkpoint-every 1"));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(load_model(ck).metadata.at("next_epoch"), "2");
  const auto second = run_backprop("train --data " + dir_.path().string() + " --quiet --device cpu --resume " + ck +
                                   " --epochs 4 --save " + resumed);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("resuming"), std::string::npos);
  EXPECT_EQ(second.output.find("Epoch 1:"), std::string::npos) << "epochs 0-1 must not run again";
  expect_same_parameters(whole, resumed);
  // A conflicting setting is refused rather than silently mixed into the run.
  const auto conflict = run_backprop("train --data " + dir_.path().string() + " --resume " + ck + " --eta 0.5");
  EXPECT_EQ(conflict.exit_code, 2);
  EXPECT_NE(conflict.output.find("conflicts with the checkpoint"), std::string::npos) << conflict.output;
}

// The schedule's state, the best-validation parameters, momentum's velocities and the summary's
// figures travel in the checkpoint: a resumed run with the training tools saves the same model and prints the same
// summary as the uninterrupted one.
TEST_F(Reliability, ResumedRunWithTheTrainingToolsIsBitIdentical) {
  const std::string whole = dir_.file("whole"), ck = dir_.file("ck"), resumed = dir_.file("resumed");
  const std::string tools =
      " --layers 784,10,10 --eta 1 --schedule plateau:1 --expand shifts --device cpu --epochs 5"
      " --cost log-likelihood --momentum 0.5";
  const auto a = run_backprop(args(tools + " --save " + whole));
  ASSERT_EQ(a.exit_code, 0) << a.output;
  ASSERT_EQ(run_backprop(args(tools + " --epochs 3 --checkpoint " + ck + " --checkpoint-every 3")).exit_code, 0);
  EXPECT_NE(load_model(ck).metadata.count("schedule_halvings"), 0u);
  // --device cpu on the resume too: checkpoints do not choose the device, and auto may pick CUDA.
  const auto b = run_backprop("train --data " + dir_.path().string() + " --quiet --device cpu --resume " + ck +
                              " --epochs 5 --save " + resumed);
  ASSERT_EQ(b.exit_code, 0) << b.output;
  expect_same_parameters(whole, resumed);
  const auto summary = [](const std::string& out) {
    const size_t at = out.find("best test accuracy:");
    return at == std::string::npos ? std::string("(none)") : out.substr(at, out.find(" training in all", at) - at);
  };
  const auto saved = [](const std::string& out) {
    const size_t at = out.find("saved ");
    return at == std::string::npos ? std::string("(none)") : out.substr(out.find(':', at));
  };
  EXPECT_EQ(summary(a.output).substr(0, summary(a.output).rfind(';')),
            summary(b.output).substr(0, summary(b.output).rfind(';')));
  EXPECT_EQ(saved(a.output), saved(b.output)) << a.output << b.output;
  EXPECT_NE(a.output.find("eta 0.5,"), std::string::npos) << "the run should halve eta at least once\n" << a.output;
  EXPECT_EQ(load_model(ck).extra.count("velocity"), 1u);
}

// A checkpoint records the backend that trained it; a resume on another one says, in one line,
// that the run goes on but no longer repeats the uninterrupted one bit for bit. The same backend
// says nothing, and neither does a checkpoint from before the backend was recorded.
TEST_F(Reliability, ResumeOnAnotherBackendSaysSo) {
  const std::string ck = dir_.file("ck"), old = dir_.file("old");
  const std::string first = "train --data " + dir_.path().string() +
                            " --quiet --layers 784,10,10 --train-size 300 "
                            "--validation-size 50 --device cpu --epochs 1 --checkpoint " +
                            ck + " --checkpoint-every 1";
  ASSERT_EQ(run_backprop(first).exit_code, 0);
  const ModelFile checkpoint = load_model(ck);
  ASSERT_EQ(checkpoint.metadata.count("backend"), 1u);
  EXPECT_EQ(checkpoint.metadata.at("backend"), "cpu");
  const std::string notice = "notice: " + ck +
                             " was trained on cpu; resuming on reference: the run continues, but is "
                             "no longer bit-identical to an uninterrupted one";
  const std::string resume = "train --data " + dir_.path().string() + " --quiet --epochs 2 --resume ";
  const auto other = run_backprop(resume + ck + " --device reference");
  ASSERT_EQ(other.exit_code, 0) << other.output;
  EXPECT_NE(other.output.find(notice), std::string::npos) << other.output;
  const auto same = run_backprop(resume + ck + " --device cpu");
  ASSERT_EQ(same.exit_code, 0) << same.output;
  EXPECT_EQ(same.output.find("bit-identical"), std::string::npos) << same.output;
  // An older checkpoint, without the field, still resumes, and without the notice.
  Metadata md = checkpoint.metadata;
  md.erase("backend");
  save_model(old, checkpoint.net, md, checkpoint.extra);
  const auto older = run_backprop(resume + old + " --device reference");
  ASSERT_EQ(older.exit_code, 0) << older.output;
  EXPECT_EQ(older.output.find("bit-identical"), std::string::npos) << older.output;
  EXPECT_NE(older.output.find("resuming"), std::string::npos) << older.output;
}

// With momentum the checkpoint also carries the velocities (and only the checkpoint: the saved
// model stays a plain parameter file); a resume that lost them would not be bit-identical.
TEST_F(Reliability, ResumedMomentumRunIsBitIdentical) {
  const std::string whole = dir_.file("whole"), ck = dir_.file("ck"), resumed = dir_.file("resumed");
  const std::string tools = " --cost log-likelihood --init scaled --eta 0.1 --lambda 5 --momentum 0.9";
  ASSERT_EQ(run_backprop(args("--device cpu --epochs 3 --save " + whole + tools)).exit_code, 0);
  const auto first = run_backprop(args("--device cpu --epochs 1 --checkpoint " + ck + " --checkpoint-every 1" + tools));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const ModelFile checkpoint = load_model(ck);
  EXPECT_EQ(checkpoint.metadata.at("momentum"), "0.90000000000000002");
  ASSERT_EQ(checkpoint.extra.count("velocity"), 1u);
  EXPECT_GT(parameter_distance(zero_network(checkpoint.net.sizes), checkpoint.extra.at("velocity")), 0.0);
  EXPECT_TRUE(load_model(whole).extra.empty());
  const auto conflict = run_backprop("train --data " + dir_.path().string() + " --resume " + ck + " --momentum 0.5");
  EXPECT_EQ(conflict.exit_code, 2) << conflict.output;
  const auto second = run_backprop("train --data " + dir_.path().string() + " --quiet --device cpu --resume " + ck +
                                   " --epochs 3 --save " + resumed);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  expect_same_parameters(whole, resumed);
}

TEST_F(Reliability, SigintWritesACheckpointThatResumesExactly) {
  const std::string ck = dir_.file("ck"), resumed = dir_.file("resumed"), whole = dir_.file("whole");
  // Bit-identical resumption is the CPU backend's promise (the float64 reference keeps more
  // precision than a float32 checkpoint holds). Wherever the signal lands, the result must equal
  // the uninterrupted run of as many epochs.
  test::Child child = test::spawn_backprop(args("--device cpu --epochs 100000 --checkpoint " + ck));
  ASSERT_GT(child.pid, 0);
  std::string seen;
  ASSERT_TRUE(child.wait_for("Epoch 0:", seen)) << seen;
  kill(child.pid, SIGINT);
  EXPECT_EQ(child.finish(seen), 130) << seen;
  EXPECT_NE(seen.find("checkpoint written to"), std::string::npos) << seen;
  const ModelFile m = load_model(ck);
  const size_t next_epoch = std::stoul(m.metadata.at("next_epoch"));
  ASSERT_GE(next_epoch, 1u);
  ASSERT_LT(next_epoch, 100000u);
  const std::string epochs = std::to_string(next_epoch + 1);
  const auto resume = run_backprop("train --data " + dir_.path().string() + " --quiet --device cpu --resume " + ck +
                                   " --epochs " + epochs + " --save " + resumed);
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  ASSERT_EQ(run_backprop(args("--device cpu --epochs " + epochs + " --save " + whole)).exit_code, 0);
  expect_same_parameters(whole, resumed);
}

TEST_F(Reliability, SigtermExits143AndSavesNothingWithoutACheckpointPath) {
  test::Child child = test::spawn_backprop(args("--device reference --epochs 50"));
  std::string seen;
  ASSERT_TRUE(child.wait_for("Epoch 0:", seen)) << seen;
  kill(child.pid, SIGTERM);
  EXPECT_EQ(child.finish(seen), 143) << seen;
  EXPECT_NE(seen.find("nothing saved"), std::string::npos) << seen;
}

// The one-line error rule (issue 25, item 11): on stderr, with the prefix, not among the epoch lines.
TEST_F(Reliability, DivergingRunStopsWithAMessage) {
  const std::string run = args("--device cpu --epochs 5 --cost cross-entropy --eta 1e38");
  const auto r = run_backprop(run);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("backprop: error: epoch 0: training diverged"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("smaller --eta"), std::string::npos) << r.output;
  const auto out = test::run_shell(test::backprop_binary() + " " + run + " 2>/dev/null");
  EXPECT_EQ(out.output.find("diverged"), std::string::npos) << out.output;
}

// The checkpoint of a run's last good epoch is not replaced by the diverged one's (non-finite
// parameters, which no resume could use).
TEST_F(Reliability, ADivergedEpochWritesNoCheckpoint) {
  const std::string ck = dir_.file("ck");
  const auto good = run_backprop(args("--device cpu --epochs 1 --checkpoint " + ck + " --checkpoint-every 1"));
  ASSERT_EQ(good.exit_code, 0) << good.output;
  const ModelFile before = load_model(ck);
  const auto r = run_backprop(
      args("--device cpu --epochs 5 --cost cross-entropy --eta 1e38 --checkpoint " + ck + " --checkpoint-every 1"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const ModelFile after = load_model(ck);  // also: still a readable checkpoint
  EXPECT_EQ(after.metadata, before.metadata) << "the diverged epoch's checkpoint replaced the good one";
  EXPECT_EQ(after.net.weights, before.net.weights);
}

}  // namespace
}  // namespace bp
