// MNIST-format data sets: images kept as bytes (converted to float only where a minibatch is
// built), labels as bytes, and the train / validation / test split as views without copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernels/shifts.cuh"

namespace bp {

// A run of `count` labelled images, each `dim` bytes, owned elsewhere. With `shifts` set it holds
// kShiftVariants samples per image (see kernels/shifts.cuh): sample s is image s % count, shifted
// as variant s / count says; gathers make the shifted pixels, the bytes stay the images'.
struct DataView {
  const uint8_t* pixels = nullptr;  // (dim, count): one image after another
  const uint8_t* labels = nullptr;  // (count)
  size_t count = 0;
  size_t dim = 0;
  size_t width = 0;  // pixels per image row; needed only for shifts
  bool shifts = false;

  DataView slice(size_t begin, size_t n) const;  // of the images; the slice is not shifted
  // The same images with the four shifted copies; throws UsageError without a width.
  DataView shifted() const;
  size_t samples() const { return shifts ? count * kShiftVariants : count; }
  Expansion expansion() const { return shifts ? Expansion{count, width} : Expansion{}; }
  uint8_t label(size_t sample) const { return labels[expansion().image(sample)]; }
  // The `dim` bytes of a sample, shifted if it is a shifted one.
  void copy_sample(size_t sample, uint8_t* out) const;
};

// Images and labels of one IDX pair, checked to match.
struct LabelledImages {
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> labels;
  size_t count = 0, rows = 0, cols = 0;

  DataView view() const { return {pixels.data(), labels.data(), count, rows * cols, cols, false}; }
};

LabelledImages load_labelled_images(const std::string& images_path, const std::string& labels_path);

// Unset sizes default to Nielsen's split scaled to the file: the last sixth of the training
// file is validation (10,000 of MNIST's 60,000) and the rest is training (50,000).
struct Split {
  std::optional<size_t> train;
  std::optional<size_t> validation;
};

struct Dataset {
  LabelledImages training_file, test_file;
  DataView train, validation, test;
  size_t classes = 0;  // given, or 1 + the largest label (checked)
  size_t input_size() const { return train.dim; }
};

// The same data with only the first n (at most train.count) training images: views into d's
// images, no copy (the result owns no files, and is valid while d lives). A sweep's
// --train-size list trains each network on such a prefix of the one data set loaded.
Dataset first_training_images(const Dataset& d, size_t n);

// Loads DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. Throws UsageError when files are
// missing (with the fetch command to run) or the split does not fit, Error when malformed.
// `classes` (a network's outputs) settles the number of classes: every label must be below it.
// Unset, it is inferred (1 + the largest label), and refused, naming the file and index, when a
// class below it has no training example or the training and test labels end at different
// values: one stray label (10, 255) would otherwise build a wrong network silently.
Dataset load_dataset(const std::string& dir, Split split, std::optional<size_t> classes = {});

// DIR/BASE, or DIR/BASE.gz, whichever exists; UsageError (with the fetch command) when neither.
std::string find_data_file(const std::string& dir, const std::string& base);

// Every file of DIR that the loader may read (each of the four files, raw and .gz, where it
// exists): what no output of a run may overwrite.
std::vector<std::string> data_files(const std::string& dir);

// Only the test pair of DIR (for commands that need no training file).
LabelledImages load_test_images(const std::string& dir);

// Seeded random images (uniform bytes) and labels in [0, classes), for tests and for gradcheck
// without data.
LabelledImages synthetic_images(size_t count, size_t rows, size_t cols, size_t classes, uint64_t seed);

// The labels of `data` in a seeded random order, for the regularity experiment: the images keep
// their places, the labels (and so the class frequencies) are permuted once.
std::vector<uint8_t> shuffled_labels(const DataView& data, uint64_t seed);

// The folder tests and tools look in: $BACKPROP_DATA if set, else `fallback`.
std::string default_data_dir(const std::string& fallback = "data/mnist");

}  // namespace bp
