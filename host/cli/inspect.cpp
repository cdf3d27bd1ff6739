// `backprop inspect`: PNG pictures of what a saved model learned (no Python needed): its
// first-layer weights, each class's saliency, the confusion matrix (also printed) and the most
// confidently misclassified test digits, labelled "true>predicted".
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

    // Hidden neuron j's incoming weights, W0 row j, as a picture.
    std::vector<std::vector<float>> weights(model.net.sizes[1], std::vector<float>(data.input_size()));
    for (size_t j = 0; j < weights.size(); ++j)
      for (size_t k = 0; k < data.input_size(); ++k) weights[j][k] = model.net.w(0, j, k);
    write(out_ + "/weights.png", tile_grid(weights, side, 10, 3, true));
    write(out_ + "/saliency.png", tile_grid(in.saliency, side, data.classes, 4, true));
    write(out_ + "/confusion.png", confusion_picture(in.confusion, 24));

    std::vector<std::vector<float>> gallery;
    for (size_t i = 0; i < std::min(mistakes_, in.mistakes.size()); ++i) {
      const uint8_t* px = data.test.pixels + in.mistakes[i].index * data.test.dim;
      gallery.emplace_back(data.test.dim);
      std::transform(px, px + data.test.dim, gallery.back().begin(), normalise_pixel);
    }
    if (!gallery.empty()) {
      const size_t columns = 8, scale = 3, label_rows = 14;
      RgbImage g = tile_grid(gallery, side, columns, scale, false, label_rows);
      for (size_t i = 0; i < gallery.size(); ++i) {
        const size_t x = 2 + (i % columns) * (side * scale + 2),
                     y = 2 + (i / columns) * (side * scale + 2 + label_rows);
        draw_text(g, x + 2, y + side * scale + 2,
                  std::to_string(in.mistakes[i].label) + ">" + std::to_string(in.mistakes[i].predicted), 2, 160, 0, 0);
      }
      write(out_ + "/mistakes.png", g);
    }
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
