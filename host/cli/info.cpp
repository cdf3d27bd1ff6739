// `backprop info`: what this build contains and which devices it can use.
#include <cstdio>
#include <thread>

#include "cli/common.hpp"
#include "cpu/cpu_gemm.hpp"
#include "cpu/cpu_path.hpp"
#include "cuda/cuda_backend.hpp"

namespace bp::cli {
namespace {

class InfoCommand final : public Command {
 public:
  CLI::App* add(CLI::App& app) override { return app.add_subcommand("info", "Show the build and the usable devices"); }

  int run() override {
    const CudaStatus cuda = cuda_status();
    std::printf("backprop 0.1.0 (%s build)\n", cuda.built ? "CUDA" : "CPU-only");
    std::printf("CPU: %s, %u hardware threads\n", cpu_model_name().c_str(), std::thread::hardware_concurrency());
    std::printf("CPU GEMM: %s\n", cpu_gemm_description().c_str());
    std::printf("%s\n", cuda.report.c_str());
    if (!cuda.usable) std::printf("CUDA device: none usable (%s)\n", cuda.reason.c_str());
    return 0;
  }
};

}  // namespace

std::unique_ptr<Command> make_info_command() { return std::make_unique<InfoCommand>(); }

}  // namespace bp::cli
