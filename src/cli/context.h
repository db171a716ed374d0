// What every command gets from main(): where to write, what the user asked
// for globally, and how to find shipped data. Commands set exit_code.
#pragma once

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

namespace straits::cli {

// Exit codes, documented in `straits --help` and README.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // bad input, failed check, runtime failure
inline constexpr int kExitUsage = 2;  // bad command line

struct Context {
  std::ostream* out = &std::cout;
  std::ostream* err = &std::cerr;
  std::filesystem::path executable;  // argv[0] resolved, to find shipped data
  int exit_code = kExitOk;

  // Prints "straits: <message>" to err and sets exit_code to kExitError.
  void fail(const std::string& message);
};

// The shipped folder `name` ("catalog", "rules"): $STRAITS_HOME/name, then
// next to the build or install tree of the executable, then the source tree
// straits was built from.
std::filesystem::path shipped_path(const Context& context, const std::string& name);

}  // namespace straits::cli
