// straits catalog validate|show
#include <CLI/CLI.hpp>
#include <memory>

#include "catalog/load.h"
#include "cli/catalog_json.h"
#include "cli/commands.h"
#include "cli/table.h"

namespace straits::cli {
namespace {

using namespace straits::catalog;
using Align = Table::Align;

const std::vector<std::string> kShowKinds = {"chips", "countries", "groups",   "operators", "sites",
                                             "pools", "orgs",      "licences", "datasets"};

std::string or_dash(const std::string& s) {
  return s.empty() ? "-" : s;
}

template <typename T>
std::string or_dash(const std::optional<T>& v, int decimals) {
  return v ? format_number(*v, decimals) : "-";
}

Table chips_table(const Catalog& c) {
  Table t(
      {"ID", "NAME", "VENDOR", "ORIGIN", "BF16 TFLOPS", "INT8/FP8 TOPS", "MEM GB", "MEM GB/s",
       "I/O GB/s", "DIE mm2", "TPP", "PD"},
      {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight, Align::kRight,
       Align::kRight, Align::kRight, Align::kRight, Align::kRight, Align::kRight, Align::kRight});
  for (const Chip& chip : c.chips()) {
    t.add_row({chip.id.str(), chip.name, chip.vendor, chip.origin.str(),
               or_dash(chip.bf16_dense_tflops, 1), or_dash(chip.int8_dense_tops, 1),
               format_number(chip.memory_gb, 0), format_number(chip.memory_bandwidth_gbps, 0),
               format_number(chip.io_bandwidth_gbps, 0), or_dash(chip.die_area_mm2, 2),
               format_number(chip.tpp, 0), or_dash(chip.performance_density, 2)});
  }
  return t;
}

Table countries_table(const Catalog& c) {
  Table t({"CODE", "NAME", "GROUPS"});
  for (const Country& country : c.countries()) {
    std::string groups;
    for (const CountryGroup& g : c.groups()) {
      if (g.contains(country.code)) groups += (groups.empty() ? "" : " ") + g.label;
    }
    t.add_row({country.code.str(), country.name, or_dash(groups)});
  }
  return t;
}

Table groups_table(const Catalog& c) {
  Table t({"ID", "LABEL", "MEMBERS", "NAME", "LIST"},
          {Align::kLeft, Align::kLeft, Align::kRight, Align::kLeft, Align::kLeft});
  for (const CountryGroup& g : c.groups()) {
    std::string list;
    for (const auto& m : g.members) list += (list.empty() ? "" : " ") + m.str();
    t.add_row({g.id.str(), g.label, std::to_string(g.members.size()), g.name, list});
  }
  return t;
}

Table operators_table(const Catalog& c) {
  Table t({"ID", "NAME", "HQ", "PARENT", "ULTIMATE PARENT", "PARENT HQ", "SITES"},
          {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft,
           Align::kRight});
  for (const Operator& o : c.operators()) {
    const Operator& top = c.ultimate_parent(o.id);
    int sites = 0;
    for (const Site& s : c.sites()) sites += s.operator_id == o.id ? 1 : 0;
    t.add_row({o.id.str(), o.name, o.hq.str(), o.parent ? o.parent->str() : "-",
               top.id == o.id ? "-" : top.id.str(), top.hq.str(), std::to_string(sites)});
  }
  return t;
}

Table sites_table(const Catalog& c) {
  Table t({"ID", "NAME", "OPERATOR", "COUNTRY", "CITY", "STATE-FUNDED", "POOLS", "GPUS"},
          {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft,
           Align::kRight, Align::kRight});
  for (const Site& s : c.sites()) {
    int pools = 0, gpus = 0;
    for (const Pool& p : c.pools()) {
      if (p.site == s.id) {
        ++pools;
        gpus += p.gpus();
      }
    }
    t.add_row({s.id.str(), s.name, s.operator_id.str(), s.country.str(), s.city,
               s.state_funded ? "yes" : "no", std::to_string(pools), std::to_string(gpus)});
  }
  return t;
}

Table pools_table(const Catalog& c) {
  Table t({"ID", "SITE", "COUNTRY", "CHIP", "NODES", "GPUS/NODE", "GPUS", "PRICE/GPU-H", "OWNER",
           "INTERCONNECT"},
          {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight, Align::kRight,
           Align::kRight, Align::kRight, Align::kLeft, Align::kLeft});
  for (const Pool& p : c.pools()) {
    const Site* site = c.find_site(p.site);
    t.add_row({p.id.str(), p.site.str(), site ? site->country.str() : "?", p.chip.str(),
               std::to_string(p.nodes), std::to_string(p.gpus_per_node), std::to_string(p.gpus()),
               to_string(p.price_per_gpu_hour), p.owner ? p.owner->str() : "(leasable)",
               p.interconnect});
  }
  return t;
}

Table orgs_table(const Catalog& c) {
  Table t({"ID", "NAME", "HQ", "PARENT", "ULTIMATE PARENT", "PARENT HQ"});
  for (const Org& o : c.orgs()) {
    const Org& top = c.ultimate_parent(o.id);
    t.add_row({o.id.str(), o.name, o.hq.str(), o.parent ? o.parent->str() : "-",
               top.id == o.id ? "-" : top.id.str(), top.hq.str()});
  }
  return t;
}

Table licences_table(const Catalog& c) {
  Table t({"ID", "NAME", "HOLDER", "CHIPS", "COUNTRIES", "FROM", "UNTIL", "ISSUER"});
  for (const Licence& l : c.licences()) {
    std::string chips, countries;
    for (const auto& x : l.chips) chips += (chips.empty() ? "" : ",") + x.str();
    for (const auto& x : l.countries) countries += (countries.empty() ? "" : ",") + x.str();
    t.add_row({l.id.str(), l.name, l.holder.id, chips.empty() ? "any" : chips,
               countries.empty() ? "any" : countries, to_iso_date(l.valid_from),
               l.valid_until ? to_iso_date(*l.valid_until) : "open", l.issuer});
  }
  return t;
}

Table datasets_table(const Catalog& c) {
  Table t({"ID", "NAME", "OWNER", "ORIGIN", "CLASS", "SIZE TB"},
          {Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kLeft, Align::kRight});
  for (const Dataset& d : c.datasets()) {
    t.add_row({d.id.str(), d.name, d.owner.str(), d.origin.str(),
               std::string(to_string(d.data_class)), format_number(d.size_tb, 1)});
  }
  return t;
}

Table table_of(const Catalog& c, const std::string& kind) {
  if (kind == "chips") return chips_table(c);
  if (kind == "countries") return countries_table(c);
  if (kind == "groups") return groups_table(c);
  if (kind == "operators") return operators_table(c);
  if (kind == "sites") return sites_table(c);
  if (kind == "pools") return pools_table(c);
  if (kind == "orgs") return orgs_table(c);
  if (kind == "licences") return licences_table(c);
  return datasets_table(c);
}

struct ShowOptions {
  std::string kind;
  std::string catalog_dir;
  bool json = false;
};

struct ValidateOptions {
  std::string catalog_dir;
};

std::optional<Catalog> load_or_report(Context& context, const std::string& dir_option) {
  std::filesystem::path dir =
      dir_option.empty() ? shipped_path(context, "catalog") : std::filesystem::path(dir_option);
  auto loaded = load_catalog(dir);
  if (!loaded) {
    context.fail(loaded.error().to_string());
    return std::nullopt;
  }
  return std::move(loaded).value();
}

void run_show(Context& context, const ShowOptions& options) {
  auto catalog = load_or_report(context, options.catalog_dir);
  if (!catalog) return;
  std::ostream& out = *context.out;
  if (options.json) {
    out << catalog_to_json(*catalog, options.kind) << '\n';
    return;
  }
  if (!options.kind.empty()) {
    table_of(*catalog, options.kind).print(out);
    return;
  }
  // Everything but the 249 countries, which `show countries` lists.
  bool first = true;
  for (const std::string& kind : kShowKinds) {
    if (kind == "countries") continue;
    if (!first) out << '\n';
    first = false;
    Table table = table_of(*catalog, kind);
    out << "== " << kind << " (" << table.rows() << ") ==\n";
    table.print(out);
  }
}

void run_validate(Context& context, const ValidateOptions& options) {
  auto catalog = load_or_report(context, options.catalog_dir);
  if (!catalog) return;
  *context.out << "catalog OK: " << catalog->chips().size() << " chips, "
               << catalog->countries().size() << " countries, " << catalog->groups().size()
               << " country groups, " << catalog->operators().size() << " operators, "
               << catalog->sites().size() << " sites, " << catalog->pools().size() << " pools, "
               << catalog->orgs().size() << " orgs, " << catalog->licences().size() << " licences, "
               << catalog->datasets().size() << " datasets\n";
}

}  // namespace

void add_catalog_command(CLI::App& app, Context& context) {
  CLI::App* catalog =
      app.add_subcommand("catalog",
                         "Inspect and validate the catalog of chips, countries, operators, sites, "
                         "pools, orgs, licences and datasets");
  catalog->require_subcommand(1);

  auto validate_options = std::make_shared<ValidateOptions>();
  CLI::App* validate = catalog->add_subcommand(
      "validate", "Check a catalog folder and report every problem as file:line:column");
  validate->add_option("dir", validate_options->catalog_dir,
                       "Catalog folder (default: the shipped catalog)");
  validate->callback([&context, validate_options] { run_validate(context, *validate_options); });

  auto show_options = std::make_shared<ShowOptions>();
  CLI::App* show = catalog->add_subcommand(
      "show", "Print one kind of catalog entry as a table (or JSON); all kinds when none given");
  show->add_option("kind", show_options->kind, "What to show")->check(CLI::IsMember(kShowKinds));
  show->add_option("--catalog", show_options->catalog_dir,
                   "Catalog folder (default: the shipped catalog)");
  show->add_flag("--json", show_options->json, "Print JSON for scripts instead of a table");
  show->callback([&context, show_options] { run_show(context, *show_options); });
}

}  // namespace straits::cli
