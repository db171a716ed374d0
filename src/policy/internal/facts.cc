#include "policy/internal/facts.h"

#include <algorithm>

namespace straits::policy::internal {

std::string_view to_string(Type type) {
  switch (type) {
    case Type::kBool: return "bool";
    case Type::kNumber: return "number";
    case Type::kString: return "string";
    case Type::kCountry: return "country";
    case Type::kDate: return "date";
  }
  return "?";
}

std::span<const Attribute> attributes() {
  return kAttributes;
}

const Attribute* find_attribute(std::string_view name) {
  auto it = std::find_if(kAttributes.begin(), kAttributes.end(),
                         [&](const Attribute& a) { return a.name == name; });
  return it == kAttributes.end() ? nullptr : &*it;
}

}  // namespace straits::policy::internal
