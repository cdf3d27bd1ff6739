// See socket.hpp.
#include "serve/socket.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "base/error.hpp"

namespace bp::serve {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    reset();
    fd_ = o.release();
  }
  return *this;
}

int Fd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);  // nothing to do about a failed close of a socket we are done with
  fd_ = -1;
}

std::string system_message(const std::string& what) { return what + ": " + std::strerror(errno); }

StopSignal::StopSignal() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0) throw Error(system_message("serve: cannot make the stop pipe"));
  read_ = Fd(ends[0]);
  write_ = Fd(ends[1]);
}

void StopSignal::raise() {
  const char byte = 1;
  // The pipe holds this byte (it is never read), so the read end stays readable; a full pipe
  // (raised before) is just as readable.
  [[maybe_unused]] const ssize_t n = ::write(write_.get(), &byte, 1);
}

bool StopSignal::raised() const {
  pollfd p{read_.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

Wait wait_for(int fd, short events, const StopSignal& stop, Clock::time_point deadline, bool ready_wins) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p[2] = {{fd, events, 0}, {stop.fd(), POLLIN, 0}};
    const int n = ::poll(p, 2, int(std::clamp<long long>(left, 0, 1 << 30)));
    if (n < 0 && errno == EINTR) continue;
    // poll fails only for bad arguments or no memory: either way this connection is done with.
    if (n < 0) return Wait::stopped;
    const bool ready = p[0].revents != 0;
    if (ready && (ready_wins || !p[1].revents)) return Wait::ready;
    if (p[1].revents) return Wait::stopped;
    if (n == 0 && left <= 0) return Wait::timed_out;
    if (n == 0) continue;  // woken early by rounding: wait out the rest
  }
}

Fd listen_tcp(const std::string& host, int port, int backlog, int& bound) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
    throw UsageError("cannot listen on " + where + ": " + ::gai_strerror(rc) + "; give an address of this machine");
  const std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, ::freeaddrinfo);
  std::string why = "no address";
  int why_errno = 0;
  const auto failed = [&] {
    why_errno = errno;
    why = std::strerror(errno);
  };
  for (const addrinfo* a = found; a; a = a->ai_next) {
    // Non-blocking: a connection that goes away between poll() and accept() makes accept() fail
    // with EAGAIN instead of waiting for the next one (and holding up stop()).
    Fd s(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol));
    if (!s) {
      failed();
      continue;
    }
    // SO_REUSEADDR only (a restart need not wait for old connections' TIME_WAIT): SO_REUSEPORT
    // would let a second server bind a port that one already serves and take half its clients.
    const int yes = 1;
    if (::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) != 0 ||
        ::bind(s.get(), a->ai_addr, a->ai_addrlen) != 0 || ::listen(s.get(), backlog) != 0) {
      failed();
      continue;
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      failed();
      continue;
    }
    bound = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    return s;
  }
  const char* hint = why_errno == EADDRINUSE      ? "; try another --port, or --port 0 for a free one"
                     : why_errno == EADDRNOTAVAIL ? "; give an address of this machine"
                                                  : "";
  throw UsageError("cannot listen on " + where + ": " + why + hint);
}

}  // namespace bp::serve
