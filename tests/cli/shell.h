// Runs a shell command for the CLI tests and keeps what it writes to stdout.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace straits::testing {

struct CommandResult {
  int exit_code = -1;  // -1: did not run, or did not exit normally
  std::string out;
};

inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace straits::testing
