// Reading and writing pictures through libpng's simplified API (and plain PGM, P2/P5, by hand:
// it is a header and the samples). Greyscale images are float in [0, 1], row-major.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bp {

struct GreyImage {
  size_t width = 0, height = 0;
  std::vector<float> pixels;  // (height, width), 0 = black, 1 = white
  float at(size_t x, size_t y) const { return pixels[y * width + x]; }
};

struct RgbImage {
  size_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // (height, width, 3)
  RgbImage(size_t w, size_t h, uint8_t fill = 255) : width(w), height(h), pixels(w * h * 3, fill) {}
  void set(size_t x, size_t y, uint8_t r, uint8_t g, uint8_t b);
};

// PNG (any colour type or depth; colour is converted to grey, alpha composed on white) or PGM.
// Throws bp::Error naming the file on anything it cannot read.
GreyImage read_grey_image(const std::string& path);
// The same for PNG bytes in memory (an upload); `name` labels errors. Pictures of more than
// `max_pixels` are refused before decoding (a small PNG can promise a huge picture). Throws bp::Error.
GreyImage read_grey_png(const std::string& bytes, const std::string& name, size_t max_pixels = SIZE_MAX);

// Atomic write (temporary file and rename), like models. Throws bp::Error.
void write_png(const std::string& path, const RgbImage& image);
void write_png(const std::string& path, const GreyImage& image);

}  // namespace bp
