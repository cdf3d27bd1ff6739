// Loading and splitting of MNIST-format data. The reader validates each file; here the pair is
// checked for agreement and the split for fit.
#include "data/dataset.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <tuple>

#include "base/error.hpp"
#include "base/rng.hpp"
#include "data/idx.hpp"

namespace bp {

DataView DataView::slice(size_t begin, size_t n) const {
  return {pixels + begin * dim, labels + begin, n, dim, width, false};
}

DataView DataView::shifted() const {
  if (width == 0 || dim % width != 0) throw UsageError("shifted images need images of known width");
  DataView out = *this;
  out.shifts = true;
  return out;
}

void DataView::copy_sample(size_t sample, uint8_t* out) const {
  const Expansion e = expansion();
  const uint8_t* image = pixels + e.image(sample) * dim;
  const unsigned v = e.variant(sample);
  for (size_t i = 0; i < dim; ++i) {
    const long from = shifted_source(i, dim, width, v);
    out[i] = from < 0 ? 0 : image[from];
  }
}

LabelledImages load_labelled_images(const std::string& images_path, const std::string& labels_path) {
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3) {
    throw Error(images_path + ": expected images of rank 3 (count, rows, columns), got rank " +
                std::to_string(images.dims.size()));
  }
  if (labels.dims.size() != 1) {
    throw Error(labels_path + ": expected labels of rank 1, got rank " + std::to_string(labels.dims.size()));
  }
  if (images.dims[0] != labels.dims[0]) {
    throw Error(images_path + " holds " + std::to_string(images.dims[0]) + " images but " + labels_path + " holds " +
                std::to_string(labels.dims[0]) + " labels");
  }
  LabelledImages out;
  out.count = images.dims[0];
  out.rows = images.dims[1];
  out.cols = images.dims[2];
  out.pixels = std::move(images.data);
  out.labels = std::move(labels.data);
  return out;
}

namespace {}  // namespace

std::string find_data_file(const std::string& dir, const std::string& base) {
  namespace fs = std::filesystem;
  for (const std::string& name : {base, base + ".gz"}) {
    const fs::path p = fs::path(dir) / name;
    if (fs::exists(p)) return p.string();
  }
  throw UsageError("MNIST not found in " + dir + " (no " + base + "[.gz]): run scripts/fetch-mnist " + dir +
                   ", or pass --data DIR");
}

