// What tells a reader how to read a chart: its title, a legend naming each line, a colour scale
// naming what each colour means, and the colours themselves.
#pragma once

#include <string>
#include <vector>

#include "insight/canvas.hpp"
#include "insight/chart_plot.hpp"
#include "insight/chart_scale.hpp"

namespace bp::chart {

// The title in bold and, when given, a subtitle under it, from (x, top). Returns the y below them.
double title(const Canvas& canvas, const std::string& text, const std::string& subtitle = "", double x = 14,
             double top = 10);
// The height title() takes.
double title_height(bool with_subtitle);

struct LegendEntry {
  std::string label;
  Colour colour;
  bool band = false;  // a pale box behind the line: the entry has a band (a spread) around it
};

// A heading (when given), then one entry a line from (x, y) down: a short line in its colour and
// its label.
void legend(const Canvas& canvas, double x, double y, const std::vector<LegendEntry>& entries,
            const std::string& heading = "");
double legend_width(const Canvas& canvas, const std::vector<LegendEntry>& entries, const std::string& heading = "");
double legend_height(size_t entries, bool with_heading);

using ColourMap = Colour (*)(double t);  // t from 0 to 1

// A vertical bar in `bar`, map(0) at the bottom for lo and map(1) at the top for hi, the ticks
// within [lo, hi] labelled right of it and its name reading upwards beyond them. A single value
// (lo == hi) is one colour, map(1), and one label.
void colour_scale(const Canvas& canvas, Frame bar, double lo, double hi, const std::vector<Tick>& ticks, ColourMap map,
                  const std::string& name);
// The width right of the bar that colour_scale's labels and name take.
double colour_scale_room(const Canvas& canvas, const std::vector<Tick>& ticks);

// Line colours, distinct in print and for the commonest colour blindness (Tableau's ten), in turn.
Colour series_colour(size_t i);
// Sequential: 0 nearly white, 1 dark blue.
Colour blues(double t);
// Diverging: 0 blue, 0.5 white, 1 red.
Colour blue_white_red(double t);

}  // namespace bp::chart
