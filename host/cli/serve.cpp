// `backprop serve`: a page where you draw a digit and watch a saved model read it, and its JSON
// API (host/serve/), served from the binary on 127.0.0.1 unless told otherwise. Ctrl-C or
// SIGTERM stops it cleanly (requests in progress finish) with exit code 0.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "base/error.hpp"
#include "cli/common.hpp"
#include "cli/signals.hpp"
#include "serve/server.hpp"
#include "train/checkpoint.hpp"

namespace bp::cli {
namespace {

class ServeCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override {
    CLI::App* sub = app.add_subcommand("serve", "Serve a page to draw digits on and watch a saved model read them");
    sub->add_option("--model", model_, "Model file written by train --save")->required();
    sub->add_option("--port", port_, "TCP port (0: any free port; the URL is printed)")
        ->check(count(0, 65535))
        ->capture_default_str();
    sub->add_option("--host", host_, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
    data_ =
        sub->add_option("--data", data_dir_, "MNIST folder: its test set feeds the confusion matrix and mistakes tab")
            ->capture_default_str();
    sub->add_option("--threads", limits_.threads, "Connections served at once")
        ->check(count(1, 256))
        ->capture_default_str();
    return sub;
  }

  int run() override {
    if (host_.empty())
      throw UsageError("--host must name an address to listen on (127.0.0.1, 0.0.0.0, ::1, ...), got ''");
    ModelFile model = load_model(model_);
    std::optional<LabelledImages> test;
    try {
      test = load_test_images(data_dir_);
    } catch (const UsageError&) {
      if (data_->count() > 0) throw;  // asked for and missing: an error; the default folder: optional
    }
    const serve::Served served(std::move(model), std::filesystem::path(model_).filename().string(), std::move(test));
    serve::Server server(served, limits_);
    const int port = server.bind(host_, port_);
    if (host_ != "localhost" && host_ != "::1" && host_.rfind("127.", 0) != 0)  // 127.0.0.0/8 is all loopback
      std::printf("backprop serve: note: listening on %s, reachable from other machines\n", host_.c_str());
    const StopOnSignal signals("\nbackprop serve: stopping\n");
    server.start();
    std::printf("backprop serve: http://%s:%d/ (Ctrl-C stops)\n",
                host_.find(':') == std::string::npos ? host_.c_str() : ("[" + host_ + "]").c_str(), port);
    if (!test)  // said once serving, so that an error before it stays one line
      std::printf("backprop serve: no test data in %s, so no confusion matrix or mistakes (--data DIR)\n",
                  data_dir_.c_str());
    else if (!served.test_refusal().empty())
      std::printf("backprop serve: note: %s\n", served.test_refusal().c_str());
    std::fflush(stdout);
    while (server.running() && !signals.requested()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const bool asked = signals.requested();
    if (!server.stop_within(std::chrono::seconds(2))) {
      // No client can hold the server up (waits on clients end at stop), but a handler still
      // working can; Ctrl-C and SIGTERM must not wait for it. _Exit runs no destructors, so the
      // library's private socket folder (/tmp/backprop-serve-*) is removed here; nothing else of
      // ours is left to save.
      server.abandon();
      std::printf("backprop serve: stopped (connections still open were cut off)\n");
      std::fflush(stdout);
      std::_Exit(asked ? 0 : 1);
    }
    if (!asked) throw Error("the server stopped unexpectedly");
    std::printf("backprop serve: stopped\n");
    return 0;
  }

 private:
  std::string model_, host_ = "127.0.0.1", data_dir_ = default_data_dir();
  int port_ = 8080;
  serve::Limits limits_;
  CLI::Option* data_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> make_serve_command() { return std::make_unique<ServeCommand>(); }

}  // namespace bp::cli
