#include "catalog/load.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "catalog/internal/yaml_reader.h"
#include "core/strings.h"

namespace straits::catalog {
namespace {

using internal::Fields;
using internal::Need;
using internal::Sign;
using internal::YamlFile;

bool is_entity_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  auto ok_first = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!ok_first(id.front())) return false;
  return std::all_of(id.begin(), id.end(),
                     [&](char c) { return ok_first(c) || c == '-' || c == '_' || c == '.'; });
}

bool is_group_id(std::string_view id) {
  if (id.empty() || id.size() > 64 || id.front() < 'A' || id.front() > 'Z') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool is_country_code(std::string_view code) {
  return code.size() == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z';
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// Points at another place: "line 7" in the same file, else "file:line:column".
std::string elsewhere(const SourceLocation& here, const SourceLocation& there) {
  if (here.file == there.file) return "line " + std::to_string(there.line);
  return to_string(there);
}

// What a reference points at; resolved once every file is read.
enum class RefKind { kCountry, kChip, kOperator, kSite, kOrg, kHolder };

struct PendingRef {
  RefKind kind;
  std::string id;
  SourceLocation where;
  std::string subject;  // "pool 'x'"
  std::string field;    // "site"
};

// Where an id was first defined, to report duplicates.
using Definitions = std::map<std::string, SourceLocation, std::less<>>;

class Loader {
 public:
  explicit Loader(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // Reads the files from `texts` (by file name) instead of a folder named `dir`.
  Loader(std::filesystem::path dir, const CatalogTexts* texts)
      : dir_(std::move(dir)), texts_(texts) {}

  Result<Catalog> run();

 private:
  using ItemReader = std::function<void(YamlFile&, const YAML::Node&)>;

  // `provides`: the kinds of reference the file resolves; when the file
  // cannot be read, references to them are not reported (they would only
  // repeat the one real problem).
  void read_file(const std::string& name, bool required, std::vector<RefKind> provides,
                 const std::vector<std::pair<std::string, ItemReader>>& sections);
  void check_other_files();

  void read_country(YamlFile& file, const YAML::Node& node);
  void read_group(YamlFile& file, const YAML::Node& node);
  void read_chip(YamlFile& file, const YAML::Node& node);
  void read_operator(YamlFile& file, const YAML::Node& node);
  void read_site(YamlFile& file, const YAML::Node& node);
  void read_pool(YamlFile& file, const YAML::Node& node);
  void read_org(YamlFile& file, const YAML::Node& node);
  void read_licence(YamlFile& file, const YAML::Node& node);
  void read_dataset(YamlFile& file, const YAML::Node& node);

  // Reads the `id` field, checks its form and uniqueness; "" when unusable.
  std::string read_id(Fields& fields, YamlFile& file, const std::string& kind,
                      Definitions& definitions);
  void refer(RefKind kind, const std::string& id, SourceLocation where, const std::string& subject,
             const std::string& field);
  void resolve_references();
  void check_id_collisions();
  void check_cycles();
  std::string suggest(RefKind kind, const std::string& id) const;

  std::filesystem::path dir_;
  const CatalogTexts* texts_ = nullptr;  // when set, the files and nothing else
  Diagnostics diagnostics_;

  std::vector<Country> countries_;
  std::vector<CountryGroup> groups_;
  std::vector<Chip> chips_;
  std::vector<Operator> operators_;
  std::vector<Site> sites_;
  std::vector<Pool> pools_;
  std::vector<Org> orgs_;
  std::vector<Licence> licences_;
  std::vector<Dataset> datasets_;

  Definitions country_defs_, group_defs_, chip_defs_, operator_defs_, site_defs_, pool_defs_,
      org_defs_, licence_defs_, dataset_defs_;
  std::vector<PendingRef> refs_;
  std::set<RefKind> unreadable_;
  std::map<std::string, SourceLocation> org_parent_at_, operator_parent_at_;
};

std::string Loader::read_id(Fields& fields, YamlFile& file, const std::string& kind,
                            Definitions& definitions) {
  auto id = fields.string("id", Need::kRequired);
  if (!id) return "";
  if (!is_entity_id(*id)) {
    fields.error("id",
                 "an id must be lower-case letters, digits, '-', '_' or '.', "
                 "starting with a letter or digit");
    return "";
  }
  auto [it, inserted] = definitions.emplace(*id, fields.where("id"));
  if (!inserted) {
    file.error(fields.where("id"), "duplicate " + kind + " id '" + *id + "' (first defined at " +
                                       elsewhere(fields.where("id"), it->second) + ")");
    return "";
  }
  return *id;
}

void Loader::refer(RefKind kind, const std::string& id, SourceLocation where,
                   const std::string& subject, const std::string& field) {
  refs_.push_back(PendingRef{kind, id, std::move(where), subject, field});
}

void Loader::read_country(YamlFile& file, const YAML::Node& node) {
  Fields f(file, node, "country", "code", {"code", "name"});
  auto code = f.string("code", Need::kRequired);
  auto name = f.string("name", Need::kRequired);
  if (!code) return;
  if (!is_country_code(*code)) {
    f.error("code",
            "a country code is two upper-case letters (ISO 3166-1 alpha-2), got '" + *code + "'");
    return;
  }
  auto [it, inserted] = country_defs_.emplace(*code, f.where("code"));
  if (!inserted) {
    file.error(f.where("code"), "duplicate country code '" + *code + "' (first defined at " +
                                    elsewhere(f.where("code"), it->second) + ")");
    return;
  }
  countries_.push_back(Country{CountryCode(*code), name.value_or("")});
}

void Loader::read_group(YamlFile& file, const YAML::Node& node) {
  Fields f(file, node, "group", "id", {"id", "label", "name", "members", "sources", "notes"});
  auto id = f.string("id", Need::kRequired);
  auto label = f.string("label", Need::kRequired);
  auto name = f.string("name", Need::kRequired);
  auto members = f.strings("members", Need::kRequired);
  auto sources = f.strings("sources", Need::kRequired);
  auto notes = f.string("notes", Need::kOptional);
  if (!id) return;
  if (!is_group_id(*id)) {
    f.error("id",
            "a group id is upper-case letters, digits or '_', starting with a letter "
            "(e.g. D5, TIER1), got '" +
                *id + "'");
    return;
  }
  auto [it, inserted] = group_defs_.emplace(*id, f.where("id"));
  if (!inserted) {
    file.error(f.where("id"), "duplicate group id '" + *id + "' (first defined at " +
                                  elsewhere(f.where("id"), it->second) + ")");
    return;
  }
  CountryGroup group{GroupId(*id),
                     label.value_or(""),
                     name.value_or(""),
                     {},
                     sources.value_or(std::vector<std::string>{}),
                     notes.value_or("")};
  if (members) {
    std::set<std::string> seen;
    for (std::size_t i = 0; i < members->size(); ++i) {
      const std::string& code = (*members)[i];
      if (!seen.insert(code).second) {
        file.error(f.where_item("members", i),
                   "group '" + *id + "': country '" + code + "' is listed twice");
        continue;
      }
      refer(RefKind::kCountry, code, f.where_item("members", i), "group '" + *id + "'", "member");
      group.members.push_back(CountryCode(code));
    }
  }
  groups_.push_back(std::move(group));
}

void Loader::read_chip(YamlFile& file, const YAML::Node& node) {
  Fields f(file, node, "chip", "id",
           {"id", "name", "vendor", "origin", "datacenter", "bf16_dense_tflops", "int8_dense_tops",
            "memory_gb", "memory_type", "memory_bandwidth_gbps", "io_bandwidth_gbps", "tdp_w",
            "die_area_mm2", "interconnect", "sources", "notes"});
  std::string id = read_id(f, file, "chip", chip_defs_);
  Chip chip;
  chip.id = ChipId(id);
  chip.name = f.string("name", Need::kRequired).value_or("");
  chip.vendor = f.string("vendor", Need::kRequired).value_or("");
  auto origin = f.string("origin", Need::kRequired);
  chip.datacenter = f.boolean("datacenter", Need::kRequired).value_or(true);
  chip.bf16_dense_tflops = f.number("bf16_dense_tflops", Need::kOptional, Sign::kPositive);
  chip.int8_dense_tops = f.number("int8_dense_tops", Need::kOptional, Sign::kPositive);
  chip.memory_gb = f.number("memory_gb", Need::kRequired, Sign::kPositive).value_or(0);
  chip.memory_type = f.string("memory_type", Need::kOptional).value_or("");
  chip.memory_bandwidth_gbps =
      f.number("memory_bandwidth_gbps", Need::kRequired, Sign::kPositive).value_or(0);
  chip.io_bandwidth_gbps =
      f.number("io_bandwidth_gbps", Need::kRequired, Sign::kNonNegative).value_or(0);
  chip.tdp_w = f.number("tdp_w", Need::kOptional, Sign::kPositive);
  chip.die_area_mm2 = f.number("die_area_mm2", Need::kOptional, Sign::kPositive);
  chip.interconnect = f.string("interconnect", Need::kOptional).value_or("");
  chip.sources = f.strings("sources", Need::kRequired).value_or(std::vector<std::string>{});
  chip.notes = f.string("notes", Need::kOptional).value_or("");
  const YAML::Node& map = node;
  if (!map["bf16_dense_tflops"].IsDefined() && !map["int8_dense_tops"].IsDefined() && !id.empty()) {
    file.error(file.at(node), "chip '" + id +
                                  "': needs 'bf16_dense_tflops' or 'int8_dense_tops' to "
                                  "compute its TPP");
  }
  if (origin) {
    refer(RefKind::kCountry, *origin, f.where("origin"), "chip '" + id + "'", "origin");
    chip.origin = CountryCode(*origin);
  }
  if (!id.empty()) chips_.push_back(std::move(chip));
}

void Loader::read_operator(YamlFile& file, const YAML::Node& node) {
  Fields f(file, node, "operator", "id", {"id", "name", "hq", "parent", "notes"});
  std::string id = read_id(f, file, "operator", operator_defs_);
  Operator op;
  op.id = OperatorId(id);
  op.name = f.string("name", Need::kRequired).value_or("");
  auto hq = f.string("hq", Need::kRequired);
  auto parent = f.string("parent", Need::kOptional);
  op.notes = f.string("notes", Need::kOptional).value_or("");
  std::string subject = "operator '" + id + "'";
  if (hq) {
    refer(RefKind::kCountry, *hq, f.where("hq"), subject, "hq");
    op.hq = CountryCode(*hq);
  }
  if (parent) {
    refer(RefKind::kOperator, *parent, f.where("parent"), subject, "parent");
    op.parent = OperatorId(*parent);
    operator_parent_at_[id] = f.where("parent");
  }
  if (!id.empty()) operators_.push_back(std::move(op));
}

void Loader::read_site(YamlFile& file, const YAML::Node& node) {
  Fields f(file, node, "site", "id",
           {"id", "name", "operator", "country", "city", "state_funded", "notes"});
  std::string id = read_id(f, file, "site", site_defs_);
  Site site;
  site.id = SiteId(id);
  site.name = f.string("name", Need::kRequired).value_or("");
  auto op = f.string("operator", Need::kRequired);
  auto country = f.string("country", Need::kRequired);
  site.city = f.string("city", Need::kRequired).value_or("");
  site.state_funded = f.boolean("state_funded", Need::kOptional).value_or(false);
  site.notes = f.string("notes", Need::kOptional).value_or("");
  std::string subject = "site '" + id + "'";
  if (op) {
    refer(RefKind::kOperator, *op, f.where("operator"), subject, "operator");
    site.operator_id = OperatorId(*op);
  }
  if (country) {
    refer(RefKind::kCountry, *country, f.where("country"), subject, "country");
    site.country = CountryCode(*country);
  }
  if (!id.empty()) sites_.push_back(std::move(site));
}

void Loader::read_pool(YamlFile& file, const YAML::Node& node) {
  Fields f(file, node, "pool", "id",
           {"id", "site", "chip", "nodes", "gpus_per_node", "interconnect", "price_per_gpu_hour",
            "price_source", "owner", "notes"});
  std::string id = read_id(f, file, "pool", pool_defs_);
  Pool pool;
  pool.id = PoolId(id);
  auto site = f.string("site", Need::kRequired);
  auto chip = f.string("chip", Need::kRequired);
  auto nodes = f.integer("nodes", Need::kRequired, Sign::kPositive);
  auto gpus_per_node = f.integer("gpus_per_node", Need::kRequired, Sign::kPositive);
  pool.interconnect = f.string("interconnect", Need::kRequired).value_or("");
  auto price = f.string("price_per_gpu_hour", Need::kRequired);
  pool.price_source = f.string("price_source", Need::kRequired).value_or("");
  auto owner = f.string("owner", Need::kOptional);
  pool.notes = f.string("notes", Need::kOptional).value_or("");
  std::string subject = "pool '" + id + "'";
  if (nodes && *nodes > 1'000'000) f.error("nodes", "'nodes' is implausibly large");
  if (gpus_per_node && *gpus_per_node > 1'024) {
    f.error("gpus_per_node", "'gpus_per_node' is implausibly large");
  }
  pool.nodes = static_cast<int>(std::min<std::int64_t>(nodes.value_or(0), 1'000'000));
  pool.gpus_per_node = static_cast<int>(std::min<std::int64_t>(gpus_per_node.value_or(0), 1'024));
  if (price) {
    auto money = parse_money(*price);
    if (!money) {
      f.error("price_per_gpu_hour", money.error().message());
    } else if (money->micros() <= 0) {
      f.error("price_per_gpu_hour",
              "'price_per_gpu_hour' must be greater than zero, got " + *price);
    } else {
      pool.price_per_gpu_hour = *money;
    }
  }
  if (site) {
    refer(RefKind::kSite, *site, f.where("site"), subject, "site");
    pool.site = SiteId(*site);
  }
  if (chip) {
    refer(RefKind::kChip, *chip, f.where("chip"), subject, "chip");
    pool.chip = ChipId(*chip);
  }
  if (owner) {
    refer(RefKind::kOrg, *owner, f.where("owner"), subject, "owner");
    pool.owner = OrgId(*owner);
  }
  if (!id.empty()) pools_.push_back(std::move(pool));
}

void Loader::read_org(YamlFile& file, const YAML::Node& node) {
  Fields f(file, node, "org", "id", {"id", "name", "hq", "parent", "notes"});
  std::string id = read_id(f, file, "org", org_defs_);
  Org org;
  org.id = OrgId(id);
  org.name = f.string("name", Need::kRequired).value_or("");
  auto hq = f.string("hq", Need::kRequired);
  auto parent = f.string("parent", Need::kOptional);
  org.notes = f.string("notes", Need::kOptional).value_or("");
  std::string subject = "org '" + id + "'";
  if (hq) {
    refer(RefKind::kCountry, *hq, f.where("hq"), subject, "hq");
    org.hq = CountryCode(*hq);
  }
  if (parent) {
    refer(RefKind::kOrg, *parent, f.where("parent"), subject, "parent");
    org.parent = OrgId(*parent);
    org_parent_at_[id] = f.where("parent");
  }
  if (!id.empty()) orgs_.push_back(std::move(org));
}

void Loader::read_licence(YamlFile& file, const YAML::Node& node) {
  Fields f(file, node, "licence", "id",
           {"id", "name", "holder", "chips", "countries", "valid_from", "valid_until", "issuer",
            "reference", "notes"});
  std::string id = read_id(f, file, "licence", licence_defs_);
  Licence licence;
  licence.id = LicenceId(id);
  licence.name = f.string("name", Need::kRequired).value_or("");
  auto holder = f.string("holder", Need::kRequired);
  auto chips = f.strings("chips", Need::kOptional);
  auto countries = f.strings("countries", Need::kOptional);
  auto from = f.date("valid_from", Need::kRequired);
  auto until = f.date("valid_until", Need::kOptional);
  licence.issuer = f.string("issuer", Need::kRequired).value_or("");
  licence.reference = f.string("reference", Need::kOptional).value_or("");
  licence.notes = f.string("notes", Need::kOptional).value_or("");
  std::string subject = "licence '" + id + "'";
  if (holder) {
    refer(RefKind::kHolder, *holder, f.where("holder"), subject, "holder");
    licence.holder.id = *holder;
  }
  if (chips) {
    for (std::size_t i = 0; i < chips->size(); ++i) {
      refer(RefKind::kChip, (*chips)[i], f.where_item("chips", i), subject, "chip");
      licence.chips.push_back(ChipId((*chips)[i]));
    }
  }
  if (countries) {
    for (std::size_t i = 0; i < countries->size(); ++i) {
      refer(RefKind::kCountry, (*countries)[i], f.where_item("countries", i), subject, "country");
      licence.countries.push_back(CountryCode((*countries)[i]));
    }
  }
  if (from) licence.valid_from = *from;
  licence.valid_until = until;
  if (from && until && *until <= *from) {
    f.error("valid_until", "'valid_until' (" + to_iso_date(*until) +
                               ") must be after 'valid_from' (" + to_iso_date(*from) + ")");
  }
  if (!id.empty()) licences_.push_back(std::move(licence));
}

void Loader::read_dataset(YamlFile& file, const YAML::Node& node) {
  Fields f(file, node, "dataset", "id",
           {"id", "name", "owner", "origin", "class", "size_tb", "notes"});
  std::string id = read_id(f, file, "dataset", dataset_defs_);
  Dataset dataset;
  dataset.id = DatasetId(id);
  dataset.name = f.string("name", Need::kRequired).value_or("");
  auto owner = f.string("owner", Need::kRequired);
  auto origin = f.string("origin", Need::kRequired);
  auto data_class = f.string("class", Need::kRequired);
  dataset.size_tb = f.number("size_tb", Need::kRequired, Sign::kPositive).value_or(0);
  dataset.notes = f.string("notes", Need::kOptional).value_or("");
  std::string subject = "dataset '" + id + "'";
  if (owner) {
    refer(RefKind::kOrg, *owner, f.where("owner"), subject, "owner");
    dataset.owner = OrgId(*owner);
  }
  if (origin) {
    refer(RefKind::kCountry, *origin, f.where("origin"), subject, "origin");
    dataset.origin = CountryCode(*origin);
  }
  if (data_class) {
    static const std::vector<std::string> kClasses = {"public", "personal", "important"};
    if (*data_class == "public") {
      dataset.data_class = DataClass::kPublic;
    } else if (*data_class == "personal") {
      dataset.data_class = DataClass::kPersonal;
    } else if (*data_class == "important") {
      dataset.data_class = DataClass::kImportant;
    } else {
      f.error("class", "'class' must be public, personal or important, got '" + *data_class + "'" +
                           did_you_mean(*data_class, kClasses));
    }
  }
  if (!id.empty()) datasets_.push_back(std::move(dataset));
}

void Loader::read_file(const std::string& name, bool required, std::vector<RefKind> provides,
                       const std::vector<std::pair<std::string, ItemReader>>& sections) {
  auto unreadable = [&] { unreadable_.insert(provides.begin(), provides.end()); };
  std::filesystem::path path = dir_ / name;
  YamlFile file(path.string(), diagnostics_);
  std::error_code ec;
  const auto text = texts_ ? texts_->find(name) : CatalogTexts::const_iterator{};
  if (texts_ ? text == texts_->end() : !std::filesystem::exists(path, ec)) {
    if (required) {
      file.error(SourceLocation{path.string(), 0, 0},
                 "missing: a catalog needs chips.yaml and countries.yaml");
    }
    return;
  }
  YAML::Node root;
  try {
    root = texts_ ? YAML::Load(text->second) : YAML::LoadFile(path.string());
  } catch (const YAML::ParserException& e) {
    file.error(file.at(e.mark), "YAML syntax error: " + e.msg);
    unreadable();
    return;
  } catch (const YAML::Exception& e) {
    file.error(SourceLocation{path.string(), 0, 0}, std::string("cannot read: ") + e.what());
    unreadable();
    return;
  }
  if (root.IsNull() || !root.IsDefined()) return;
  std::vector<std::string> known;
  for (const auto& [key, reader] : sections) known.push_back(key);
  if (!root.IsMap()) {
    file.error(root, "expected a mapping with '" + known.front() + ":' at the top, got " +
                         internal::describe(root));
    unreadable();
    return;
  }
  for (const auto& entry : root) {
    const YAML::Node& key = entry.first;
    std::string key_text = key.IsScalar() ? key.Scalar() : internal::describe(key);
    auto section = std::find_if(sections.begin(), sections.end(),
                                [&](const auto& s) { return s.first == key_text; });
    if (section == sections.end()) {
      file.error(key, "unknown section '" + key_text + "'" + did_you_mean(key_text, known));
      unreadable();
      continue;
    }
    const YAML::Node& items = entry.second;
    if (items.IsNull()) continue;
    if (!items.IsSequence()) {
      file.error(items, "'" + key_text + "' must be a list (items start with '- '), got " +
                            internal::describe(items));
      unreadable();
      continue;
    }
    for (const YAML::Node& item : items) {
      if (!item.IsMap()) {
        file.error(item, "each item of '" + key_text + "' must be a mapping of fields, got " +
                             internal::describe(item));
        continue;
      }
      section->second(file, item);
    }
  }
}

void Loader::check_other_files() {
  if (texts_) {
    for (const auto& [name, text] : *texts_) {
      if (std::find(std::begin(kCatalogFiles), std::end(kCatalogFiles), name) ==
          std::end(kCatalogFiles)) {
        diagnostics_.add(SourceLocation{(dir_ / name).string(), 0, 0},
                         "not a catalog file: expected one of chips.yaml, countries.yaml, ...");
      }
    }
    return;
  }
  std::error_code ec;
  std::vector<std::string> known(std::begin(kCatalogFiles), std::end(kCatalogFiles));
  std::vector<std::string> strays;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    auto ext = entry.path().extension().string();
    if (ext != ".yaml" && ext != ".yml") continue;
    if (std::find(known.begin(), known.end(), name) == known.end()) strays.push_back(name);
  }
  std::sort(strays.begin(), strays.end());
  for (const std::string& name : strays) {
    diagnostics_.add(
        SourceLocation{(dir_ / name).string(), 0, 0},
        "not a catalog file" + did_you_mean(name, known) + "; a catalog holds only " + [&] {
          std::string all;
          for (const auto& k : known) all += (all.empty() ? "" : ", ") + k;
          return all;
        }());
  }
}

std::string Loader::suggest(RefKind kind, const std::string& id) const {
  auto keys = [](const Definitions& defs) {
    std::vector<std::string> out;
    for (const auto& [key, where] : defs) out.push_back(key);
    return out;
  };
  switch (kind) {
    case RefKind::kCountry: {
      // Two-letter codes are all one edit apart; suggest from names instead.
      std::string wanted = upper(id);
      if (country_defs_.count(wanted)) return " (did you mean '" + wanted + "'?)";
      for (const Country& c : countries_) {
        if (upper(c.name) == wanted) return " (did you mean '" + c.code.str() + "'?)";
      }
      return "";
    }
    case RefKind::kChip: return did_you_mean(id, keys(chip_defs_));
    case RefKind::kOperator: return did_you_mean(id, keys(operator_defs_));
    case RefKind::kSite: return did_you_mean(id, keys(site_defs_));
    case RefKind::kOrg: return did_you_mean(id, keys(org_defs_));
    case RefKind::kHolder: {
      std::vector<std::string> all = keys(org_defs_);
      auto ops = keys(operator_defs_);
      all.insert(all.end(), ops.begin(), ops.end());
      std::sort(all.begin(), all.end());
      return did_you_mean(id, all);
    }
  }
  return "";
}

void Loader::resolve_references() {
  for (const PendingRef& ref : refs_) {
    if (unreadable_.count(ref.kind)) continue;
    std::string lead = ref.subject + ": " + ref.field + " '" + ref.id + "'";
    switch (ref.kind) {
      case RefKind::kCountry:
        if (!country_defs_.count(ref.id)) {
          diagnostics_.add(ref.where, lead + " is not a country code in countries.yaml" +
                                          suggest(ref.kind, ref.id));
        }
        break;
      case RefKind::kChip:
        if (!chip_defs_.count(ref.id)) {
          diagnostics_.add(ref.where, lead + " is not in chips.yaml" + suggest(ref.kind, ref.id));
        }
        break;
      case RefKind::kOperator:
        if (!operator_defs_.count(ref.id)) {
          diagnostics_.add(ref.where,
                           lead + " is not in operators.yaml" + suggest(ref.kind, ref.id));
        }
        break;
      case RefKind::kSite:
        if (!site_defs_.count(ref.id)) {
          diagnostics_.add(ref.where, lead + " is not in sites.yaml" + suggest(ref.kind, ref.id));
        }
        break;
      case RefKind::kOrg:
        if (!org_defs_.count(ref.id)) {
          diagnostics_.add(ref.where, lead + " is not in orgs.yaml" + suggest(ref.kind, ref.id));
        }
        break;
      case RefKind::kHolder:
        if (!org_defs_.count(ref.id) && !operator_defs_.count(ref.id)) {
          diagnostics_.add(ref.where,
                           lead + " is neither an org nor an operator" + suggest(ref.kind, ref.id));
        }
        break;
    }
  }
}

void Loader::check_id_collisions() {
  // A licence names its holder by id alone, so org and operator ids share one namespace.
  for (const auto& [id, where] : org_defs_) {
    auto op = operator_defs_.find(id);
    if (op != operator_defs_.end()) {
      diagnostics_.add(where, "org '" + id + "': id is also used by an operator (at " +
                                  op->second.file.substr(dir_.string().size() + 1) + ":" +
                                  std::to_string(op->second.line) +
                                  "); org and operator ids must differ");
    }
  }
}

// Reports each ownership cycle once, at the parent field of its smallest id.
template <typename Entity>
void report_cycles(const std::vector<Entity>& entities,
                   const std::map<std::string, SourceLocation>& parent_at, const char* kind,
                   Diagnostics& diagnostics) {
  std::map<std::string, std::string> parent_of;
  for (const Entity& e : entities) {
    if (e.parent) parent_of[e.id.str()] = e.parent->str();
  }
  std::set<std::string> reported;
  for (const auto& [start, unused] : parent_of) {
    std::vector<std::string> path;
    std::string current = start;
    while (true) {
      auto seen = std::find(path.begin(), path.end(), current);
      if (seen != path.end()) {
        std::vector<std::string> cycle(seen, path.end());
        std::string smallest = *std::min_element(cycle.begin(), cycle.end());
        if (reported.insert(smallest).second) {
          // Print the cycle starting from its smallest member.
          auto pos = std::find(cycle.begin(), cycle.end(), smallest);
          std::rotate(cycle.begin(), pos, cycle.end());
          std::string text;
          for (const auto& id : cycle) text += id + " -> ";
          text += smallest;
          diagnostics.add(parent_at.at(smallest),
                          std::string(kind) + " '" + smallest + "': ownership cycle: " + text);
        }
        break;
      }
      path.push_back(current);
      auto next = parent_of.find(current);
      if (next == parent_of.end()) break;
      current = next->second;
    }
  }
}

void Loader::check_cycles() {
  report_cycles(orgs_, org_parent_at_, "org", diagnostics_);
  report_cycles(operators_, operator_parent_at_, "operator", diagnostics_);
}

Result<Catalog> Loader::run() {
  std::error_code ec;
  if (!texts_ && !std::filesystem::is_directory(dir_, ec)) {
    return Error(ErrorCode::kNotFound,
                 "catalog folder '" + dir_.string() + "' does not exist or is not a folder");
  }
  auto bind = [this](void (Loader::*reader)(YamlFile&, const YAML::Node&)) -> ItemReader {
    return [this, reader](YamlFile& file, const YAML::Node& node) { (this->*reader)(file, node); };
  };
  read_file("countries.yaml", true, {RefKind::kCountry},
            {{"countries", bind(&Loader::read_country)}, {"groups", bind(&Loader::read_group)}});
  read_file("chips.yaml", true, {RefKind::kChip}, {{"chips", bind(&Loader::read_chip)}});
  read_file("operators.yaml", false, {RefKind::kOperator, RefKind::kHolder},
            {{"operators", bind(&Loader::read_operator)}});
  read_file("sites.yaml", false, {RefKind::kSite}, {{"sites", bind(&Loader::read_site)}});
  read_file("pools.yaml", false, {}, {{"pools", bind(&Loader::read_pool)}});
  read_file("orgs.yaml", false, {RefKind::kOrg, RefKind::kHolder},
            {{"orgs", bind(&Loader::read_org)}});
  read_file("licences.yaml", false, {}, {{"licences", bind(&Loader::read_licence)}});
  read_file("datasets.yaml", false, {}, {{"datasets", bind(&Loader::read_dataset)}});
  check_other_files();
  resolve_references();
  check_id_collisions();
  check_cycles();

  if (!diagnostics_.empty()) {
    std::size_t n = diagnostics_.sorted().size();
    return diagnostics_.to_error("catalog '" + dir_.string() + "' has " + std::to_string(n) +
                                 (n == 1 ? " error" : " errors"));
  }
  CatalogBuilder builder;
  for (auto& x : countries_) builder.add(std::move(x));
  for (auto& x : groups_) builder.add(std::move(x));
  for (auto& x : chips_) builder.add(std::move(x));
  for (auto& x : operators_) builder.add(std::move(x));
  for (auto& x : sites_) builder.add(std::move(x));
  for (auto& x : pools_) builder.add(std::move(x));
  for (auto& x : orgs_) builder.add(std::move(x));
  for (auto& x : licences_) {
    x.holder.kind =
        org_defs_.count(x.holder.id) ? LicenceHolder::Kind::kOrg : LicenceHolder::Kind::kOperator;
    builder.add(std::move(x));
  }
  for (auto& x : datasets_) builder.add(std::move(x));
  return builder.build();
}

}  // namespace

Result<Catalog> load_catalog(const std::filesystem::path& dir) {
  return Loader(dir).run();
}

Result<Catalog> load_catalog(const CatalogTexts& texts, std::string_view name) {
  return Loader(std::filesystem::path(std::string(name)), &texts).run();
}

}  // namespace straits::catalog
