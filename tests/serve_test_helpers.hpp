// What the serve tests share: the test data folder, a model, and pictures.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "insight/image.hpp"
#include "serve/api.hpp"
#include "train/checkpoint.hpp"

namespace bp::test {

namespace fs = std::filesystem;

inline const fs::path kData = fs::path(BACKPROP_SOURCE_DIR) / "tests" / "data";

inline std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<fs::path> digit_pngs() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(kData))
    if (e.path().extension() == ".png") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

inline ModelFile test_model(uint64_t seed = 7) {
  ModelFile m;
  m.net = initialise({784, 30, 10}, Init::scaled, seed);
  m.metadata = {{"layers", "784,30,10"}, {"seed", std::to_string(seed)}};
  return m;
}

inline int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const serve::ApiError& e) {
    return e.status;
  }
  return 200;
}

// A 28x28 picture, 0 black .. 1 white, with a light bar and a fainter blob on black.
inline GreyImage light_on_dark() {
  GreyImage g;
  g.width = g.height = 28;
  g.pixels.assign(784, 0.0f);
  for (size_t y = 5; y < 22; ++y)
    for (size_t x = 12; x < 15; ++x) g.pixels[y * 28 + x] = 1.0f;
  for (size_t y = 6; y < 9; ++y)
    for (size_t x = 15; x < 19; ++x) g.pixels[y * 28 + x] = 0.6f;
  return g;
}

}  // namespace bp::test
