// See pictures.hpp.
#include "insight/pictures.hpp"

#include <algorithm>
#include <cmath>

namespace bp {
namespace {

constexpr size_t kGap = 2;  // pixels between tiles

// 3x5 glyphs, one row per 3 bits (most significant bit leftmost).
int glyph(char c, int row) {
  static const int digits[10][5] = {{7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7},
                                    {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 2, 2, 2},
                                    {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};
  static const int arrow[5] = {4, 2, 1, 2, 4}, dash[5] = {0, 0, 7, 0, 0}, dot[5] = {0, 0, 0, 0, 2};
  if (c >= '0' && c <= '9') return digits[c - '0'][row];
  if (c == '>') return arrow[row];
  if (c == '-') return dash[row];
  if (c == '.') return dot[row];
  return 0;
}

}  // namespace

void draw_text(RgbImage& image, size_t x, size_t y, const std::string& text, size_t scale, uint8_t r, uint8_t g,
               uint8_t b) {
  for (size_t i = 0; i < text.size(); ++i)
    for (int row = 0; row < 5; ++row)
      for (int col = 0; col < 3; ++col)
        if (glyph(text[i], row) & (4 >> col))
          for (size_t dy = 0; dy < scale; ++dy)
            for (size_t dx = 0; dx < scale; ++dx)
              image.set(x + (i * 4 + size_t(col)) * scale + dx, y + size_t(row) * scale + dy, r, g, b);
}

RgbImage tile_grid(const std::vector<std::vector<float>>& tiles, size_t side, size_t columns, size_t scale,
                   bool diverging, size_t label_rows) {
  const size_t rows = (tiles.size() + columns - 1) / columns, tile = side * scale;
  RgbImage out(columns * (tile + kGap) + kGap, rows * (tile + kGap + label_rows) + kGap, 200);
  for (size_t t = 0; t < tiles.size(); ++t) {
    const size_t ox = kGap + (t % columns) * (tile + kGap), oy = kGap + (t / columns) * (tile + kGap + label_rows);
    float biggest = 1e-12f;
    for (float v : tiles[t]) biggest = std::max(biggest, std::abs(v));
    for (size_t y = 0; y < side; ++y) {
      for (size_t x = 0; x < side; ++x) {
        const float v = tiles[t][y * side + x];
        uint8_t r, g, b;
        if (diverging) {
          const float s = std::clamp(v / biggest, -1.0f, 1.0f);
          const auto fade = uint8_t(std::lround(255 * (1 - std::abs(s))));
          r = s < 0 ? fade : 255;
          g = fade;
          b = s > 0 ? fade : 255;
        } else {
          r = g = b = uint8_t(std::lround(255 * (1 - std::clamp(v, 0.0f, 1.0f))));
        }
        for (size_t dy = 0; dy < scale; ++dy)
          for (size_t dx = 0; dx < scale; ++dx) out.set(ox + x * scale + dx, oy + y * scale + dy, r, g, b);
      }
    }
  }
  return out;
}

RgbImage confusion_picture(const std::vector<std::vector<size_t>>& counts, size_t cell) {
  const size_t n = counts.size(), margin = 8 * 2;
  RgbImage out(margin + n * cell, margin + n * cell, 255);
  for (size_t i = 0; i < n; ++i) {
    size_t row_total = 0;
    for (size_t c : counts[i]) row_total += c;
    for (size_t j = 0; j < n; ++j) {
      const double share = row_total ? double(counts[i][j]) / double(row_total) : 0.0;
      const double level = share > 0 ? 0.15 + 0.85 * std::sqrt(share) : 0.0;  // small mistakes stay visible
      const auto fade = uint8_t(std::lround(255 * (1 - level)));
      for (size_t dy = 1; dy < cell; ++dy)
        for (size_t dx = 1; dx < cell; ++dx) out.set(margin + j * cell + dx, margin + i * cell + dy, fade, fade, 255);
    }
    // True labels down the left, predictions across the top.
    draw_text(out, 2, margin + i * cell + cell / 2 - 5, std::to_string(i % 10), 2, 0, 0, 0);
    draw_text(out, margin + i * cell + cell / 2 - 3, 2, std::to_string(i % 10), 2, 0, 0, 0);
  }
  return out;
}

}  // namespace bp
