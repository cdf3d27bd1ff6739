// What the serve tests share: the test data folder, a model, pictures, and a raw client socket.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "insight/image.hpp"
#include "serve/api.hpp"
#include "train/checkpoint.hpp"

namespace bp::test {

namespace fs = std::filesystem;

inline const fs::path kData = fs::path(BACKPROP_SOURCE_DIR) / "tests" / "data";

inline std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<fs::path> digit_pngs() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(kData))
    if (e.path().extension() == ".png") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

inline ModelFile test_model(uint64_t seed = 7) {
  ModelFile m;
  m.net = initialise({784, 30, 10}, Init::scaled, seed);
  m.metadata = {{"layers", "784,30,10"}, {"seed", std::to_string(seed)}};
  return m;
}

inline int status_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const serve::ApiError& e) {
    return e.status;
  }
  return 200;
}

// A 28x28 picture, 0 black .. 1 white, with a light bar and a fainter blob on black.
inline GreyImage light_on_dark() {
  GreyImage g;
  g.width = g.height = 28;
  g.pixels.assign(784, 0.0f);
  for (size_t y = 5; y < 22; ++y)
    for (size_t x = 12; x < 15; ++x) g.pixels[y * 28 + x] = 1.0f;
  for (size_t y = 6; y < 9; ++y)
    for (size_t x = 15; x < 19; ++x) g.pixels[y * 28 + x] = 0.6f;
  return g;
}

// A client connection to 127.0.0.1:port that sends raw bytes and reads what comes back.
class RawClient {
 public:
  explicit RawClient(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  // False once the server stopped taking bytes (it answered and closed).
  bool send_all(const std::string& bytes) {
    for (size_t sent = 0; sent < bytes.size();) {
      const ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += size_t(n);
    }
    return true;
  }
  // Reads until the server closes the connection or `wait` passes; true when it closed.
  bool read_until_closed(std::chrono::milliseconds wait) {
    const auto until = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, int(left.count())) <= 0) return false;
      char buf[16384];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;  // closed (or reset, after the answer was read)
      reply.append(buf, size_t(n));
    }
  }
  // The statuses of the answers in `reply`, in order.
  std::vector<int> statuses() const {
    std::vector<int> out;
    for (size_t at = reply.find("HTTP/1."); at != std::string::npos; at = reply.find("HTTP/1.", at + 1))
      if (at + 12 <= reply.size() && reply[at + 8] == ' ') out.push_back(std::stoi(reply.substr(at + 9, 3)));
    return out;
  }

  std::string reply;

 private:
  int fd_;
  bool connected_ = false;
};

}  // namespace bp::test
