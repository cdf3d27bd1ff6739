// See sweep.hpp. The networks train on C++ threads (the runner's workers, or the GPU's groups)
// while this thread, the caller's, holds the GIL only to hand finished records to progress() and
// to notice Ctrl-C, which Python delivers to the main thread alone.
#include "sweep.hpp"

#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "array_data.hpp"
#include "arrays.hpp"
#include "settings.hpp"
#include "sweep/grid.hpp"
#include "sweep/on_gpu.hpp"
#include "sweep/plans.hpp"
#include "sweep/record.hpp"
#include "sweep/runner.hpp"
#include "training.hpp"

namespace bp::python {
namespace {

constexpr uint64_t kMaxNetworks = 1000000;  // records held in memory; the CLI's --shard splits larger grids

// A swept flag's keyword: --early-stop is early_stop, --lambda lmbda (lambda is a Python keyword).
std::string keyword_of(const std::string& flag) {
  std::string k = flag.substr(2);
  std::replace(k.begin(), k.end(), '-', '_');
  return k == "lambda" ? "lmbda" : k;
}

std::string text_of(const py::handle& v) {
  if (py::isinstance<py::bool_>(v)) throw py::value_error("a sweep's settings are numbers or names, not True/False");
  if (py::isinstance<py::float_>(v))
    return py::repr(py::float_(v.cast<double>())).cast<std::string>();  // the shortest exact decimal
  return py::str(v).cast<std::string>();
}

bool is_list(const py::handle& v) {
  return py::isinstance<py::sequence>(v) && !py::isinstance<py::str>(v) && !py::isinstance<py::bytes>(v);
}
bool is_iterable_list(const py::handle& v) {
  return is_list(v) || (py::hasattr(v, "__iter__") && !py::isinstance<py::str>(v) && !py::isinstance<py::bytes>(v));
}

// A layer list as the CLI writes it: [784, 30, 10] is "784,30,10"; a string stays as it is.
std::string layers_word(const py::handle& v) {
  if (!is_list(v)) return text_of(v);
  std::string word;
  for (const py::handle item : v) word += (word.empty() ? "" : ",") + text_of(item);
  return word;
}

// A keyword's value as the CLI's words for its flag: a list (tuple, range...) is one word per
// value, anything else one word (which may be the CLI's own list, "0.1,0.3" or "1-5"). Layers:
// [784, 30, 10] is one network's layers, [[784, 30, 10], [784, 100, 10]] two.
std::vector<std::string> words_of(const sweep::SweptFlag& f, const py::handle& value) {
  std::vector<std::string> words;
  if (f.kind == sweep::Kind::words) {
    // [784, 30, 10] is one network's layers; a list of lists or of strings is one per item.
    const auto first = [&] { return py::reinterpret_borrow<py::sequence>(value)[0]; };
    const bool many = is_list(value) && py::len(value) > 0 && (is_list(first()) || py::isinstance<py::str>(first()));
    if (!many) return {layers_word(value)};
    for (const py::handle item : value) words.push_back(layers_word(item));
    return words;
  }
  if (!is_iterable_list(value)) return {text_of(value)};
  for (const py::handle item : py::iter(value)) words.push_back(text_of(item));
  return words;
}

// The grid of the keywords given, in the CLI's axis order; a keyword that is no swept flag is a
// TypeError naming those that are.
sweep::Grid grid_of(const py::kwargs& settings) {
  std::vector<sweep::Axis> axes;
  size_t used = 0;
  for (const sweep::SweptFlag& f : sweep::swept_flags()) {
    const std::string key = keyword_of(f.flag);
    if (!settings.contains(key)) continue;
    ++used;
    try {
      axes.push_back({f.flag, sweep::parse_values(f, words_of(f, settings[key.c_str()]))});
    } catch (const UsageError& e) {
      raise_value_error(e);
    }
  }
  if (used != settings.size()) {
    std::string known;
    for (const sweep::SweptFlag& f : sweep::swept_flags()) known += (known.empty() ? "" : ", ") + keyword_of(f.flag);
    for (const auto& [key, value] : settings)
      if (std::find_if(sweep::swept_flags().begin(), sweep::swept_flags().end(), [&](const sweep::SweptFlag& f) {
            return keyword_of(f.flag) == key.cast<std::string>();
          }) == sweep::swept_flags().end())
        throw py::type_error("sweep() got an unexpected keyword '" + key.cast<std::string>() +
                             "'; the settings it sweeps are " + known);
  }
  return sweep::Grid(RunSettings{}, std::move(axes));
}

size_t pixels_of(const py::handle& x) {
  const py::array a = py::array::ensure(x);
  if (!a || a.ndim() != 2) throw py::value_error("x must be a 2-D array of images, shape (n, pixels)");
  return size_t(a.shape(1));
}

// A finished network as a dict: its last epoch's record of the CLI's sweep --log, and "history",
// the record (train --log's fields) of each epoch it trained.
py::dict network_record(const sweep::SweepId& id, const sweep::NetworkRun& run) {
  py::dict d = py::module_::import("json").attr("loads")(sweep::record_line(id, run, run.epochs.back()));
  py::list history;
  for (const EpochReport& r : run.epochs)
    if (r.finite) history.append(epoch_dict(r));
  d["history"] = history;
  return d;
}

// The runner on a thread of its own; finished networks are queued for the caller's thread.
class Run {
 public:
  template <class Train>
  explicit Run(Train train) {
    thread_ = std::thread([this, train] {
      try {
        train(stop_, [this](const sweep::NetworkRun& run) {
          std::lock_guard lock(mutex_);
          finished_.push_back(run);
          changed_.notify_all();
        });
      } catch (...) {
        failure_ = std::current_exception();
      }
      std::lock_guard lock(mutex_);
      done_ = true;
      changed_.notify_all();
    });
  }
  ~Run() {  // an exception on the caller's side: stop the networks, and wait for them
    stop_ = true;
    if (thread_.joinable()) {
      py::gil_scoped_release nogil;
      thread_.join();
    }
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  void stop() { stop_ = true; }

  // Waits (without the GIL) up to `wait` for networks to finish; returns those that did, and
  // whether the run has ended (then they are the last).
  std::pair<std::vector<sweep::NetworkRun>, bool> next(std::chrono::milliseconds wait) {
    py::gil_scoped_release nogil;
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, wait, [&] { return done_ || !finished_.empty(); });
    std::vector<sweep::NetworkRun> out;
    out.swap(finished_);
    return {std::move(out), done_};
  }

