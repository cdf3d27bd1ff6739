// backprop: train, evaluate and check fully-connected sigmoid networks on MNIST-format data.
// Exit codes: 0 success, 1 runtime error (malformed data, device failure), 2 usage error.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "cli/common.hpp"
#include "base/error.hpp"

// A command's exit code, or 1 when its output could not be written (a full disk, a closed pipe).
static int checked_stdout(int code) {
  std::cout.flush();
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout) {
    std::cerr << "backprop: error: cannot write to standard output: " << (errno ? std::strerror(errno) : "write failed")
              << "\n";
    return code == 0 ? 1 : code;
  }
  return code;
}

int main(int argc, char** argv) {
  CLI::App app{"backprop: Nielsen's back-propagation network, fast on CPU and GPU"};
  app.require_subcommand(1);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a repeated flag: last wins
  app.set_version_flag("--version", "backprop 0.1.0");
  std::vector<std::unique_ptr<bp::cli::Command>> commands;
  commands.push_back(bp::cli::make_train_command());
  commands.push_back(bp::cli::make_sweep_command());
  commands.push_back(bp::cli::make_eval_command());
  commands.push_back(bp::cli::make_gradcheck_command());
  commands.push_back(bp::cli::make_predict_command());
  commands.push_back(bp::cli::make_inspect_command());
  commands.push_back(bp::cli::make_bench_command());
  commands.push_back(bp::cli::make_info_command());
  std::vector<CLI::App*> subs;
  for (auto& c : commands) subs.push_back(c->add(app));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "backprop: " << e.what() << " (see backprop --help)\n";
    return 2;
  }
  try {
    for (size_t i = 0; i < commands.size(); ++i)
      if (subs[i]->parsed()) return checked_stdout(commands[i]->run());
  } catch (const bp::UsageError& e) {
    std::cerr << "backprop: " << e.what() << "\n";
    return 2;
  } catch (const bp::Error& e) {
    std::cerr << "backprop: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "backprop: error: out of memory\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "backprop: error: " << e.path1().string() << ": " << e.code().message() << "\n";
    return 1;
  } catch (const std::exception& e) {  // a bug or a library's own failure: still one line, exit 1
    std::cerr << "backprop: error: " << e.what() << "\n";
    return 1;
  } catch (...) {
    std::cerr << "backprop: error: unexpected failure\n";
    return 1;
  }
  return 2;
}
