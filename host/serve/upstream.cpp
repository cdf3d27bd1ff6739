// See upstream.hpp. The exchange uses blocking calls with a generous time limit (kUpstreamTimeout,
// a safety net only): the other side is our own handlers, whose time is their work (the first
// look at a test set takes seconds), and each request gets a connection of its own, so that no
// idle upstream connection can be closed by the library just as a request is sent on it.
#include "serve/upstream.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/error.hpp"
#include "serve/socket.hpp"

namespace bp::serve {

UpstreamPath::UpstreamPath() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "backprop-serve-XXXXXX").string();
  if (!::mkdtemp(tmpl.data()))  // mkdtemp makes it 0700
    throw Error(system_message("serve: cannot make a private folder for the HTTP library's socket (" + tmpl + ")"));
  folder_ = tmpl;
  socket_ = folder_ + "/http.sock";
  if (socket_.size() >= sizeof(sockaddr_un::sun_path)) {
    ::rmdir(folder_.c_str());
    throw Error("serve: the temporary folder's path is too long for a socket (" + socket_ + "); set TMPDIR=/tmp");
  }
}

UpstreamPath::~UpstreamPath() { remove(); }

void UpstreamPath::remove() {
  if (removed_.exchange(true)) return;
  ::unlink(socket_.c_str());  // absent when the library never bound it
  ::rmdir(folder_.c_str());
}

namespace {

// No send or receive to the library waits longer than this (then the answer is a 500).
constexpr int kUpstreamTimeoutS = 60;

Fd connect_upstream(const std::string& path) {
  Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) throw Error(system_message("serve: cannot make a socket to the HTTP library"));
  const timeval limit{kUpstreamTimeoutS, 0};
  if (::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) != 0 ||
      ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) != 0)
    throw Error(system_message("serve: cannot set a time limit on the socket to the HTTP library"));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);  // the length was checked by UpstreamPath
  while (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    if (errno != EINTR) throw Error(system_message("serve: cannot reach the HTTP library at " + path));
  return s;
}

void send_upstream(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      throw Error("serve: the HTTP library took no request for " + std::to_string(kUpstreamTimeoutS) + " s");
    if (n <= 0) throw Error(system_message("serve: cannot send a request to the HTTP library"));
    bytes.remove_prefix(size_t(n));
  }
}

// Appends what arrives; false at the end of the connection.
bool receive_upstream(int fd, std::string& into) {
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      throw Error("serve: the HTTP library did not answer within " + std::to_string(kUpstreamTimeoutS) + " s");
    if (n < 0) throw Error(system_message("serve: cannot read the HTTP library's answer"));
    into.append(buf, size_t(n));
    return n > 0;
  }
}

}  // namespace

Answer exchange(const std::string& socket, std::string_view request, bool head_request) {
  const Fd s = connect_upstream(socket);
  send_upstream(s.get(), request);
  std::string in;
  for (;;) {
    HeadEnd end;
    while ((end = find_head_end(in, 1 << 20)).kind == HeadEnd::incomplete)
      if (!receive_upstream(s.get(), in))
        throw Error("serve: the HTTP library closed the connection without an answer");
    if (end.kind != HeadEnd::complete) throw Error("serve: the HTTP library's answer has an overlong head");
    ParsedHead parsed = parse_head(std::string_view(in).substr(0, end.size), false);
    if (!parsed.head) throw Error("serve: the HTTP library's answer: " + parsed.error);
    const ResponseFrame frame = frame_response(*parsed.head, head_request);
    if (frame.interim) {
      in.erase(0, end.size);
      continue;
    }
    const size_t total = end.size + frame.body;  // frame_response bounds the body
    while (in.size() < total)
      if (!receive_upstream(s.get(), in)) throw Error("serve: the HTTP library ended its answer early");
    in.resize(total);
    return {std::move(in), frame};
  }
}

}  // namespace bp::serve
