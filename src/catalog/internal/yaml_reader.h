// Typed, located access to YAML mappings for the catalog loader: every
// problem becomes a Diagnostic at the exact line and column, and reading
// goes on so that all problems are reported at once.
//
// Internal to catalog: includes yaml-cpp, which other modules never see.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace straits::catalog::internal {

// One YAML file being read.
class YamlFile {
 public:
  YamlFile(std::string display_name, Diagnostics& diagnostics)
      : name_(std::move(display_name)), diagnostics_(&diagnostics) {}

  const std::string& name() const { return name_; }
  SourceLocation at(const YAML::Node& node) const;
  SourceLocation at(const YAML::Mark& mark) const;
  void error(const SourceLocation& where, std::string message) {
    diagnostics_->add(where, std::move(message));
  }
  void error(const YAML::Node& node, std::string message) { error(at(node), std::move(message)); }

 private:
  std::string name_;
  Diagnostics* diagnostics_;
};

enum class Need { kRequired, kOptional };
enum class Sign { kAny, kPositive, kNonNegative };

// The fields of one mapping (one entity) of a `kind` ("pool") named by its
// `id_key` field. The constructor reports keys that are not in `known` (with
// a suggestion) and keys given twice. Messages start with the entity, e.g.
// "pool 'sg-1-h100': ".
class Fields {
 public:
  Fields(YamlFile& file, const YAML::Node& map, const std::string& kind, const std::string& id_key,
         std::vector<std::string> known);

  std::optional<std::string> string(const std::string& key, Need need);
  std::optional<double> number(const std::string& key, Need need, Sign sign);
  std::optional<std::int64_t> integer(const std::string& key, Need need, Sign sign);
  std::optional<bool> boolean(const std::string& key, Need need);
  std::optional<Instant> date(const std::string& key, Need need);
  // A sequence of scalars; a single scalar is taken as a one-item list.
  std::optional<std::vector<std::string>> strings(const std::string& key, Need need);
  // The location of a key's value, or of the mapping when the key is absent;
  // for errors found after reading (dangling references, cycles).
  SourceLocation where(const std::string& key) const;
  // The location of the i-th item of a list-valued key.
  SourceLocation where_item(const std::string& key, std::size_t i) const;
  void error(const std::string& key, const std::string& message);

 private:
  YAML::Node get(const std::string& key, Need need);
  template <typename Number>
  std::optional<Number> scalar_number(const std::string& key, Need need, Sign sign,
                                      const char* what);
  std::string prefix() const { return subject_.empty() ? "" : subject_ + ": "; }

  YamlFile* file_;
  YAML::Node map_;
  std::string subject_;
};

// Describes a node's kind for "expected X, got Y" messages.
std::string describe(const YAML::Node& node);

}  // namespace straits::catalog::internal
