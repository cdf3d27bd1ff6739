// See chart_keys.hpp.
#include "insight/chart_keys.hpp"

#include <algorithm>
#include <cmath>

namespace bp::chart {
namespace {

constexpr double kLegendRow = 20, kSwatch = 26, kSwatchGap = 8;
constexpr double kTitleGap = 8;

Colour mix(Colour a, Colour b, double t) {
  t = std::clamp(t, 0.0, 1.0);
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

constexpr Colour rgb(int r, int g, int b) { return {r / 255.0, g / 255.0, b / 255.0}; }

}  // namespace

double title_height(bool with_subtitle) { return kTitleFont + 4 + (with_subtitle ? kSubtitleFont + 6 : 0); }

double title(const Canvas& canvas, const std::string& text, const std::string& subtitle, double x, double top) {
  canvas.text(x, top + kTitleFont / 2 + 2, text, kTitleFont, Align::left, kBlack, true);
  if (!subtitle.empty())
    canvas.text(x, top + kTitleFont + 4 + kSubtitleFont / 2 + 4, subtitle, kSubtitleFont, Align::left, kMuted);
  return top + title_height(!subtitle.empty()) + kTitleGap;
}

double legend_height(size_t entries, bool with_heading) {
  return double(entries + (with_heading ? 1 : 0)) * kLegendRow;
}

double legend_width(const Canvas& canvas, const std::vector<LegendEntry>& entries, const std::string& heading) {
  double w = heading.empty() ? 0 : canvas.text_width(heading, kTickFont, true);
  for (const LegendEntry& e : entries) w = std::max(w, kSwatch + kSwatchGap + canvas.text_width(e.label, kTickFont));
  return w;
}

void legend(const Canvas& canvas, double x, double y, const std::vector<LegendEntry>& entries,
            const std::string& heading) {
  double row = y + kLegendRow / 2;
  if (!heading.empty()) {
    canvas.text(x, row, heading, kTickFont, Align::left, kInk, true);
    row += kLegendRow;
  }
  for (const LegendEntry& e : entries) {
    if (e.band) canvas.fill(x, row - 6, kSwatch, 12, mix(e.colour, kWhite, 0.8));
    canvas.line(x, row, x + kSwatch, row, e.colour, 2.5);
    canvas.text(x + kSwatch + kSwatchGap, row, e.label, kTickFont);
    row += kLegendRow;
  }
}

double colour_scale_room(const Canvas& canvas, const std::vector<Tick>& ticks) {
  double widest = 0;
  for (const Tick& t : ticks) widest = std::max(widest, canvas.text_width(t.label, kTickFont));
  return 4 + 6 + widest + 8 + kNameFont + 4;
}

void colour_scale(const Canvas& canvas, Frame bar, double lo, double hi, const std::vector<Tick>& ticks, ColourMap map,
                  const std::string& name) {
  const Scale s{lo, hi, false};
  const auto rows = size_t(std::lround(bar.height));
  for (size_t r = 0; r < rows; ++r) {  // one row of pixels at a time, the top row hi
    const double t = hi > lo ? 1 - (double(r) + 0.5) / double(rows) : 1.0;
    canvas.fill(bar.x, bar.y + double(r), bar.width, 1, map(t));
  }
  cairo_t* cr = canvas.cr();
  cairo_save(cr);
  cairo_rectangle(cr, std::floor(bar.x) + 0.5, std::floor(bar.y) + 0.5, std::round(bar.width), double(rows));
  cairo_set_source_rgb(cr, kMuted.r, kMuted.g, kMuted.b);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
  cairo_restore(cr);
  const double right = bar.x + bar.width;
  double widest = 0;
  for (const Tick& t : ticks) {
    if (hi > lo && (t.value < lo - 1e-9 * (hi - lo) || t.value > hi + 1e-9 * (hi - lo))) continue;
    const double y =
        std::floor(hi > lo ? bar.y + (1 - s.fraction(t.value)) * bar.height : bar.y + bar.height / 2) + 0.5;
    canvas.line(right, y, right + 4, y, kInk);
    canvas.text(right + 4 + 6, y, t.label, kTickFont);
    widest = std::max(widest, canvas.text_width(t.label, kTickFont));
  }
  canvas.text(right + 4 + 6 + widest + 8 + kNameFont / 2, bar.y + bar.height / 2, name, kNameFont, Align::centre, kInk,
              false, 90);
}

Colour series_colour(size_t i) {
  static constexpr Colour kTableau[] = {rgb(31, 119, 180),  rgb(255, 127, 14), rgb(44, 160, 44),   rgb(214, 39, 40),
                                        rgb(148, 103, 189), rgb(140, 86, 75),  rgb(227, 119, 194), rgb(127, 127, 127),
                                        rgb(188, 189, 34),  rgb(23, 190, 207)};
  return kTableau[i % std::size(kTableau)];
}

Colour blues(double t) { return mix(rgb(240, 244, 250), rgb(8, 48, 107), t); }

Colour blue_white_red(double t) {
  return t < 0.5 ? mix(rgb(0, 0, 255), kWhite, t * 2) : mix(kWhite, rgb(255, 0, 0), t * 2 - 1);
}

}  // namespace bp::chart
