// Runs a shell command for the CLI tests and keeps what it writes to stdout.
#pragma once

#include <sys/wait.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

namespace straits::testing {

struct CommandResult {
  int exit_code = -1;  // -1: did not run, or did not exit normally
  std::string out;
  std::string err;  // filled by run_command_capturing_stderr only
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

// As run_command, with what the command writes to stderr as well (through a
// temporary file, as popen reads one stream).
inline CommandResult run_command_capturing_stderr(const std::string& command) {
  const std::filesystem::path err_file = std::filesystem::temp_directory_path() /
                                         ("straits-test-err-" + std::to_string(::getpid()) + "-" +
                                          std::to_string(std::hash<std::string>{}(command)));
  CommandResult result = run_command(command + " 2>" + err_file.string());
  std::ifstream in(err_file);
  std::stringstream err;
  err << in.rdbuf();
  result.err = err.str();
  std::filesystem::remove(err_file);
  return result;
}

}  // namespace straits::testing
