// The progress bar's rate and ETA count only the samples since start(): each epoch's own, and a
// resume's first epoch from its first sample.
#include <gtest/gtest.h>

#include <regex>

#include "cli/progress.hpp"

namespace bp {
namespace {

double rate_in(const std::string& text) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(text, m, std::regex("(\\d+) samples/s"))) << text;
  return std::stod(m[1]);
}

TEST(ProgressBar, RateRestartsAtEachStart) {
  using namespace std::chrono;
  ProgressBar bar(false);
  const auto t0 = ProgressBar::Clock::now();
  bar.start("training", 0, t0);
  EXPECT_EQ(rate_in(bar.text(1000, 1000, t0 + seconds(1))), 1000);
  bar.start("training", 0, t0 + seconds(10));  // the next epoch, after a slow evaluation
  EXPECT_EQ(rate_in(bar.text(500, 1000, t0 + seconds(11))), 500);
  EXPECT_NE(bar.text(500, 1000, t0 + seconds(11)).find("ETA 1.0 s"), std::string::npos);
  bar.start("training", 600, t0);  // a resume at sample 600 of 1000
  EXPECT_EQ(rate_in(bar.text(800, 1000, t0 + seconds(2))), 100);
}

}  // namespace
}  // namespace bp
