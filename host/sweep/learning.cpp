// See learning.hpp.
#include "sweep/learning.hpp"

#include <algorithm>
#include <map>
#include <string>

#include "sweep/summary.hpp"

namespace bp::sweep {
namespace {

double final_test(const NetworkRun& run) {  // %, 0 for a diverged network (as in the table)
  if (run.epochs.empty() || !run.epochs.back().finite || run.epochs.back().test_count == 0) return 0;
  return 100.0 * double(run.epochs.back().test_correct) / double(run.epochs.back().test_count);
}

// "784-15-10" for a layer list, else "eta 3"; the values of the flags that vary, but the two drawn.
std::string label(const std::vector<Axis>& axes, const std::vector<std::string>& point) {
  std::string text;
  for (size_t a = 0; a < axes.size(); ++a) {
    if (axes[a].values.size() < 2 || axes[a].flag == "--train-size" || axes[a].flag == "--seeds") continue;
    std::string value = point[a];
    if (axes[a].flag == "--layers")
      std::replace(value.begin(), value.end(), ',', '-');
    else
      value = axes[a].flag.substr(2) + " " + value;
    text += (text.empty() ? "" : ", ") + value;
  }
  return text.empty() ? "all networks" : text;
}

}  // namespace

std::vector<LearningSeries> learning_series(const std::vector<Axis>& axes, const std::vector<NetworkRun>& runs) {
  const auto size_axis = std::find_if(axes.begin(), axes.end(), [](const Axis& a) { return a.flag == "--train-size"; });
  if (size_axis == axes.end() || size_axis->values.size() < 2) return {};
  const size_t at = size_t(size_axis - axes.begin());
  std::vector<std::vector<std::string>> order;                                   // settings in grid order
  std::map<std::vector<std::string>, std::map<double, std::vector<double>>> by;  // setting -> images -> tests
  for (const NetworkRun& run : runs) {
    std::vector<std::string> key = run.point;
    key[at].clear();
    for (size_t a = 0; a < axes.size(); ++a)
      if (axes[a].flag == "--seeds") key[a].clear();
    if (!by.count(key)) order.push_back(key);
    by[key][std::stod(run.point[at])].push_back(final_test(run));
  }
  std::vector<LearningSeries> out;
  for (const auto& key : order) {
    LearningSeries s;
    s.label = label(axes, key);
    for (const auto& [images, tests] : by[key]) {  // ascending images
      double sum = 0;
      for (double t : tests) sum += t;
      s.images.push_back(images);
      s.mean.push_back(sum / double(tests.size()));
      s.low.push_back(*std::min_element(tests.begin(), tests.end()));
      s.high.push_back(*std::max_element(tests.begin(), tests.end()));
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace bp::sweep
