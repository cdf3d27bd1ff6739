// The grid of a sweep: for each swept flag a list of values, and every combination of them, seeds
// innermost so that the networks of one setting are neighbours. Each swept flag is one line of
// `swept_flags()` (its name, how its text splits, and which RunSettings member it sets), so
// sweeping another `train` flag is one line there. A grid is also cut into shards: the I-th of N
// takes the networks whose index is I-1 modulo N, the same slice on every machine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/run_settings.hpp"

namespace bp::sweep {

// How a flag's text becomes values: numbers and counts split at commas, counts also take ranges
// "1-5"; a text value (a layer list "784,30,10" holds commas itself) is one value per word.
enum class Kind { real, count, text, words };

struct SweptFlag {
  const char* flag;  // "--eta"
  const char* help;
  Kind kind;
  void (*apply)(RunSettings& s, const std::string& value);  // sets the member from one value's text
};

// Every flag a sweep can vary, in the grid's order (outermost first; --seeds is last).
const std::vector<SweptFlag>& swept_flags();

// The values of one flag from the words given on the command line (each word a list). Throws
// bp::UsageError naming the flag on an empty list, a bad number or a bad range ("5-1", "a-b").
std::vector<std::string> parse_values(const SweptFlag& f, const std::vector<std::string>& words);

struct Axis {
  std::string flag;
  std::vector<std::string> values;  // canonical text: the same value is always the same text
};

class Grid {
 public:
  // `base` holds the settings no axis varies; axes in swept_flags() order, none empty.
  Grid(RunSettings base, std::vector<Axis> axes);
  uint64_t size() const { return size_; }
  const std::vector<Axis>& axes() const { return axes_; }
  // The settings of network `index` (0 <= index < size()).
  RunSettings at(uint64_t index) const;
  // The value of each axis for network `index`.
  std::vector<std::string> values_at(uint64_t index) const;
  // One line naming the grid (its axes and the fixed settings): shards of one sweep share it.
  std::string signature() const;

 private:
  RunSettings base_;
  std::vector<Axis> axes_;
  std::vector<const SweptFlag*> flags_;  // each axis's
  uint64_t size_ = 1;
};

struct Shard {
  uint64_t index = 1, count = 1;  // the index-th of count, 1-based
};

// "I/N" with 1 <= I <= N; bp::UsageError otherwise.
Shard parse_shard(const std::string& text);

// The grid indices of `shard`, ascending.
std::vector<uint64_t> shard_indices(uint64_t grid_size, const Shard& shard);

}  // namespace bp::sweep
