// See pictures.hpp. The tiles are pixels (tile_grid); everything written on them is Cairo text.
#include "insight/pictures.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "insight/canvas.hpp"
#include "insight/chart_keys.hpp"

namespace bp {
namespace {

constexpr size_t kGap = 2;         // pixels between tiles
constexpr size_t kLabelRows = 18;  // under a captioned tile
constexpr double kMargin = 14;     // around a picture
constexpr double kBarWidth = 14;   // a colour scale's bar
constexpr double kBarGap = 20;     // between the picture and its colour scale
constexpr double kCaptionFont = 11;

// `s` in at most `size` pixels, smaller if it would not fit in `room` pixels.
double fitting(const Canvas& canvas, const std::string& s, double size, double room) {
  const double w = canvas.text_width(s, size);
  return w > room && w > 0 ? std::max(6.0, size * room / w) : size;
}

// Confusion shares as colour: small mistakes stay visible (0.15 at the first image), then sqrt.
double share_level(double share) { return share > 0 ? 0.15 + 0.85 * std::sqrt(share) : 0.0; }

}  // namespace

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

RgbImage captioned_tiles(const std::vector<std::vector<float>>& tiles, size_t side, size_t columns, size_t scale,
                         bool diverging, const TileCaptions& captions) {
  const size_t label_rows = captions.labels.empty() ? 0 : kLabelRows, tile = side * scale;
  const RgbImage grid = tile_grid(tiles, side, columns, scale, diverging, label_rows);
  const std::vector<chart::Tick> ticks{{-1, "\u22121"}, {0, "0"}, {1, "+1"}};
  const Canvas measure(1, 1, "the picture '" + captions.title + "'");
  const double scale_room = diverging ? kBarGap + kBarWidth + chart::colour_scale_room(measure, ticks) : 0;
  const double title_width = std::max(measure.text_width(captions.title, chart::kTitleFont, true),
                                      measure.text_width(captions.subtitle, chart::kSubtitleFont));
  const double top = 10 + chart::title_height(!captions.subtitle.empty()) + 8;
  const double width = std::max(2 * kMargin + double(grid.width) + scale_room, 2 * kMargin + title_width);
  // The bar as tall as the tiles (220 pixels at most), and at least as long as its name.
  const double name_length = diverging ? measure.text_width(captions.scale_name, chart::kNameFont) + 8 : 0;
  const double bar_height = std::max(std::min(double(grid.height) - 4, 220.0), name_length);
  const Canvas canvas(size_t(std::ceil(width)),
                      size_t(std::ceil(top + std::max(double(grid.height), bar_height + 4) + kMargin)), measure.what());
  chart::title(canvas, captions.title, captions.subtitle, kMargin);
  canvas.paste(grid, size_t(kMargin), size_t(top));
  for (size_t t = 0; t < tiles.size() && t < captions.labels.size(); ++t) {
    const double x = kMargin + double(kGap + (t % columns) * (tile + kGap)),
                 y = top + double(kGap + (t / columns) * (tile + kGap + label_rows) + tile);
    canvas.fill(x, y, double(tile), double(label_rows), kWhite);
    const std::string& s = captions.labels[t];
    canvas.text(x + double(tile) / 2, y + double(label_rows) / 2, s, fitting(canvas, s, kCaptionFont, double(tile) - 2),
                Align::centre);
  }
  if (diverging)
    chart::colour_scale(canvas, {kMargin + double(grid.width) + kBarGap, top + 2, kBarWidth, bar_height}, -1, 1, ticks,
                        chart::blue_white_red, captions.scale_name);
  return canvas.image();
}

RgbImage confusion_picture(const std::vector<std::vector<size_t>>& counts, size_t cell) {
  const size_t n = counts.size();
  size_t correct = 0, total = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < counts[i].size(); ++j) total += counts[i][j], correct += i == j ? counts[i][j] : 0;
  char percent[32];
  std::snprintf(percent, sizeof percent, "%.2f%%", total ? 100.0 * double(correct) / double(total) : 0.0);
  const std::string subtitle = chart::number_label(double(correct)) + " of " + chart::number_label(double(total)) +
                               " images right (" + percent + "); colour: the share of each row";
  const std::string title = "Confusion matrix: true label against the network's answer";
  std::vector<chart::Tick> ticks;  // the shares, placed where their colour is
  for (double v : {0.0, 0.01, 0.05, 0.2, 0.5, 1.0}) ticks.push_back({share_level(v), chart::number_label(100 * v)});
  const Canvas measure(1, 1, "the confusion picture");
  const double label_width = measure.text_width(std::to_string(n ? n - 1 : 0), chart::kTickFont);
  const double left = kMargin + chart::kNameFont + 8 + label_width + 8, top = 10 + chart::title_height(true) + 8;
  const double side = double(n * cell), right_room = kBarGap + kBarWidth + chart::colour_scale_room(measure, ticks);
  const double width = std::max(left + side + right_room + kMargin,
                                2 * kMargin + std::max(measure.text_width(title, chart::kTitleFont, true),
                                                       measure.text_width(subtitle, chart::kSubtitleFont)));
  const Canvas canvas(size_t(std::ceil(width)), size_t(std::ceil(top + side + chart::Plot::kBottomRoom + kMargin)),
                      measure.what());
  chart::title(canvas, title, subtitle, kMargin);
  for (size_t i = 0; i < n; ++i) {
    size_t row_total = 0;
    for (size_t c : counts[i]) row_total += c;
    const double y = top + double(i * cell), mid = double(cell) / 2;
    for (size_t j = 0; j < n && j < counts[i].size(); ++j) {
      const double x = left + double(j * cell);
      const double level = share_level(row_total ? double(counts[i][j]) / double(row_total) : 0.0);
      canvas.fill(x + 1, y + 1, double(cell) - 1, double(cell) - 1, chart::blues(level));
      if (counts[i][j] == 0) continue;
      const std::string s = std::to_string(counts[i][j]);
      canvas.text(x + mid + 0.5, y + mid + 0.5, s, fitting(canvas, s, kCaptionFont, double(cell) - 4), Align::centre,
                  level > 0.5 ? kWhite : kInk);
    }
    canvas.text(left - 8, y + mid, std::to_string(i), chart::kTickFont, Align::right);
    canvas.text(left + double(i * cell) + mid, top + side + 6 + chart::kTickFont / 2, std::to_string(i),
                chart::kTickFont, Align::centre);
  }
  canvas.text(kMargin + chart::kNameFont / 2, top + side / 2, "true label", chart::kNameFont, Align::centre, kInk,
              false, 90);
  canvas.text(left + side / 2, top + side + chart::Plot::kBottomRoom - chart::kNameFont / 2 - 2,
              "predicted label (the largest output)", chart::kNameFont, Align::centre);
  chart::colour_scale(canvas, {left + side + kBarGap, top, kBarWidth, side}, 0, 1, ticks, chart::blues,
                      "share of the row (%)");
  return canvas.image();
}

}  // namespace bp
