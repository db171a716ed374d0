// The attribute table (src/policy/internal/facts.h) against resolve(): for
// every entity of the shipped catalog and every action, resolving a request
// writes every slot a rule of that action may read (a slot left unwritten
// would silently read 0), and a few attributes hold the values computed here
// independently from the catalog.
#include <gtest/gtest.h>

#include <bit>
#include <set>

#include "catalog/load.h"
#include "policy/engine.h"
#include "policy/internal/compiled.h"

namespace straits::policy {
namespace internal {

// Reaches into an Engine and its Subjects (friend of both).
struct TestPeer {
  // A bit pattern no extractor yields: a NaN payload, far from any symbol.
  static constexpr std::int64_t kPoison = 0x7ff4dead0000beefLL;

  static const CompiledPolicy& compiled(const Engine& engine) { return *engine.compiled_; }
  // Resolves `request` into a Subject whose slots all start as kPoison.
  static Result<Subject> resolve_poisoned(const Engine& engine, const Request& request) {
    Subject s;
    s.facts_.fill(kPoison);
    STRAITS_TRY(engine.compiled_->resolve_into(request, s));
    return s;
  }
  static std::int64_t fact(const Subject& s, std::size_t slot) { return s.facts_[slot]; }
  static const std::vector<std::int64_t>& datasets(const Subject& s) { return s.datasets_; }
};

namespace {

const std::filesystem::path kSource = STRAITS_SOURCE_DIR;

const catalog::Catalog& shipped() {
  static const catalog::Catalog c = *catalog::load_catalog(kSource / "catalog");
  return c;
}

const Engine& engine() {
  static const Engine e = *Engine::load(shipped(), {kSource / "rules" / "default"});
  return e;
}

std::string describe(const Request& request) {
  return std::visit(
      [](const auto& r) -> std::string {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, ShipRequest>) {
          return "ship " + r.chip.str() + " to " + r.site.str() +
                 (r.source_site ? " from " + r.source_site->str() : "") +
                 (r.pool ? " into " + r.pool->str() : "");
        } else if constexpr (std::is_same_v<T, LeaseRequest>) {
          return "lease " + r.pool.str() + " by " + r.org.str();
        } else if constexpr (std::is_same_v<T, RunRequest>) {
          return "run on " + r.pool.str() + " by " + r.org.str();
        } else {
          return "transfer " + r.dataset.str() + " to " + r.site.str();
        }
      },
      request);
}

// Every request over the shipped catalog: each chip to each site (from its
// origin and from each site), each org on each pool (lease, and a run with
// every dataset), each dataset to each site.
std::vector<Request> every_request() {
  const catalog::Catalog& cat = shipped();
  std::vector<Request> out;
  for (const auto& chip : cat.chips()) {
    for (const auto& site : cat.sites()) {
      out.push_back(ShipRequest{chip.id, site.id, std::nullopt, std::nullopt, "", 8});
      for (const auto& from : cat.sites()) {
        out.push_back(ShipRequest{chip.id, site.id, from.id, std::nullopt, "", 1});
      }
    }
  }
  // Chips into each pool, owned or not: the pool's owner is the consignee.
  for (const auto& pool : cat.pools()) {
    out.push_back(ShipRequest{pool.chip, pool.site, std::nullopt, pool.id, "", 1});
  }
  for (const auto& org : cat.orgs()) {
    for (const auto& pool : cat.pools()) {
      out.push_back(LeaseRequest{org.id, pool.id, std::nullopt, std::nullopt, 1e9});
      RunRequest run{org.id, pool.id, JobSpec{}};
      run.job.purpose = "inference";
      for (const auto& d : cat.datasets()) run.job.datasets.push_back(d.id);
      out.push_back(run);
    }
  }
  for (const auto& d : cat.datasets()) {
    for (const auto& site : cat.sites()) out.push_back(TransferRequest{d.id, site.id, ""});
  }
  return out;
}

TEST(FactsTest, TheTableNamesEverySlotOnce) {
  std::set<std::string_view> names;
  for (std::size_t slot = 0; slot < kSlotCount; ++slot) {
    const Attribute& a = attributes()[slot];
    EXPECT_EQ(a.slot, slot) << a.name;
    EXPECT_TRUE(names.insert(a.name).second) << a.name << " twice";
    EXPECT_EQ(find_attribute(a.name), &a);
    EXPECT_NE(a.actions, 0u) << a.name;
    // Only `now` is not computed from the catalog or the request.
    EXPECT_EQ(a.extract == nullptr, a.name == "now") << a.name;
  }
  EXPECT_EQ(Subject::kSlots, kSlotCount);
}

// The heart of it: a slot of the action's attributes still holding the
// poison after resolve() is one no extractor wrote.
TEST(FactsTest, ResolveWritesEverySlotOfTheActionForEveryEntity) {
  const CompiledPolicy& c = TestPeer::compiled(engine());
  std::size_t resolved = 0;
  std::set<Action> actions;
  for (const Request& request : every_request()) {
    auto s = TestPeer::resolve_poisoned(engine(), request);
    ASSERT_TRUE(s) << describe(request) << ": " << s.error().to_string();
    ++resolved;
    actions.insert(s->action());
    for (const Attribute& a : attributes()) {
      if ((a.actions & action_bit(s->action())) == 0 || a.scope == Scope::kNow) continue;
      if (a.is_dataset() && s->action() == Action::kRun) continue;  // the datasets', below
      EXPECT_NE(TestPeer::fact(*s, a.slot), TestPeer::kPoison)
          << describe(request) << ": " << a.name << " was not set";
    }
    if (s->action() == Action::kRun) {
      const auto& values = TestPeer::datasets(*s);
      ASSERT_EQ(values.size(), shipped().datasets().size() * kDatasetSlots.count);
      for (std::size_t d = 0; d < shipped().datasets().size(); ++d) {
        const catalog::Dataset& dataset = shipped().datasets()[d];
        const std::int64_t* row = &values[d * kDatasetSlots.count];
        auto at = [&](std::string_view name) {
          return row[find_attribute(name)->slot - kDatasetSlots.first];
        };
        EXPECT_EQ(c.symbols.text(at("dataset.id")), dataset.id.str());
        EXPECT_EQ(c.symbols.text(at("dataset.origin")), dataset.origin.str());
        EXPECT_EQ(c.symbols.text(at("dataset.class")), catalog::to_string(dataset.data_class));
        EXPECT_EQ(std::bit_cast<double>(at("dataset.size_tb")), dataset.size_tb);
      }
    }
  }
  EXPECT_EQ(actions.size(), static_cast<std::size_t>(kActionCount));
  EXPECT_GT(resolved, 1000u);
}

// Values computed here from the catalog, not through the table's extractors.
TEST(FactsTest, ResolvedValuesAreTheCatalogs) {
  const catalog::Catalog& cat = shipped();
  const CompiledPolicy& c = TestPeer::compiled(engine());
  auto text = [&](const Subject& s, std::string_view name) {
    return c.symbols.text(TestPeer::fact(s, find_attribute(name)->slot));
  };
  auto number = [&](const Subject& s, std::string_view name) {
    return std::bit_cast<double>(TestPeer::fact(s, find_attribute(name)->slot));
  };
  for (const Request& request : every_request()) {
    auto s = TestPeer::resolve_poisoned(engine(), request);
    ASSERT_TRUE(s);
    SCOPED_TRACE(describe(request));
    if (const auto* ship = std::get_if<ShipRequest>(&request)) {
      const catalog::Chip& chip = *cat.find_chip(ship->chip);
      EXPECT_EQ(number(*s, "chip.tpp"), chip.tpp);
      EXPECT_EQ(text(*s, "chip.vendor"), chip.vendor);
      EXPECT_EQ(number(*s, "ship.quantity"), ship->quantity);
      EXPECT_EQ(text(*s, "source.country"), ship->source_site
                                                ? cat.find_site(*ship->source_site)->country.str()
                                                : chip.origin.str());
      const catalog::Site& site = *cat.find_site(ship->site);
      EXPECT_EQ(text(*s, "operator.parent_hq"), cat.ultimate_parent(site.operator_id).hq.str());
      // The consignee: the destination pool's owner if any, else the operator.
      const catalog::Pool* pool = ship->pool ? cat.find_pool(*ship->pool) : nullptr;
      if (pool != nullptr && pool->owner) {
        EXPECT_EQ(text(*s, "consignee.hq"), cat.find_org(*pool->owner)->hq.str());
        EXPECT_EQ(text(*s, "consignee.parent_hq"), cat.ultimate_parent(*pool->owner).hq.str());
      } else {
        EXPECT_EQ(text(*s, "consignee.hq"), cat.find_operator(site.operator_id)->hq.str());
        EXPECT_EQ(text(*s, "consignee.parent_hq"), cat.ultimate_parent(site.operator_id).hq.str());
      }
    } else if (const auto* lease = std::get_if<LeaseRequest>(&request)) {
      const catalog::Pool& pool = *cat.find_pool(lease->pool);
      double tpp = pool.gpus() * cat.find_chip(pool.chip)->tpp;
      EXPECT_EQ(number(*s, "pool.gpus"), pool.gpus());
      EXPECT_EQ(number(*s, "lease.tpp"), tpp);
      EXPECT_EQ(number(*s, "lease.country_tpp"), tpp);
      EXPECT_EQ(number(*s, "lease.org_tpp"), 1e9);
      EXPECT_EQ(text(*s, "org.parent_hq"), cat.ultimate_parent(lease->org).hq.str());
      EXPECT_EQ(text(*s, "site.country"), cat.find_site(pool.site)->country.str());
    } else if (const auto* run = std::get_if<RunRequest>(&request)) {
      // No rule of the default pack names a purpose: -1, equal to nothing.
      EXPECT_EQ(TestPeer::fact(*s, find_attribute("job.purpose")->slot), -1);
      EXPECT_EQ(number(*s, "job.gpus"), 1);
      EXPECT_EQ(TestPeer::fact(*s, find_attribute("pool.owned")->slot),
                cat.find_pool(run->pool)->owner ? 1 : 0);
    } else if (const auto* transfer = std::get_if<TransferRequest>(&request)) {
      const catalog::Dataset& d = *cat.find_dataset(transfer->dataset);
      EXPECT_EQ(text(*s, "dataset.origin"), d.origin.str());
      EXPECT_EQ(number(*s, "dataset.size_tb"), d.size_tb);
      EXPECT_EQ(text(*s, "org.id"), d.owner.str());
    }
  }
}

}  // namespace
}  // namespace internal
}  // namespace straits::policy
