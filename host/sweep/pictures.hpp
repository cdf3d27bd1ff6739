// The pictures of a sweep (--out DIR): a heat map of mean validation accuracy over two swept
// flags, and the validation curves of the best settings.
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
// seeds (the best setting among the other swept flags), darker for better; rows and columns
// labelled with the values. Nothing is written when nothing but the seeds varies.
void write_heatmap(const std::string& path, const std::vector<Axis>& axes, const std::vector<Setting>& settings);

// curves.png: mean validation % after each epoch for the `count` best settings, numbered in table
// order (1 = best) in the legend on the right.
void write_curves(const std::string& path, const std::vector<Setting>& settings, size_t count = 5);

}  // namespace bp::sweep
