// libFuzzer target: any bytes as a rule file. The lexer, parser and checker
// must report problems as diagnostics, never crash, hang or trip a sanitizer.
// Checked against the minimal test catalog, so that the checker runs too.
#include <cstddef>
#include <cstdint>
#include <string>

#include "catalog/load.h"
#include "policy/internal/compiled.h"
#include "policy/internal/parser.h"

namespace {

const straits::catalog::Catalog& minimal() {
  static const straits::catalog::Catalog catalog =
      *straits::catalog::load_catalog(STRAITS_FUZZ_CATALOG);
  return catalog;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace straits::policy::internal;
  std::string text(reinterpret_cast<const char*>(data), size);
  straits::Diagnostics diagnostics;
  std::vector<PackAst> packs(1);
  packs[0].name = "fuzz";
  parse_rule_file(text, "fuzz.rules", packs[0], diagnostics);
  CompiledPolicy compiled;
  compiled.catalog = &minimal();
  compile_packs(packs, {}, compiled, diagnostics);
  // Every diagnostic must carry a place inside the input.
  for (const auto& d : diagnostics.sorted()) {
    if (d.where.file == "fuzz.rules" && d.where.line < 0) __builtin_trap();
  }
  return 0;
}
