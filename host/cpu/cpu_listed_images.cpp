// See cpu_listed_images.hpp.
#include "cpu/cpu_listed_images.hpp"

#include <mutex>

#include "cpu/cpu_path.hpp"
#include "kernels/model_math.cuh"

namespace bp {

ListedImages list_images(const DataView& view) {
  ListedImages out;
  const SparseInputKernels* kernels = cpu_path_sparse_input();
  if (!kernels || view.dim == 0 || view.dim > 65536 || view.count == 0 || view.count * view.dim > (size_t(1) << 40))
    return out;
  std::vector<int32_t> index(view.dim + 64);
  std::vector<float> value(view.dim + 64);
  out.start.reserve(view.count + 1);
  out.index.reserve(view.count * view.dim / 4);  // MNIST: ~19% of the pixels, so growth is rare
  out.value.reserve(view.count * view.dim / 4);
  out.start.push_back(0);
  const size_t limit = view.count * view.dim / 2;  // denser data goes to the dense kernels anyway
  for (size_t i = 0; i < view.count; ++i) {
    const uint8_t* p = view.pixels + i * view.dim;
    const int n = kernels->nonzeros(p, int(view.dim), normalise_pixel(1), index.data(), value.data());
    if (out.index.size() + size_t(n) > limit || out.index.size() + size_t(n) > UINT32_MAX) return ListedImages{};
    // Grown once per image, then written: a push_back per pixel checked the capacity each time.
    const size_t at = out.index.size();
    out.index.resize(at + size_t(n));
    out.value.resize(at + size_t(n));
    uint16_t* __restrict to_index = out.index.data() + at;
    uint8_t* __restrict to_value = out.value.data() + at;
    for (int q = 0; q < n; ++q) {
      to_index[q] = uint16_t(index[q]);
      to_value[q] = p[index[q]];
    }
    out.start.push_back(uint32_t(at + size_t(n)));
  }
  // Room for the widening kernels' last vector, which may read past an image's list.
  out.index.resize(out.index.size() + 64, 0);
  out.value.resize(out.value.size() + 64, 0);
  out.pixels = view.pixels;
  out.count = view.count;
  out.dim = view.dim;
  return out;
}

std::shared_ptr<const ListedImages> shared_list_images(const DataView& view) {
  // Lists in use, by the images they list. A live entry's images cannot have changed (the
  // holders' contract, Backend::prepare), so it serves as is; expired ones are dropped.
  static std::mutex mutex;
  static std::vector<std::weak_ptr<const ListedImages>> live;
  const std::lock_guard lock(mutex);
  std::erase_if(live, [](const auto& w) { return w.expired(); });
  for (const auto& w : live)
    if (auto l = w.lock(); l && l->covers(view)) return l;
  ListedImages made = list_images(view);
  if (!made.covers(view)) return nullptr;
  auto l = std::make_shared<const ListedImages>(std::move(made));
  live.push_back(l);
  return l;
}

}  // namespace bp
