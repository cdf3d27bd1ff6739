// See picture_labels.hpp.
#include "sweep/picture_labels.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <type_traits>

#include "train/run_settings.hpp"

namespace bp::sweep {
namespace {

// How a swept flag is named on an axis and, shorter, in a legend.
struct FlagName {
  const char* flag;
  const char* key;   // its RunSettings field (run_settings.hpp's metadata key)
  const char* axis;  // "learning rate η (--eta)"
  const char* short_name;
};

const FlagName* flag_name(const std::string& flag_or_key) {
  static const FlagName names[] = {
      {"--eta", "eta", "learning rate η (--eta)", "η"},
      {"--lambda", "lambda", "L2 regularisation λ (--lambda)", "λ"},
      {"--momentum", "momentum", "momentum μ (--momentum)", "μ"},
      {"--batch", "mini_batch", "mini-batch size, images (--batch)", "batch"},
      {"--epochs", "epochs", "epochs (--epochs)", "epochs"},
      {"--layers", "layers", "layer sizes (--layers)", "layers"},
      {"--cost", "cost", "cost (--cost)", "cost"},
      {"--init", "init", "initial weights (--init)", "init"},
      {"--schedule", "schedule", "learning-rate schedule (--schedule)", "schedule"},
      {"--early-stop", "early_stop", "early stop, epochs (--early-stop)", "early stop"},
      {"--expand", "expand", "training data (--expand)", "expand"},
      {"--train-size", "train_size", "training images (--train-size)", "images"},
      {"--validation-size", "validation_size", "validation images (--validation-size)", "validation"},
      {"--shuffle-labels", "shuffle_labels", "shuffled labels (--shuffle-labels)", "shuffled"},
  };
  for (const FlagName& n : names)
    if (flag_or_key == n.flag || flag_or_key == n.key) return &n;
  return nullptr;
}

std::string shape(std::string layers) {  // "784,30,10" -> "784-30-10"
  std::replace(layers.begin(), layers.end(), ',', '-');
  return layers;
}

// Each setting's value of every field of RunSettings, as text, by key.
std::map<std::string, std::string> field_texts(const RunSettings& s) {
  std::map<std::string, std::string> out;
  visit_fields(
      [&](const Field& f, const auto& v) {
        using T = std::decay_t<decltype(v)>;
        std::string text;
        if constexpr (std::is_same_v<T, std::string>) {
          text = f.key == std::string("layers") ? shape(v) : v;
        } else if constexpr (std::is_same_v<T, bool>) {
          text = v ? "on" : "off";
        } else if constexpr (std::is_same_v<T, double>) {
          char buf[64];
          std::snprintf(buf, sizeof buf, "%g", v);
          text = buf;
        } else if constexpr (std::is_same_v<T, std::optional<uint64_t>>) {
          text = v ? std::to_string(*v) : "all";
        } else {
          text = std::to_string(v);
        }
        out[f.key] = text;
      },
      s);
  return out;
}

}  // namespace

std::string axis_name(const std::string& flag) {
  const FlagName* n = flag_name(flag);
  return n ? n->axis : flag;
}

// What the runs of these settings share (the settings of their first runs): the network's shape
// and epochs when all have the same, and the seeds per setting.
std::string shared_description(const std::vector<const Setting*>& settings) {
  std::map<std::string, std::string> first;
  std::vector<std::string> parts;
  size_t fewest = SIZE_MAX, most = 0;
  bool same_layers = true, same_epochs = true;
  for (const Setting* s : settings) {
    if (s->runs.empty()) continue;
    fewest = std::min(fewest, s->runs.size()), most = std::max(most, s->runs.size());
    const auto t = field_texts(s->runs.front()->settings);
    if (first.empty()) first = t;
    same_layers = same_layers && t.at("layers") == first.at("layers");
    same_epochs = same_epochs && t.at("epochs") == first.at("epochs");
  }
  if (first.empty()) return "";
  if (same_layers && !first.at("layers").empty()) parts.push_back(first.at("layers"));
  if (same_epochs) parts.push_back(first.at("epochs") + (first.at("epochs") == "1" ? " epoch" : " epochs"));
  const std::string seeds = fewest == most ? std::to_string(most) : std::to_string(fewest) + "-" + std::to_string(most);
  parts.push_back("mean over " + seeds + (most == 1 ? " seed" : " seeds"));
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// A legend label for each setting: the values of the fields in which they differ (seed aside).
std::vector<std::string> differing_labels(const std::vector<const Setting*>& settings) {
  std::vector<std::map<std::string, std::string>> texts;
  for (const Setting* s : settings)
    texts.push_back(s->runs.empty() ? decltype(texts)::value_type{} : field_texts(s->runs.front()->settings));
  std::vector<std::string> keys;
  if (!texts.empty())
    for (const auto& [key, value] : texts.front()) {
      if (key == "seed") continue;
      for (const auto& t : texts)
        if (t.count(key) == 0 || t.at(key) != value) {
          keys.push_back(key);
          break;
        }
    }
  std::vector<std::string> out;
  for (size_t i = 0; i < settings.size(); ++i) {
    std::string label;
    for (const std::string& key : keys) {
      const FlagName* n = flag_name(key);
      label += (label.empty() ? "" : ", ") + std::string(n ? n->short_name : key.c_str()) + " " +
               (texts[i].count(key) ? texts[i].at(key) : "?");
    }
    out.push_back(std::to_string(i + 1) + (label.empty() ? "" : ": " + label));
  }
  return out;
}

}  // namespace bp::sweep
