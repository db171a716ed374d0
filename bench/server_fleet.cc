#include "server_fleet.h"

#include <algorithm>
#include <filesystem>

#include "catalog/load.h"

namespace straits::sched::bench {

namespace fs = std::filesystem;

ServerFleet& server_fleet() {
  static ServerFleet* f = [] {
    auto* out = new ServerFleet;
    auto shipped = *catalog::load_catalog(fs::path(STRAITS_SOURCE_DIR) / "catalog");
    catalog::CatalogBuilder b;
    for (const auto& c : shipped.countries()) b.add(c);
    for (const auto& g : shipped.groups()) b.add(g);
    for (const auto& c : shipped.chips()) b.add(c);
    const char* countries[] = {"SG", "MY", "JP", "US", "CN", "DE", "IN", "AE"};
    const std::vector<const char*> chips_abroad = {"h100-sxm", "h200", "b200", "mi300x",
                                                   "a100-sxm"};
    const std::vector<const char*> chips_cn = {"h800", "h20", "a800", "ascend-910b"};
    constexpr int kSites = 50, kPools = 1000, kOrgs = 20, kJobs = 10000;
    for (int s = 0; s < kSites; ++s) {
      const char* country = countries[s % 8];
      b.add(catalog::Operator{
          OperatorId("op-" + std::to_string(s)), "Operator", CountryCode(country), {}, ""});
      b.add(catalog::Site{SiteId("site-" + std::to_string(s)), "Site",
                          OperatorId("op-" + std::to_string(s)), CountryCode(country), "City",
                          false, ""});
    }
    for (int p = 0; p < kPools; ++p) {
      const int site = p % kSites;
      const auto& chips = std::string_view(countries[site % 8]) == "CN" ? chips_cn : chips_abroad;
      catalog::Pool pool;
      pool.id = PoolId("pool-" + std::to_string(p));
      pool.site = SiteId("site-" + std::to_string(site));
      pool.chip = ChipId(chips[static_cast<std::size_t>(p / kSites) % chips.size()]);
      pool.nodes = 8;
      pool.gpus_per_node = 8;
      pool.interconnect = "IB";
      pool.price_per_gpu_hour = *parse_money(p % 2 == 0 ? "4.00 USD" : "3.20 USD");
      if (p % 4 == 3) pool.owner = OrgId("org-" + std::to_string((p / 4) % kOrgs));
      b.add(pool);
    }
    b.add(catalog::Org{OrgId("group-cn"), "Group", CountryCode("CN"), {}, ""});
    const char* org_hq[] = {"SG", "US", "JP", "SG", "SG"};
    for (int o = 0; o < kOrgs; ++o) {
      std::optional<OrgId> parent;
      if (o % 5 == 0) parent = OrgId("group-cn");
      b.add(catalog::Org{OrgId("org-" + std::to_string(o)), "Org", CountryCode(org_hq[o % 5]),
                         parent, ""});
    }
    out->catalog = b.build();
    out->engine =
        *policy::Engine::load(out->catalog, {fs::path(STRAITS_SOURCE_DIR) / "rules" / "default"});
    out->throughput = *ThroughputModel::make(out->catalog, ChipId("h100-sxm"));
    out->state = ClusterState::empty_fleet(out->catalog);
    const Instant t0 = Instant::from_date(2026, 11, 28);
    out->now = t0;
    std::vector<Lease> leases;
    int leasable = 0;
    for (int p = 0; p < kPools; ++p) {
      if (p % 4 == 3) continue;
      const int k = leasable++;
      const Instant start = k % 17 == 0 ? t0 + Duration::days(3) : t0 - Duration::days(30);
      const Instant end = t0 + Duration::days(10 + k % 80);
      auto lease = [&](int org, int gpus, int n) {
        leases.push_back(Lease{LeaseId("l-" + std::to_string(p) + "-" + std::to_string(n)),
                               OrgId("org-" + std::to_string(org)),
                               PoolId("pool-" + std::to_string(p)), gpus, start, end,
                               *parse_money("3.50 USD")});
      };
      if (k % 3 == 0) {
        lease(k % kOrgs, 64, 0);
      } else {
        lease(k % kOrgs, 32, 0);
        lease((k + 7) % kOrgs, 32, 1);
      }
    }
    out->state.set_leases(std::move(leases));
    std::uint64_t x = 6;  // fixed seed
    auto next = [&x] {    // splitmix64
      x += 0x9E3779B97F4A7C15ULL;
      std::uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      return z ^ (z >> 31);
    };
    const std::vector<std::vector<const char*>> chip_sets = {{},
                                                             {},
                                                             {"h100-sxm"},
                                                             {"h200"},
                                                             {"b200"},
                                                             {"h100-sxm", "h200"},
                                                             {"mi300x"},
                                                             {"h800", "h20"},
                                                             {"a100-sxm", "a800"},
                                                             {"ascend-910b"}};
    out->jobs.resize(kJobs);
    for (std::size_t i = 0; i < out->jobs.size(); ++i) {
      Job& j = out->jobs[i];
      j.id = JobId("job-" + std::to_string(i));
      j.org = OrgId("org-" + std::to_string(next() % kOrgs));
      j.team = "team-" + std::to_string(next() % 3);
      j.gpus = 1 << (next() % 7);
      for (const char* c : chip_sets[next() % chip_sets.size()]) j.eligible_chips.emplace_back(c);
      if (next() % 10 == 0) {
        j.preferences.site_order = {SiteId("site-" + std::to_string(next() % kSites)),
                                    SiteId("site-" + std::to_string(next() % kSites))};
      }
      j.work = j.gpus * (1.0 + static_cast<double>(next() % 100) / 10);
      j.submit = t0 - Duration::seconds(static_cast<std::int64_t>(kJobs - i));
      j.checkpoint_interval = Duration::hours(2);
      j.checkpoint_gb = 2.0 * j.gpus;
    }
    for (const Job& j : out->jobs) out->state.pending.push_back(PendingJob{&j, j.work});
    return out;
  }();
  return *f;
}

void apply_starts(ClusterState& state, const Plan& plan, Instant now) {
  std::vector<std::size_t> started;
  for (const Start& s : plan.starts) {
    const PendingJob& p = state.pending[s.pending_index];
    const std::uint32_t slot = state.org_slot(p.job->org);
    state.allocate(slot, s.allocation);
    state.add_running(RunningJob{p.job, s.allocation, now, s.expected_end, s.must_leave_by,
                                 p.remaining_work, slot});
    started.push_back(s.pending_index);
  }
  std::sort(started.rbegin(), started.rend());
  for (std::size_t i : started) {
    state.pending.erase(state.pending.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

}  // namespace straits::sched::bench
