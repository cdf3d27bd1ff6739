// See training.hpp.
#include "training.hpp"

#include <pybind11/stl.h>

#include <atomic>
#include <cstdio>
#include <exception>
#include <optional>

#include "array_data.hpp"
#include "arrays.hpp"
#include "base/same_file.hpp"
#include "base/write_target.hpp"
#include "settings.hpp"
#include "train/backend_factory.hpp"
#include "train/epoch_lines.hpp"
#include "train/epoch_record.hpp"
#include "train/resume.hpp"
#include "train/run_settings.hpp"
#include "train/trainer.hpp"

namespace bp::python {

py::dict epoch_dict(const EpochReport& r) { return py::module_::import("json").attr("loads")(epoch_record(r).dump()); }

namespace {

// Text to Python's sys.stdout (a notebook's cell, or the terminal), as print() would write it.
void write_stdout(const std::string& text) {
  const py::object out = py::module_::import("sys").attr("stdout");
  if (out.is_none()) return;
  out.attr("write")(text);
  out.attr("flush")();
}

void warn(const std::string& message) {
  if (PyErr_WarnEx(PyExc_RuntimeWarning, message.c_str(), 1) != 0) throw py::error_already_set();
}

// A checkpoint to resume: read, its settings adopted into `s` (the arguments passed must agree,
// as the CLI's flags must), checked before anything changes; the CLI's errors in Python's words.
Resumed read_resume(const TrainArguments& a, RunSettings& s, const Network& net) {
  try {
    Resumed r = read_checkpoint(a.resume, s, [&](const char* flag) { return a.given.count(flag) > 0; });
    if (format_layers(r.net.sizes) != format_layers(net.sizes))
      throw UsageError("resume " + a.resume + " holds a " + format_layers(r.net.sizes) + " network, this one is " +
                       format_layers(net.sizes) + "; make it with backprop.Network.load(" +
                       py::repr(py::str(a.resume)).cast<std::string>() + ")");
    check_resumable(r, s, a.resume);
    return r;
  } catch (const UsageError& e) {
    raise_value_error(e);
  }
}

// What a run writes into its checkpoints besides the network: the settings, the data's and the
// backend's names, and where the run stands.
struct CheckpointContext {
  const std::string& path;
  const RunSettings& settings;
  std::string fingerprint, backend;

  void save(const Network& net, const StartPoint& at) const {
    if (!path.empty()) save_checkpoint(path, net, settings, at, fingerprint, backend);
  }
};

// The trainer's callbacks, run on its thread, into Python: each epoch's record into the history,
// its lines to stdout (verbose) and to progress(); a checkpoint every checkpoint_every epochs;
// Ctrl-C (a pending signal) or an exception in progress() stops the run after the chunk in flight,
// and is raised again once the trainer has returned.
class PythonCallbacks {
 public:
  PythonCallbacks(const TrainArguments& a, TrainRun& run, const CheckpointContext& checkpoint, StartPoint& start,
                  const Network& net, size_t epoch_samples, const ScheduleSettings& schedule)
      : a_(a),
        run_(run),
        checkpoint_(checkpoint),
        start_(start),
        net_(net),
        epoch_samples_(epoch_samples),
        schedule_(schedule),
        record_(start.record) {}

  const std::atomic<bool>* stop() const { return &stop_; }
  const RunRecord& record() const { return record_; }

  void on_epoch(const EpochReport& r) {
    py::gil_scoped_acquire gil;
    record_.note(r);
    if (!r.finite) {
      diverged_ = divergence_advice(r, run_.settings.lambda, "");
      return;
    }
    py::dict record = epoch_dict(r);
    run_.history.append(record);
    // A failure to print or to write the checkpoint stops the run as Ctrl-C does, and is raised.
    try {
      if (a_.verbose) write_stdout(epoch_lines(r, epoch_samples_, schedule_));
      if (a_.checkpoint_every > 0 && (r.epoch + 1) % a_.checkpoint_every == 0) {
        py::gil_scoped_release nogil;
        checkpoint_.save(net_, {r.epoch + 1, 0, r.schedule, r.best ? *r.best : Network{}, record_, start_.velocity});
      }
    } catch (py::error_already_set& e) {
      if (!error_) error_.emplace(std::move(e));
      stop_ = true;
    } catch (...) {
      if (!failure_) failure_ = std::current_exception();
      stop_ = true;
    }
    if (!a_.progress.is_none() && !error_ && !failure_) {
      try {
        a_.progress(record);
      } catch (py::error_already_set& e) {
        error_.emplace(std::move(e));
        stop_ = true;
      }
    }
    check_signals();
  }

  void on_progress() {
    py::gil_scoped_acquire gil;
    check_signals();
  }

  // Whether writing stopped the run (then no checkpoint is tried again at the end).
  bool failed() const { return bool(failure_); }

  // After the run, with the GIL held: what stopped it, raised.
  void raise_what_stopped() {
    if (failure_) std::rethrow_exception(failure_);
    if (error_) throw std::move(*error_);
    if (!diverged_.empty()) throw py::value_error(diverged_);
  }

 private:
  void check_signals() {
    if (!error_ && PyErr_CheckSignals() != 0) {
      error_.emplace();
      stop_ = true;
    }
  }

