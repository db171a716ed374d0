// Parses one rule file into the pack's syntax tree. Syntax errors become
// diagnostics; the parser then skips to the end of the rule and goes on, so
// that one run reports every problem.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "policy/internal/ast.h"

namespace straits::policy::internal {

// Appends the file's rules, groups and params to `pack`.
void parse_rule_file(std::string_view text, const std::string& file_name, PackAst& pack,
                     Diagnostics& diagnostics);

}  // namespace straits::policy::internal
