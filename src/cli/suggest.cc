#include "cli/suggest.h"

#include <CLI/CLI.hpp>
#include <string_view>

#include "core/strings.h"

namespace straits::cli {
namespace {

// The option of `app` or of a command above it that is called `--name`.
const CLI::Option* find_long_option(const CLI::App* app, const std::string& name) {
  for (; app != nullptr; app = app->get_parent()) {
    for (const CLI::Option* o : app->get_options()) {
      for (const std::string& l : o->get_lnames()) {
        if (l == name) return o;
      }
    }
  }
  return nullptr;
}

std::vector<std::string> long_options_of(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app->get_options()) {
    for (const std::string& l : o->get_lnames()) names.push_back("--" + l);
  }
  return names;
}

const CLI::App* find_command(const CLI::App* app, const std::string& name) {
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == name) return sub;
  }
  return nullptr;
}

std::vector<std::string> commands_of(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
    if (!sub->get_name().empty()) names.push_back(sub->get_name());
  }
  return names;
}

bool has_positionals(const CLI::App* app) {
  for (const CLI::Option* o : app->get_options()) {
    if (o->get_positional()) return true;
  }
  return false;
}

std::string suggestion(const std::string& what, const std::string& word,
                       const std::vector<std::string>& known) {
  const auto match = closest_match(word, known);
  if (!match) return "";
  return "unknown " + what + " " + word + "; did you mean " + *match + "?";
}

}  // namespace

std::string suggest_for_command_line(const CLI::App& app, const std::vector<std::string>& args) {
  const CLI::App* at = &app;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;  // positionals only from here
    if (arg.size() > 2 && arg.rfind("--", 0) == 0) {
      const std::string name = arg.substr(2, arg.find('=') - 2);
      const CLI::Option* option = find_long_option(at, name);
      if (option == nullptr) return suggestion("option", "--" + name, long_options_of(at));
      // A value in the next word: skip it (it may start with '-').
      const bool takes_value = option->get_type_size_max() > 0 && !option->get_positional();
      if (takes_value && arg.find('=') == std::string::npos) ++i;
      continue;
    }
    if (!arg.empty() && arg.front() == '-') continue;  // short options are not checked
    if (const CLI::App* sub = find_command(at, arg)) {
      at = sub;
      continue;
    }
    // A word that is no command where only a command may come.
    if (!commands_of(at).empty() && !has_positionals(at)) {
      return suggestion("command", arg, commands_of(at));
    }
  }
  return "";
}

}  // namespace straits::cli
