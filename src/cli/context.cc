#include "cli/context.h"

#include <cstdlib>

#ifndef STRAITS_SOURCE_DIR
#define STRAITS_SOURCE_DIR "."
#endif

namespace straits::cli {

void Context::fail(const std::string& message) {
  *err << "straits: " << message << '\n';
  exit_code = kExitError;
}

std::filesystem::path shipped_path(const Context& context, const std::string& name) {
  std::error_code ec;
  if (const char* home = std::getenv("STRAITS_HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / name;
  }
  if (!context.executable.empty()) {
    std::filesystem::path bin = context.executable.parent_path();
    for (const auto& candidate :
         {bin / ".." / name, bin / ".." / ".." / name, bin / ".." / "share" / "straits" / name}) {
      if (std::filesystem::is_directory(candidate, ec)) {
        return std::filesystem::weakly_canonical(candidate, ec);
      }
    }
  }
  return std::filesystem::path(STRAITS_SOURCE_DIR) / name;
}

}  // namespace straits::cli
