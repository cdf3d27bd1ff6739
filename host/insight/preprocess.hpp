// Turns a picture of one digit into an input the way MNIST was made: greyscale, inverted when the
// background is light (so ink is bright), cropped to the ink's bounding box, scaled to fit 20x20
// keeping the aspect ratio, and placed in a 28x28 field with its centre of mass at the centre.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "insight/image.hpp"

namespace bp {

constexpr size_t kPreparedSide = 28;  // MNIST's field: a prepared digit is 28x28
constexpr size_t kPreparedPixels = kPreparedSide * kPreparedSide;

struct Prepared {
  std::vector<uint8_t> pixels;      // 28x28, row-major, 0 = background, 255 = full ink
  bool inverted = false;            // the input had a light background
  std::array<size_t, 4> ink_box{};  // x0, y0, x1, y1 (exclusive) of the ink in the input
};

// Throws bp::Error when the picture shows no ink at all, or none survives the scaling to 28x28.
Prepared prepare_digit(const GreyImage& image);

// The 28x28 pixels drawn with characters, two per pixel, darkest to brightest " .:-=+*#%@".
std::string ascii_art(const std::vector<uint8_t>& pixels, size_t width = 28);

}  // namespace bp
