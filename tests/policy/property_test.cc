// Properties of the shipped packs over the shipped catalog:
// - decisions do not depend on the order of rules in files or of files;
// - next_change_after never skips a change (checked against a day-by-day scan);
// - the fast evaluate() agrees with decide().
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include "catalog/load.h"
#include "policy/engine.h"
#include "policy/temp_dir.h"

namespace straits::policy {
namespace {

namespace fs = std::filesystem;
using testing_util::TempDir;

const fs::path kSource(STRAITS_SOURCE_DIR);

const catalog::Catalog& shipped() {
  static const catalog::Catalog c = *catalog::load_catalog(kSource / "catalog");
  return c;
}

std::vector<fs::path> all_packs() {
  std::vector<fs::path> packs = {kSource / "rules" / "default"};
  std::vector<fs::path> scenarios;
  for (const auto& e : fs::directory_iterator(kSource / "rules" / "scenarios")) {
    scenarios.push_back(e.path());
  }
  std::sort(scenarios.begin(), scenarios.end());
  packs.insert(packs.end(), scenarios.begin(), scenarios.end());
  return packs;
}

// Every subject the catalog allows, for each action.
std::vector<Request> all_requests() {
  const auto& c = shipped();
  std::vector<Request> out;
  for (const auto& chip : c.chips()) {
    for (const auto& site : c.sites()) {
      out.push_back(ShipRequest{chip.id, site.id, {}, {}, "", 1});
      out.push_back(ShipRequest{chip.id, site.id, SiteId("my-sedenak-1"), {}, "tebrau", 1});
    }
  }
  for (const auto& org : c.orgs()) {
    for (const auto& pool : c.pools()) {
      out.push_back(LeaseRequest{org.id, pool.id, {}, {}, {}});
      std::vector<DatasetId> data;
      for (const auto& d : c.datasets()) {
        if (d.owner == org.id || c.ultimate_parent(d.owner).id == c.ultimate_parent(org.id).id) {
          data.push_back(d.id);
        }
      }
      out.push_back(RunRequest{org.id, pool.id, JobSpec{64, 3e24, "training", data}});
    }
  }
  for (const auto& d : c.datasets()) {
    for (const auto& site : c.sites()) out.push_back(TransferRequest{d.id, site.id, ""});
  }
  return out;
}

// What must not depend on file layout: everything but the rules' places.
std::string projection(const Decision& d) {
  std::string out = std::string(to_string(d.outcome)) + "|" + to_iso8601(d.valid_until);
  for (const auto& m : d.rules) {
    out += "|" + m.id.str() + ":" + std::string(to_string(m.effect)) + ":" +
           (m.lifted_by ? m.lifted_by->str() : "") + ":" + m.obligation;
  }
  return out;
}

// Splits a rule file into its top-level items (rule, condition, param, group).
std::vector<std::string> items_of(const std::string& text) {
  std::vector<std::string> items;
  std::istringstream in(text);
  std::string line, current;
  static const std::regex kStart("^(rule|param|group|condition)\\b.*");
  while (std::getline(in, line)) {
    if (std::regex_match(line, kStart)) {
      if (!current.empty()) items.push_back(current);
      current.clear();
    }
    if (!current.empty() || std::regex_match(line, kStart)) current += line + "\n";
  }
  if (!current.empty()) items.push_back(current);
  return items;
}

std::vector<Instant> probe_dates() {
  std::vector<Instant> dates;
  for (int y = 2021; y <= 2028; ++y) {
    for (int m = 1; m <= 12; m += 2) dates.push_back(Instant::from_date(y, m, 15));
  }
  for (const char* t : {"2022-10-21", "2023-11-17", "2025-04-09", "2025-05-13", "2025-07-14",
                        "2025-08-11", "2026-01-15", "2027-01-01"}) {
    dates.push_back(*parse_instant(t));
  }
  return dates;
}

TEST(PolicyPropertyTest, DecisionsDoNotDependOnRuleOrder) {
  auto packs = all_packs();
  auto reference = Engine::load(shipped(), packs);
  ASSERT_TRUE(reference) << reference.error().to_string();
  // Gather the default pack's items and deal them, shuffled, into new files.
  std::vector<std::string> items;
  for (const auto& e : fs::directory_iterator(packs[0])) {
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    for (auto& item : items_of(text.str())) items.push_back(item);
  }
  ASSERT_GT(items.size(), 10u);
  auto requests = all_requests();
  auto dates = probe_dates();
  for (unsigned seed : {1u, 2u, 3u}) {
    std::mt19937 rng(seed);
    std::shuffle(items.begin(), items.end(), rng);
    TempDir dir("shuffled");
    const char* names[] = {"z.rules", "a.rules", "m.rules"};
    std::string files[3];
    for (std::size_t i = 0; i < items.size(); ++i) files[rng() % 3] += items[i] + "\n";
    for (int f = 0; f < 3; ++f) dir.write(names[f], files[f]);
    std::vector<fs::path> shuffled = packs;
    shuffled[0] = dir.path();
    auto engine = Engine::load(shipped(), shuffled);
    ASSERT_TRUE(engine) << engine.error().to_string();
    ASSERT_EQ(engine->rule_count(), reference->rule_count());
    for (const Request& r : requests) {
      auto a = reference->resolve(r);
      auto b = engine->resolve(r);
      ASSERT_TRUE(a && b);
      for (Instant t : dates) {
        ASSERT_EQ(projection(reference->decide(*a, t)), projection(engine->decide(*b, t)))
            << "seed " << seed << " at " << to_iso_date(t);
      }
    }
  }
}

TEST(PolicyPropertyTest, NextChangeNeverSkipsAChange) {
  auto engine = Engine::load(shipped(), all_packs());
  ASSERT_TRUE(engine) << engine.error().to_string();
  const Instant start = Instant::from_date(2021, 6, 1);
  const Instant end = Instant::from_date(2028, 6, 1);
  std::size_t changes_seen = 0;
  for (const Request& r : all_requests()) {
    auto subject = engine->resolve(r);
    ASSERT_TRUE(subject);
    Instant since = start;
    Decision current = engine->explain(*subject, since);
    Instant next = engine->next_change_after(*subject, since);
    for (Instant t = start + Duration::days(1); t < end; t += Duration::days(1)) {
      Decision d = engine->explain(*subject, t);
      bool changed = projection(d).substr(0, projection(d).find('|')) !=
                         projection(current).substr(0, projection(current).find('|')) ||
                     d.rules != current.rules || d.obligations != current.obligations;
      if (t < next) {
        ASSERT_FALSE(changed) << "a change on " << to_iso_date(t) << " was skipped: next was "
                              << to_iso8601(next);
      } else {
        // Every rule and licence boundary in the shipped data falls at midnight.
        ASSERT_EQ(t, next) << "next_change_after pointed between days";
        ASSERT_TRUE(changed) << "next_change_after announced " << to_iso_date(t)
                             << " but nothing changed";
        ++changes_seen;
        current = d;
        since = t;
        next = engine->next_change_after(*subject, since);
      }
      // The fast path agrees with the full decision everywhere.
      ASSERT_EQ(engine->evaluate(*subject, t), d.outcome);
    }
  }
  EXPECT_GT(changes_seen, 100u);
}

}  // namespace
}  // namespace straits::policy
