// Did-you-mean for the command line: a mistyped option or command named with
// the nearest one the command knows (core/strings.h's closest_match).
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace straits::cli {

// Walks `args` (without the program name) down the commands of `app` as
// CLI11 would and finds the first word none of them takes: an option ("--quite"
// under `sim run`) or a command ("lese" where a command is required). Returns
// "unknown option --quite; did you mean --quiet?" (or "unknown command lese;
// did you mean lease?") when a known one is close, "" otherwise: only long
// options (--name) are checked, and a value after an option that takes one
// is skipped.
std::string suggest_for_command_line(const CLI::App& app, const std::vector<std::string>& args);

}  // namespace straits::cli