  const TrainArguments& a_;
  TrainRun& run_;
  const CheckpointContext& checkpoint_;
  StartPoint& start_;  // its velocity is the trainer's, updated in place
  const Network& net_;
  size_t epoch_samples_;
  ScheduleSettings schedule_;
  RunRecord record_;  // the summary's figures, from the resumed run's
  std::atomic<bool> stop_{false};
  std::optional<py::error_already_set> error_;  // raised in the callback or by a signal handler
  std::exception_ptr failure_;                  // printing or a checkpoint failed
  std::string diverged_;                        // the advice, once an epoch diverged
};

// The trainer's options from the settings, checked as the CLI checks its flags.
TrainOptions checked_options(const RunSettings& s) {
  if (s.epochs < 1) throw py::value_error("epochs must be >= 1, got 0");
  TrainOptions o;
  try {
    o = train_options(s);
  } catch (const UsageError& e) {
    raise_value_error(e);
  }
  o.hyper = hyper_of(s);
  return o;
}

}  // namespace

void train_network(Network& net, const py::handle& x, const py::handle& y, const TrainArguments& a, TrainRun& run) {
  RunSettings s = a.settings;
  if (a.checkpoint_every > 0 && a.checkpoint.empty())
    throw py::value_error("checkpoint_every needs checkpoint=PATH (the file to write)");
  try {  // before anything trains, so that no run is lost at its end to a bad path
    if (!a.checkpoint.empty()) check_write_target(a.checkpoint, "checkpoint");
    if (!a.save.empty()) check_write_target(a.save, "save");
    if (!a.save.empty()) check_distinct_files({{"save", a.save}}, {{"checkpoint", a.checkpoint}, {"resume", a.resume}});
  } catch (const UsageError& e) {
    raise_value_error(e);
  }
  std::optional<Resumed> resumed;
  if (!a.resume.empty()) resumed = read_resume(a, s, net);
  TrainOptions o = checked_options(s);
  ArrayData arrays(x, y, a.validation, a.test, net.sizes.front(), net.sizes.back());
  if (s.shuffle_labels) arrays.shuffle_labels(s.seed);
  arrays.check_fits(s);
  const size_t epoch_samples = arrays.train.count * (o.shifts ? kShiftVariants : 1);
  StartPoint start = resumed ? std::move(resumed->start) : StartPoint{};
  if (resumed) check_resume_position(start, s.batch_size, epoch_samples, a.resume);
  CheckpointContext checkpoint{a.checkpoint, s, "", ""};
  if (!a.checkpoint.empty() || resumed) checkpoint.fingerprint = arrays.fingerprint();
  if (resumed && !resumed->data_fingerprint.empty() && resumed->data_fingerprint != checkpoint.fingerprint)
    warn("resume: these arrays are not the data " + a.resume + " was trained on (" + resumed->data_fingerprint +
         ", now " + checkpoint.fingerprint + "); going on");
  o.evaluate_validation = bool(arrays.validation);
  o.evaluate_test = bool(arrays.test);
  std::unique_ptr<Backend> backend = backend_named(a.device, a.threads, net.sizes, s.batch_size, a.engine);
  checkpoint.backend = backend->name();
  if (resumed && !resumed->backend.empty() && backend_family(resumed->backend) != backend_family(backend->name()))
    warn(a.resume + " was trained on " + resumed->backend + "; resuming on " + backend->name() +
         ": the run continues, but is no longer bit-identical to an uninterrupted one");
  if (resumed) {
    net = std::move(resumed->net);
  } else {
    // The output layer is the cost's (softmax for log-likelihood), as `backprop train`
    // initialises it; the parameters are the same either way.
    net.output = output_layer(o.hyper.cost);
  }
  o.first_epoch = start.epoch;
  o.first_sample = start.sample;
  o.schedule = start.schedule;
  o.best = start.best;
  o.velocity = &start.velocity;  // momentum's: from zero, as a fresh `backprop train` starts, or resumed
  run.device = backend->name();
  run.settings = s;
  run.started = true;
  const ScheduleSettings schedule{o.hyper.eta, o.plateau, o.early_stop};
  PythonCallbacks callbacks(a, run, checkpoint, start, net, epoch_samples, schedule);
  o.stop = callbacks.stop();
  TrainOutcome outcome;
  {
    py::gil_scoped_release nogil;
    outcome = bp::train(
        *backend, net, arrays.data, o, [&](const EpochReport& r) { callbacks.on_epoch(r); },
        [&](size_t, size_t) { callbacks.on_progress(); });
  }
  if (outcome.status == TrainOutcome::interrupted && !a.checkpoint.empty() && !callbacks.failed()) {
    checkpoint.save(
        net, {outcome.epoch, outcome.sample, outcome.schedule, outcome.best, callbacks.record(), start.velocity});
    if (a.verbose)
      write_stdout("interrupted in epoch " + std::to_string(outcome.epoch) + " after " +
                   std::to_string(outcome.sample) + " samples; checkpoint written to " + a.checkpoint +
                   " (continue with train(..., resume=" + py::repr(py::str(a.checkpoint)).cast<std::string>() + "))\n");
  }
  const bool ended = outcome.status == TrainOutcome::finished || outcome.status == TrainOutcome::stopped_early;
  if (ended && a.verbose && arrays.test)
    write_stdout(summary_line(callbacks.record(), arrays.test->count, outcome.schedule.best_epoch));
  if (ended && !a.save.empty()) {
    const std::optional<size_t> best = save_trained_model(a.save, net, outcome, s, backend->name());
    if (a.verbose)
      write_stdout("saved " + a.save +
                   (best ? ": the parameters of epoch " + std::to_string(*best) + ", the best validation accuracy (" +
                               std::to_string(outcome.schedule.best_correct) + " correct)"
                         : "") +
                   "\n");
  }
  callbacks.raise_what_stopped();
}

}  // namespace bp::python
