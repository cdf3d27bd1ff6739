// Choosing a backend from the command line's --device: auto prefers a usable CUDA device and
// otherwise falls back to the CPU with a one-line notice.
#pragma once

#include <memory>
#include <string>

#include "model/backend.hpp"

namespace bp {

enum class Device { auto_select, cpu, cuda, reference };

struct BackendOptions {
  Device device = Device::auto_select;
  int threads = 0;             // CPU threads; 0 = all cores
  bool streamed = false;       // CUDA: stream minibatches from pinned host memory
  bool quiet_fallback = false; // auto: do not print the one-line notice when falling back
};

// Makes the backend the options ask for. auto picks CUDA where a usable device exists, else the
// CPU with a one-line notice on stderr; cuda without a usable device throws UsageError.
std::unique_ptr<Backend> make_backend(const BackendOptions& options);

Device parse_device(const std::string& text);

// `requested` CPU threads, at most the hardware threads (more only time-slice one core among
// many OS threads); says so on stderr unless `quiet`. 0 (all cores) stays 0.
int capped_threads(int requested, bool quiet = false);

}  // namespace bp
