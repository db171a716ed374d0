// straits: the command-line front door. Builds the object graph from the
// command line and maps Errors to messages and exit codes; no logic lives here.
#include <CLI/CLI.hpp>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/context.h"
#include "cli/suggest.h"

#ifndef STRAITS_VERSION
#define STRAITS_VERSION "0.0.0"
#endif

namespace {

std::filesystem::path resolve_executable(const char* argv0) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) return self;
  return std::filesystem::absolute(argv0, ec);
}

// Blanks the value of every --token in the process's own argument memory,
// which /proc/PID/cmdline shows to every local user (an agent's jobs
// included, through their supervisor, a fork of the agent).
void hide_secret_arguments(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--token" && i + 1 < argc) {
      std::memset(argv[i + 1], '*', std::strlen(argv[i + 1]));
    } else if (arg.starts_with("--token=")) {
      std::memset(argv[i] + 8, '*', arg.size() - 8);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace straits::cli;
  Context context;
  context.executable = resolve_executable(argc > 0 ? argv[0] : "straits");

  CLI::App app(
      "straits: compliance-first broker and scheduler for AI-training GPU capacity.\n"
      "Exit codes: 0 success, 1 error (bad input, failed check), 2 bad command line.",
      "straits");
  app.set_version_flag("--version", std::string("straits ") + STRAITS_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);

  add_catalog_command(app, context);
  add_policy_command(app, context);
  add_sim_command(app, context);
  add_trace_command(app, context);
  add_db_command(app, context);
  add_serve_command(app, context);
  add_agent_command(app, context);
  add_client_commands(app, context);
  add_audit_command(app, context);
  add_rules_command(app, context);

  // Parsed from copies: the originals are blanked first.
  std::vector<std::string> arguments(argv, argv + argc);
  std::vector<const char*> copies;
  for (const std::string& arg : arguments) copies.push_back(arg.c_str());
  hide_secret_arguments(argc, argv);

  try {
    app.parse(argc, copies.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // A mistyped option or command is named with the nearest known one first.
    const std::string hint = suggest_for_command_line(
        app,
        std::vector<std::string>(arguments.begin() + (arguments.empty() ? 0 : 1), arguments.end()));
    if (!hint.empty()) *context.err << "straits: " << hint << "\n";
    app.exit(e);
    return kExitUsage;
  } catch (const std::exception& e) {
    context.fail(std::string("unexpected failure: ") + e.what());
  }
  std::cout.flush();
  return context.exit_code;
}
