// backprop: train, evaluate and check fully-connected sigmoid networks on MNIST-format data.
// Exit codes: 0 success, 1 runtime error (malformed data, device failure), 2 usage error.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "base/error.hpp"
#include "cli/common.hpp"

// Whether standard output is a pipe or socket whose reader has gone (`backprop train ... | head`):
// poll() reports POLLERR on such a write end.
static bool stdout_reader_gone() {
  pollfd p{STDOUT_FILENO, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}

// A command's exit code, or 1 when its output could not be written (a full disk). A reader that
// stopped reading (a closed pipe) is not an error: the lines it did not want are dropped.
static int checked_stdout(int code) {
  std::cout.flush();
  errno = 0;
  const bool failed = std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout;
  if (failed && (errno == EPIPE || stdout_reader_gone())) return code;
  if (failed) {
    std::cerr << "backprop: error: cannot write to standard output: " << (errno ? std::strerror(errno) : "write failed")
              << "\n";
    return code == 0 ? 1 : code;
  }
  return code;
}

// CLI11's message, made specific where it is vague: an unknown subcommand is named with the list
// of commands, and an unknown flag that is a prefix or near miss of a real one gets "did you mean".
static std::string explain(const CLI::ParseError& e, CLI::App& app, int argc, char** argv) {
  std::string commands;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    commands += (commands.empty() ? "" : ", ") + sub->get_name();
  const CLI::App* chosen = nullptr;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (sub->parsed()) chosen = sub;
  if (!chosen && argc > 1 && argv[1][0] != '-')
    return std::string("unknown command '") + argv[1] + "'; the commands are " + commands;
  if (!chosen) return e.what();
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) continue;
    const std::string name = arg.substr(0, arg.find('='));
    std::vector<std::string> near;
    bool known = false;
    for (const CLI::Option* o : chosen->get_options()) {
      for (const std::string& l : o->get_lnames()) {
        const std::string flag = "--" + l;
        if (flag == name) known = true;
        if (flag != name && (flag.rfind(name, 0) == 0 || name.rfind(flag, 0) == 0)) near.push_back(flag);
      }
    }
    if (!known && !near.empty()) return "unknown flag " + name + "; did you mean " + near.front() + "?";
  }
  return e.what();
}

int main(int argc, char** argv) {
  // A closed pipe on standard output must not kill a run before it saves its model: writes to it
  // fail instead (EPIPE), the run goes on, and checked_stdout() lets it end quietly.
  std::signal(SIGPIPE, SIG_IGN);
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
#ifdef BACKPROP_HAVE_SERVE
  commands.push_back(bp::cli::make_serve_command());
#endif
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
    std::cerr << "backprop: " << explain(e, app, argc, argv) << " (see backprop --help)\n";
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
