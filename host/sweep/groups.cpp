// See groups.hpp.
#include "sweep/groups.hpp"

namespace bp::sweep {

bool same_group(const Plan& a, const Plan& b) {
  const RunSettings &s = a.run.settings, &t = b.run.settings;
  return a.sizes == b.sizes && a.hyper.cost == b.hyper.cost && s.batch_size == t.batch_size && s.epochs == t.epochs &&
         s.expand == t.expand && a.train_count == b.train_count && (a.hyper.momentum != 0) == (b.hyper.momentum != 0);
}

Grouping group_plans(const std::vector<Plan>& plans, size_t cap) {
  std::vector<std::vector<size_t>> keys;  // all plans of each key, in order
  for (size_t i = 0; i < plans.size(); ++i) {
    bool placed = false;
    for (auto& key : keys) {
      if (same_group(plans[key.front()], plans[i])) {
        key.push_back(i);
        placed = true;
        break;
      }
    }
    if (!placed) keys.push_back({i});
  }
  Grouping g;
  for (const auto& key : keys) {
    if (key.size() == 1) {
      g.alone.push_back(key.front());
      continue;
    }
    const size_t size = cap == 0 ? key.size() : cap;
    for (size_t at = 0; at < key.size(); at += size)
      g.groups.emplace_back(key.begin() + at, key.begin() + std::min(key.size(), at + size));
  }
  if (!g.alone.empty())
    g.reason = std::to_string(g.alone.size()) +
               " network(s) share their shape, batch, epochs, data and momentum with no other and train one at a time";
  return g;
}

size_t networks_that_fit(size_t free_bytes, size_t per_network) {
  if (per_network == 0) return 0;
  return (free_bytes - free_bytes / 10) / per_network;
}

}  // namespace bp::sweep
