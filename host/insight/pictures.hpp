// The pictures of `backprop inspect`: grids of 28x28 tiles in a diverging or grey colour map, and
// the confusion matrix, each with a title, captions and a colour scale drawn with Cairo
// (insight/canvas, insight/chart_*).
#pragma once

#include <string>
#include <vector>

#include "insight/image.hpp"

namespace bp {

// One tile per vector (each side*side values, row-major), `columns` per row, each pixel drawn as
// scale x scale, tiles 2 pixels apart on grey, `label_rows` empty rows under each. Diverging: blue
// for negative, white for zero, red for positive, each tile scaled by its own largest magnitude.
// Otherwise grey from white (0) to black (1), like ink on paper. The bare pixels, no text.
RgbImage tile_grid(const std::vector<std::vector<float>>& tiles, size_t side, size_t columns, size_t scale,
                   bool diverging, size_t label_rows = 0);

struct TileCaptions {
  std::string title, subtitle;
  std::vector<std::string> labels;  // one under each tile, or none
  std::string scale_name;           // a diverging grid's colour scale: what -1 .. +1 measure
};

// tile_grid's tiles under a title, each with its label, and for a diverging grid a colour scale
// from -1 (blue) to +1 (red) of each tile's largest magnitude. Throws bp::Error if Cairo fails.
RgbImage captioned_tiles(const std::vector<std::vector<float>>& tiles, size_t side, size_t columns, size_t scale,
                         bool diverging, const TileCaptions& captions);

// counts[true][predicted] as a matrix of `cell`-pixel squares, true labels down the left and
// predictions along the bottom, each cell darker blue for a larger share of its row (its true
// label's images) and holding its count, with a title and a colour scale of the shares.
RgbImage confusion_picture(const std::vector<std::vector<size_t>>& counts, size_t cell);

}  // namespace bp
