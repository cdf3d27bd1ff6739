// Load test of `backprop serve` on loopback: N predictions (PNG uploads) from C concurrent
// clients, each on its own keep-alive connection; reports how many were answered 200, the median,
// p99 and largest latency and the throughput, and exits 1 unless every request got a 200.
//   serve_load --port P [--host 127.0.0.1] [--requests 1000] [--clients 8] [PNG ...]
//   serve_load --self ...   serves a seeded random 784-30-10 model in this process instead
// Without PNGs it sends the pictures in tests/data.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "serve/server.hpp"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int usage(const char* why) {
  std::fprintf(
      stderr,
      "serve_load: %s\nusage: serve_load (--port P | --self) [--host H] [--requests N] [--clients C] [PNG ...]\n", why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = -1;
  bool self = false;
  size_t requests = 1000, clients = 8;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    try {
      if (a == "--port" && has_value)
        port = std::stoi(argv[++i]);
      else if (a == "--host" && has_value)
        host = argv[++i];
      else if (a == "--requests" && has_value)
        requests = std::stoul(argv[++i]);
      else if (a == "--clients" && has_value)
        clients = std::stoul(argv[++i]);
      else if (a == "--self")
        self = true;
      else if (a.rfind("--", 0) == 0)
        return usage(("unknown or incomplete flag " + a).c_str());
      else
        files.push_back(a);
    } catch (const std::exception&) {
      return usage(("bad value for " + a).c_str());
    }
  }
  if (!self && port < 0) return usage("give --port of a running backprop serve, or --self");
  if (clients == 0 || requests == 0) return usage("--requests and --clients must be at least 1");
  if (files.empty())
    for (const auto& e :
         std::filesystem::directory_iterator(std::filesystem::path(BACKPROP_SOURCE_DIR) / "tests" / "data"))
      if (e.path().extension() == ".png") files.push_back(e.path().string());
  std::vector<std::string> bodies;
  for (const std::string& f : files) bodies.push_back(slurp(f));

  std::unique_ptr<bp::serve::Served> served;
  std::unique_ptr<bp::serve::Server> server;
  if (self) {
    bp::ModelFile m;
    m.net = bp::initialise({784, 30, 10}, bp::Init::scaled, 1);
    served = std::make_unique<bp::serve::Served>(std::move(m), "random", std::nullopt);
    server = std::make_unique<bp::serve::Server>(*served);
    port = server->bind(host, 0);
    server->start();
  }

  std::atomic<size_t> next{0}, ok{0};
  std::vector<std::vector<double>> latencies(clients);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (size_t c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      httplib::Client client(host, port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(30, 0);
      for (size_t i; (i = next++) < requests;) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto res = client.Post("/api/predict", bodies[i % bodies.size()], "image/png");
        latencies[c].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        if (res && res->status == 200 && res->body.find("\"digit\"") != std::string::npos) ++ok;
      }
    });
  for (std::thread& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  const auto at = [&](double q) { return all[std::min(all.size() - 1, size_t(q * double(all.size())))]; };
  std::printf("%zu predictions from %zu clients on %s:%d: %zu answered 200, %zu not\n", requests, clients, host.c_str(),
              port, ok.load(), requests - ok.load());
  std::printf("latency median %.2f ms, p99 %.2f ms, max %.2f ms; %.0f requests/s (%.2f s in all)\n", at(0.5), at(0.99),
              all.back(), double(requests) / seconds, seconds);
  if (server) server->stop();
  return ok == requests ? 0 : 1;
}