  // After the end: the runner's exception, rethrown.
  void rethrow() {
    if (thread_.joinable()) {
      py::gil_scoped_release nogil;
      thread_.join();
    }
    if (failure_) std::rethrow_exception(failure_);
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<sweep::NetworkRun> finished_;
  bool done_ = false;
  std::exception_ptr failure_;
  std::thread thread_;
};

py::list sweep_py(const py::handle& x, const py::handle& y, const py::object& validation, const py::object& test,
                  const std::string& device, const std::string& engine, int threads, size_t group_size,
                  const py::object& progress, const py::kwargs& settings) {
  const sweep::Grid grid = grid_of(settings);
  if (grid.size() > kMaxNetworks)
    throw py::value_error("the grid has " + std::to_string(grid.size()) + " networks, more than " +
                          std::to_string(kMaxNetworks) + "; split it (backprop sweep --shard runs a slice)");
  if (threads < 0) throw py::value_error("threads must be >= 0, got " + std::to_string(threads));
  const ArrayData arrays(x, y, validation, test, pixels_of(x), 0);
  for (const sweep::Axis& a : grid.axes())
    if (a.flag == "--train-size")
      for (const std::string& v : a.values)
        if (std::stoull(v) < 1 || std::stoull(v) > arrays.train.count)
          throw py::value_error("train_size " + v + " is not 1.." + std::to_string(arrays.train.count) +
                                " (the training images given)");
  sweep::RunnerOptions options;
  GpuEngine gpu_engine = GpuEngine::auto_select;
  std::vector<sweep::Plan> plans;
  try {
    options.backend.device = sweep::sweep_device(parse_device(device));
    gpu_engine = parse_engine(engine);
    plans = sweep::make_plans(grid, sweep::shard_indices(grid.size(), {}), arrays.data);
  } catch (const UsageError& e) {
    raise_value_error(e);
  }
  // What the trainer would refuse only once the networks train, refused now as Network.train does.
  for (const sweep::Plan& p : plans) arrays.check_fits(p.run.settings, p.train_count);
  options.backend.threads = 1;  // each network single-threaded: the cores go to networks
  options.backend.quiet_fallback = true;
  options.workers = sweep::sweep_workers(options.backend.device, threads, plans.size());
  const sweep::SweepId id = sweep::sweep_id(grid, arrays.fingerprint(), {});
  const bool gpu = options.backend.device == Device::cuda;

  Run run([&](const std::atomic<bool>& stop, const std::function<void(const sweep::NetworkRun&)>& finished) {
    sweep::RunnerOptions o = options;
    o.stop = &stop;
    const auto on_epoch = [](const sweep::NetworkRun&, const EpochReport&) {};
    const auto on_network = [&](const sweep::NetworkRun& r, const Network&, const TrainOutcome&) { finished(r); };
    if (gpu)
      sweep::run_on_gpu(plans, arrays.data, o, gpu_engine, group_size, on_epoch, on_network, [](const std::string&) {});
    else
      sweep::run_plans(plans, arrays.data, o, on_epoch, on_network);
  });
  std::vector<std::pair<uint64_t, py::dict>> records;
  std::optional<py::error_already_set> error;  // Ctrl-C, or progress() raised
  for (bool done = false; !done;) {
    auto [finished, ended] = run.next(std::chrono::milliseconds(100));
    done = ended;
    for (const sweep::NetworkRun& r : finished) {
      py::dict record = network_record(id, r);
      records.emplace_back(r.index, record);
      if (progress.is_none() || error) continue;
      try {
        progress(record);
      } catch (py::error_already_set& e) {
        error.emplace(std::move(e));
        run.stop();
      }
    }
    if (!error && PyErr_CheckSignals() != 0) {
      error.emplace();
      run.stop();
    }
  }
  run.rethrow();
  if (error) throw std::move(*error);
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  py::list out;
  for (auto& [index, record] : records) out.append(record);
  return out;
}

constexpr const char* kSweepDoc =
    R"(`backprop sweep`: train every combination of lists of settings, each network exactly as
Network.train (and `backprop train`) would, and return one record per network.

x, y: the training images and labels (as Network.train takes them); validation, test: optional
   (x, y) pairs evaluated after each epoch. The classes are 1 + the largest label.
The settings swept, each a value or a list of values (a list is an axis of the grid), with the
   CLI's flags' names and defaults: layers ([784, 30, 10], or a list of such lists; default the
   pixels, 30, the classes), cost, init, epochs, batch, eta, lmbda (--lambda), momentum, schedule,
   early_stop, expand, train_size (each network trains on the first this many images), seeds
   (the networks' seeds, innermost: seeds=range(1, 6) is five networks of each setting). A string
   is the CLI's own text: eta="0.1,0.3", seeds="1-5".
device: "cpu" (one network per thread; threads=0: one per core), "cuda" (the networks of one shape
   trained together; engine and group_size as `backprop sweep --engine --group-size`),
   "reference", or "auto" (cuda on a usable GPU, else cpu).
progress: called with each network's record as it finishes (in finishing order).

Returns the records in grid order: each holds the fields of the network's last line of
`backprop sweep --log` (network, point, settings, the epoch's fields, finite, last, grid, data...)
and "history", its epochs' records (the fields of `backprop train --log`). Ctrl-C stops every
network after its chunk in flight and raises KeyboardInterrupt (the records given to progress are
what finished).)";

}  // namespace

void bind_sweep(py::module_& m) {
  m.def("sweep", &sweep_py, kSweepDoc, py::arg("x"), py::arg("y"), py::kw_only(), py::arg("validation") = py::none(),
        py::arg("test") = py::none(), py::arg("device") = "cpu", py::arg("engine") = "auto", py::arg("threads") = 0,
        py::arg("group_size") = 0, py::arg("progress") = py::none());
}

}  // namespace bp::python
