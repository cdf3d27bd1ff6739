// The pictures of a sweep (--out DIR): a heat map of mean validation accuracy over two swept
// flags, the validation curves of the best settings, and the learning curve (accuracy against
// the number of training images). Each has a title, named axes with their units and ticks, and a
// legend or colour scale, drawn with Cairo (insight/canvas, insight/chart_*).
#pragma once

#include <string>
#include <vector>

#include "sweep/summary.hpp"

namespace bp::sweep {

// The two axes the heat map shows (rows, columns): --eta and --lambda when both vary, else the
// two that have the most values; a column index of -1 when only one flag varies, none (both
// -1) when nothing but the seeds does.
std::pair<int, int> heatmap_axes(const std::vector<Axis>& axes);

// heatmap.png: a cell per pair of values of the two axes, its number the mean validation % over
// seeds (the best setting among the other swept flags), darker for better, the best outlined; the
// rows and columns named by their flags and labelled with the values, and a colour scale from the
// worst cell to the best. Nothing is written when nothing but the seeds varies. Throws bp::Error
// (the file left as it was) if it cannot be drawn or written.
void write_heatmap(const std::string& path, const std::vector<Axis>& axes, const std::vector<Setting>& settings);

// curves.png: mean validation % after each epoch for the `count` best settings, numbered in table
// order (1 = best), each named in the legend by the settings in which the lines differ.
void write_curves(const std::string& path, const std::vector<Setting>& settings, size_t count = 5);

struct LearningSeries {
  std::string label;           // e.g. "784-15-10"
  std::vector<double> images;  // training images, ascending (x, drawn on a log axis)
  std::vector<double> mean, low,
      high;  // test accuracy % at each x: mean over seeds, and the band (min..max over seeds)
};

// learning_curve.png: test accuracy (%) against training images (log axis), one line per series
// with its band, a legend. Throws bp::Error naming `path` (which is left as it was) when there is
// no series, a series' lists differ in length, its images are not positive and ascending, or a
// value is not finite.
void write_learning_curve(const std::string& path, const std::vector<LearningSeries>& series);

}  // namespace bp::sweep