std::vector<std::string> data_files(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const char* base :
       {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"})
    for (const std::string& name : {std::string(base), std::string(base) + ".gz"}) {
      std::error_code ec;
      const fs::path p = fs::path(dir) / name;
      if (fs::exists(p, ec)) out.push_back(p.string());
    }
  return out;
}

LabelledImages load_test_images(const std::string& dir) {
  return load_labelled_images(find_data_file(dir, "t10k-images-idx3-ubyte"),
                              find_data_file(dir, "t10k-labels-idx1-ubyte"));
}

namespace {

size_t index_of(const std::vector<uint8_t>& labels, size_t label) {
  return size_t(std::find(labels.begin(), labels.end(), uint8_t(label)) - labels.begin());
}

// The number of classes, given or inferred and checked (see load_dataset).
size_t check_classes(const LabelledImages& train, const std::string& train_path, const LabelledImages& test,
                     const std::string& test_path, std::optional<size_t> classes) {
  const auto largest = [](const LabelledImages& s) -> size_t {
    return s.labels.empty() ? 0 : *std::max_element(s.labels.begin(), s.labels.end());
  };
  const size_t max_train = largest(train), max_test = largest(test);
  const std::string settle = "; pass --layers ending in the number of classes to settle it";
  if (classes) {
    for (const auto& [s, path, max] : {std::tuple{&train, &train_path, max_train}, {&test, &test_path, max_test}}) {
      if (max >= *classes) {
        throw UsageError(*path + ": label " + std::to_string(max) + " at index " +
                         std::to_string(index_of(s->labels, max)) + " is not below the network's " +
                         std::to_string(*classes) + " outputs");
      }
    }
    return *classes;
  }
  if (max_test > max_train) {
    throw Error(test_path + ": label " + std::to_string(max_test) + " at index " +
                std::to_string(index_of(test.labels, max_test)) + " is larger than every training label (0.." +
                std::to_string(max_train) + ")" + settle);
  }
  if (max_train > max_test) {
    throw Error(train_path + ": label " + std::to_string(max_train) + " at index " +
                std::to_string(index_of(train.labels, max_train)) + " but the test labels end at " +
                std::to_string(max_test) + settle);
  }
  std::vector<size_t> seen(max_train + 1, 0);
  for (uint8_t l : train.labels) ++seen[l];
  for (size_t c = 0; c < seen.size(); ++c) {
    if (seen[c] == 0) {
      throw Error(train_path + ": no training example has label " + std::to_string(c) + " although labels go up to " +
                  std::to_string(max_train) + " (at index " + std::to_string(index_of(train.labels, max_train)) + ")" +
                  settle);
    }
  }
  return max_train + 1;
}

}  // namespace

Dataset first_training_images(const Dataset& d, size_t n) {
  Dataset out;
  out.train = d.train.slice(0, std::min(n, d.train.count));
  out.validation = d.validation;
  out.test = d.test;
  out.classes = d.classes;
  return out;
}

Dataset load_dataset(const std::string& dir, Split split, std::optional<size_t> classes) {
  Dataset d;
  const std::string train_labels = find_data_file(dir, "train-labels-idx1-ubyte");
  const std::string test_labels = find_data_file(dir, "t10k-labels-idx1-ubyte");
  d.training_file = load_labelled_images(find_data_file(dir, "train-images-idx3-ubyte"), train_labels);
  d.test_file = load_labelled_images(find_data_file(dir, "t10k-images-idx3-ubyte"), test_labels);
  if (d.training_file.rows != d.test_file.rows || d.training_file.cols != d.test_file.cols) {
    throw Error(dir + ": training images are " + std::to_string(d.training_file.rows) + "x" +
                std::to_string(d.training_file.cols) + " but test images are " + std::to_string(d.test_file.rows) +
                "x" + std::to_string(d.test_file.cols));
  }
  const size_t n = d.training_file.count;
  const size_t validation =
      split.validation.value_or(split.train ? std::min(n / 6, n - std::min(n, *split.train)) : n / 6);
  const size_t train = split.train.value_or(n - std::min(n, validation));
  if (train == 0) throw UsageError("--train-size must be >= 1");
  if (train > n || validation > n - train) {
    throw UsageError("--train-size " + std::to_string(train) + " plus --validation-size " + std::to_string(validation) +
                     " exceeds the " + std::to_string(n) + " training images in " + dir);
  }
  const DataView all = d.training_file.view();
  d.train = all.slice(0, train);
  d.validation = all.slice(n - validation, validation);  // Nielsen: the last images
  d.test = d.test_file.view();
  d.classes = check_classes(d.training_file, train_labels, d.test_file, test_labels, classes);
  return d;
}

LabelledImages synthetic_images(size_t count, size_t rows, size_t cols, size_t classes, uint64_t seed) {
  Rng rng(seed, /*stream=*/7);
  LabelledImages out;
  out.count = count;
  out.rows = rows;
  out.cols = cols;
  out.pixels.resize(count * rows * cols);
  for (uint8_t& p : out.pixels) p = uint8_t(rng.below(256));
  out.labels.resize(count);
  for (uint8_t& l : out.labels) l = uint8_t(rng.below(classes));
  return out;
}

std::vector<uint8_t> shuffled_labels(const DataView& data, uint64_t seed) {
  std::vector<uint8_t> labels(data.labels, data.labels + data.count);
  Rng rng(seed, /*stream=*/13);
  for (size_t i = labels.size(); i > 1; --i) std::swap(labels[i - 1], labels[rng.below(i)]);
  return labels;
}

std::string default_data_dir(const std::string& fallback) {
  const char* env = std::getenv("BACKPROP_DATA");
  return env && *env ? std::string(env) : fallback;
}

}  // namespace bp
