// The pictures of `backprop inspect`: grids of 28x28 tiles in a diverging or grey colour map, a
// confusion heat map, and labels in a tiny built-in digit font (no font files needed).
#pragma once

#include <string>
#include <vector>

#include "insight/image.hpp"

namespace bp {

// One tile per vector (each side*side values, row-major), `columns` per row, each pixel drawn as
// scale x scale. Diverging: blue for negative, white for zero, red for positive, each tile scaled
// by its own largest magnitude. Otherwise grey from white (0) to black (1), like ink on paper.
RgbImage tile_grid(const std::vector<std::vector<float>>& tiles, size_t side, size_t columns, size_t scale,
                   bool diverging, size_t label_rows = 0);

// Writes text (digits, '>', '-', '.', ' ') with its top-left corner at (x, y), each font pixel
// scale x scale.
void draw_text(RgbImage& image, size_t x, size_t y, const std::string& text, size_t scale, uint8_t r, uint8_t g,
               uint8_t b);

// counts[true][predicted]: rows normalised, darker blue for larger shares, a cell per pair.
RgbImage confusion_picture(const std::vector<std::vector<size_t>>& counts, size_t cell);

}  // namespace bp
