// `backprop inspect`: PNG pictures of what a saved model learned (no Python needed): its
// first-layer weights, each class's saliency, the confusion matrix (also printed) and the most
// confidently misclassified test digits, labelled "true → predicted", each with a title and captions.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "base/error.hpp"
#include "cli/common.hpp"
#include "insight/inspect.hpp"
#include "insight/pictures.hpp"
#include "kernels/model_math.cuh"
#include "train/checkpoint.hpp"

namespace bp::cli {
namespace {

class InspectCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    CLI::App* sub = app.add_subcommand("inspect", "Draw what a saved model learned (PNG files)");
    sub->add_option("--model", model_, "Model file written by train --save")->required();
    sub->add_option("--out", out_, "Folder for the pictures (made if missing)")->required();
    sub->add_option("--data", data_dir_, "MNIST-format folder; the test set is used")->capture_default_str();
    sub->add_option("--mistakes", mistakes_, "How many misclassified digits in the gallery")
        ->check(count(0, 10000))
        ->capture_default_str();
    return sub;
  }

  int run() override {
    make_folder(out_);  // before the work: a bad --out is found at once
    const ModelFile model = load_model(model_);
    const Dataset data = load_dataset(data_dir_, {}, model.net.sizes.back());
    check_model_fits(model_, model.net, data.input_size(), data.classes);
    const size_t side = size_t(std::lround(std::sqrt(double(data.input_size()))));
    if (side * side != data.input_size())
      throw UsageError(data_dir_ + ": inspect draws square images; these have " + std::to_string(data.input_size()) +
                       " pixels");
    const reference::Params p = reference::from_network(model.net);
    const Inspection in = inspect(p, data.test, data.classes);

    std::string shape;
    for (size_t n : model.net.sizes) shape += (shape.empty() ? "" : "-") + std::to_string(n);
    const std::string tile = std::to_string(side) + "x" + std::to_string(side);

    // Hidden neuron j's incoming weights, W0 row j, as a picture.
    std::vector<std::vector<float>> weights(model.net.sizes[1], std::vector<float>(data.input_size()));
    TileCaptions w{"First-layer weights of the " + shape + " network: one " + tile + " tile per hidden neuron",
                   "red: ink on that pixel raises the neuron's input, blue lowers it; each tile scaled to its largest "
                   "weight",
                   {},
                   "weight (scaled per tile)"};
    for (size_t j = 0; j < weights.size(); ++j) {
      for (size_t k = 0; k < data.input_size(); ++k) weights[j][k] = model.net.w(0, j, k);
      w.labels.push_back("neuron " + std::to_string(j));
    }
    write(out_ + "/weights.png", captioned_tiles(weights, side, 10, 3, true, w));
    TileCaptions s{
        "Saliency: the pixels that raise each class's output",
        "d output / d pixel, mean over the class's test images; red raises the output, blue lowers it; each tile "
        "scaled to its largest magnitude",
        {},
        "gradient (scaled per tile)"};
    for (size_t c = 0; c < data.classes; ++c) s.labels.push_back("class " + std::to_string(c));
    write(out_ + "/saliency.png", captioned_tiles(in.saliency, side, data.classes, 4, true, s));
    write(out_ + "/confusion.png", confusion_picture(in.confusion, 36));

    std::vector<std::vector<float>> gallery;
    TileCaptions g{"", "under each: true label \u2192 the network's answer (its output)", {}, ""};
    for (size_t i = 0; i < std::min(mistakes_, in.mistakes.size()); ++i) {
      const Mistake& m = in.mistakes[i];
      const uint8_t* px = data.test.pixels + m.index * data.test.dim;
      gallery.emplace_back(data.test.dim);
      std::transform(px, px + data.test.dim, gallery.back().begin(), normalise_pixel);
      char label[64];
      std::snprintf(label, sizeof label, "%d \u2192 %d (%.3f)", m.label, m.predicted, m.confidence);
      g.labels.push_back(label);
    }
    g.title = "The " + std::to_string(gallery.size()) + " most confident mistakes on the test set";
    if (!gallery.empty()) write(out_ + "/mistakes.png", captioned_tiles(gallery, side, 8, 3, false, g));
    print_confusion(in.confusion);
    std::printf("wrote weights.png, saliency.png, confusion.png%s in %s\n", gallery.empty() ? "" : ", mistakes.png",
                out_.c_str());
    return 0;
  }

 private:
  static void make_folder(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw UsageError("--out " + dir + ": cannot make the folder: " + ec.message());
    if (!std::filesystem::is_directory(dir)) throw UsageError("--out " + dir + " exists and is not a folder");
  }

  static void write(const std::string& path, const RgbImage& image) { write_png(path, image); }

  static void print_confusion(const std::vector<std::vector<size_t>>& c) {
    std::printf("confusion matrix (rows: true label, columns: predicted)\n     ");
    for (size_t j = 0; j < c.size(); ++j) std::printf("%6zu", j);
    std::printf("\n");
    size_t correct = 0, total = 0;
    for (size_t i = 0; i < c.size(); ++i) {
      std::printf("%4zu ", i);
      for (size_t j = 0; j < c.size(); ++j) {
        std::printf("%6zu", c[i][j]);
        total += c[i][j];
        if (i == j) correct += c[i][j];
      }
      std::printf("\n");
    }
    std::printf("%zu / %zu correct (%.2f%%)\n", correct, total, total ? 100.0 * double(correct) / double(total) : 0.0);
  }

  std::string model_, out_, data_dir_ = default_data_dir();
  size_t mistakes_ = 32;
};

}  // namespace

std::unique_ptr<Command> make_inspect_command() { return std::make_unique<InspectCommand>(); }

}  // namespace bp::cli
