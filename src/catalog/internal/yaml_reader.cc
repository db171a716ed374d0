#include "catalog/internal/yaml_reader.h"

#include <algorithm>
#include <cmath>

#include "core/strings.h"

namespace straits::catalog::internal {

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "\"" + node.Scalar() + "\"";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Undefined: return "nothing";
  }
  return "something else";
}

SourceLocation YamlFile::at(const YAML::Mark& mark) const {
  if (mark.is_null()) return SourceLocation{name_, 0, 0};
  return SourceLocation{name_, mark.line + 1, mark.column + 1};
}

SourceLocation YamlFile::at(const YAML::Node& node) const {
  return at(node.Mark());
}

Fields::Fields(YamlFile& file, const YAML::Node& map, const std::string& kind,
               const std::string& id_key, std::vector<std::string> known)
    : file_(&file), map_(map) {
  const YAML::Node& const_map = map_;
  YAML::Node id = const_map[id_key];
  subject_ = id.IsDefined() && id.IsScalar() ? kind + " '" + id.Scalar() + "'" : kind;
  std::set<std::string> seen;
  for (const auto& entry : map_) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) {
      file_->error(key, prefix() + "a field name must be a plain word, got " + describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    if (!seen.insert(name).second) {
      file_->error(key, prefix() + "field '" + name + "' is given twice");
      continue;
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::vector<std::string> sorted = known;
      std::sort(sorted.begin(), sorted.end());
      file_->error(key, prefix() + "unknown field '" + name + "'" + did_you_mean(name, sorted));
    }
  }
}

YAML::Node Fields::get(const std::string& key, Need need) {
  const YAML::Node& map = map_;
  YAML::Node value = map[key];
  if (!value.IsDefined() || value.IsNull()) {
    if (need == Need::kRequired) {
      file_->error(map_, prefix() + "missing required field '" + key + "'");
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return value;
}

SourceLocation Fields::where(const std::string& key) const {
  const YAML::Node& map = map_;
  YAML::Node value = map[key];
  return value.IsDefined() ? file_->at(value) : file_->at(map_);
}

SourceLocation Fields::where_item(const std::string& key, std::size_t i) const {
  const YAML::Node& map = map_;
  YAML::Node value = map[key];
  if (value.IsSequence() && i < value.size()) return file_->at(value[i]);
  return where(key);
}

void Fields::error(const std::string& key, const std::string& message) {
  file_->error(where(key), prefix() + message);
}

std::optional<std::string> Fields::string(const std::string& key, Need need) {
  YAML::Node value = get(key, need);
  if (!value.IsDefined()) return std::nullopt;
  if (!value.IsScalar()) {
    file_->error(value, prefix() + "'" + key + "' must be text, got " + describe(value));
    return std::nullopt;
  }
  if (value.Scalar().empty() && need == Need::kRequired) {
    file_->error(value, prefix() + "'" + key + "' must not be empty");
    return std::nullopt;
  }
  return value.Scalar();
}

template <typename Number>
std::optional<Number> Fields::scalar_number(const std::string& key, Need need, Sign sign,
                                            const char* what) {
  YAML::Node value = get(key, need);
  if (!value.IsDefined()) return std::nullopt;
  Number number{};
  if (!value.IsScalar() || !YAML::convert<Number>::decode(value, number) ||
      !std::isfinite(static_cast<double>(number))) {
    file_->error(value, prefix() + "'" + key + "' must be " + what + ", got " + describe(value));
    return std::nullopt;
  }
  if (sign == Sign::kPositive && number <= 0) {
    file_->error(value,
                 prefix() + "'" + key + "' must be greater than zero, got " + value.Scalar());
    return std::nullopt;
  }
  if (sign == Sign::kNonNegative && number < 0) {
    file_->error(value, prefix() + "'" + key + "' must not be negative, got " + value.Scalar());
    return std::nullopt;
  }
  return number;
}

std::optional<double> Fields::number(const std::string& key, Need need, Sign sign) {
  return scalar_number<double>(key, need, sign, "a number");
}

std::optional<std::int64_t> Fields::integer(const std::string& key, Need need, Sign sign) {
  auto number = scalar_number<long long>(key, need, sign, "a whole number");
  if (!number) return std::nullopt;
  return static_cast<std::int64_t>(*number);
}

std::optional<bool> Fields::boolean(const std::string& key, Need need) {
  YAML::Node value = get(key, need);
  if (!value.IsDefined()) return std::nullopt;
  bool flag = false;
  if (!value.IsScalar() || !YAML::convert<bool>::decode(value, flag)) {
    file_->error(value, prefix() + "'" + key + "' must be true or false, got " + describe(value));
    return std::nullopt;
  }
  return flag;
}

std::optional<Instant> Fields::date(const std::string& key, Need need) {
  YAML::Node value = get(key, need);
  if (!value.IsDefined()) return std::nullopt;
  if (!value.IsScalar()) {
    file_->error(value, prefix() + "'" + key + "' must be a date, got " + describe(value));
    return std::nullopt;
  }
  auto instant = parse_instant(value.Scalar());
  if (!instant) {
    file_->error(value, prefix() + "'" + key + "': " + instant.error().message());
    return std::nullopt;
  }
  return *instant;
}

std::optional<std::vector<std::string>> Fields::strings(const std::string& key, Need need) {
  YAML::Node value = get(key, need);
  if (!value.IsDefined()) return std::nullopt;
  if (value.IsScalar()) return std::vector<std::string>{value.Scalar()};
  if (!value.IsSequence()) {
    file_->error(value, prefix() + "'" + key + "' must be a list, got " + describe(value));
    return std::nullopt;
  }
  std::vector<std::string> items;
  bool ok = true;
  for (const YAML::Node& item : value) {
    if (!item.IsScalar()) {
      file_->error(item, prefix() + "items of '" + key + "' must be text, got " + describe(item));
      ok = false;
      continue;
    }
    items.push_back(item.Scalar());
  }
  if (!ok) return std::nullopt;
  if (items.empty() && need == Need::kRequired) {
    file_->error(value, prefix() + "'" + key + "' must not be empty");
    return std::nullopt;
  }
  return items;
}

}  // namespace straits::catalog::internal
