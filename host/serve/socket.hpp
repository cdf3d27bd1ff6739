// The POSIX socket pieces the gate (gate.hpp) is built of: a descriptor that closes itself, a
// stop signal that every wait also watches (so that stopping never waits for a client), waiting
// for a socket with a deadline, and the listening socket of `backprop serve`.
#pragma once

#include <chrono>
#include <string>

namespace bp::serve {

using Clock = std::chrono::steady_clock;

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release();
  void reset();

 private:
  int fd_ = -1;
};

// A pipe whose read end turns readable, for good, once raise() was called: polled next to a
// client's socket it ends every wait at once.
class StopSignal {
 public:
  StopSignal();  // throws Error
  void raise();
  bool raised() const;
  int fd() const { return read_.get(); }

 private:
  Fd read_, write_;
};

// The message of a failed system call: "what: strerror(errno)".
std::string system_message(const std::string& what);

enum class Wait { ready, timed_out, stopped };

// Waits until `fd` has `events` (POLLIN or POLLOUT; an error or hang-up counts as ready, so that
// the next call reports it), the deadline passes or `stop` is raised. Readiness wins a tie with
// the stop signal when `ready_wins`: an answer that can be written is written.
Wait wait_for(int fd, short events, const StopSignal& stop, Clock::time_point deadline, bool ready_wins = false);

// A non-blocking TCP socket listening on host:port (port 0: a free one), with SO_REUSEADDR and a
// backlog of `backlog`; `bound` gets the port. Throws UsageError naming host and port.
Fd listen_tcp(const std::string& host, int port, int backlog, int& bound);

}  // namespace bp::serve
