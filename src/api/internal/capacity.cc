#include "api/internal/capacity.h"

#include <algorithm>
#include <map>
#include <optional>

#include "api/internal/runs.h"

namespace straits::api::internal {
namespace {

// A pool's geometry as its body says, or "gone" once retired.
struct Shape {
  bool gone = false;
  std::int64_t nodes = 0, gpus_per_node = 0;
  std::string site, chip;
  std::int64_t capacity() const { return gone ? 0 : nodes * gpus_per_node; }
};

Shape retired() {
  Shape s;
  s.gone = true;
  return s;
}

Shape shape_of(const json& body) {
  Shape s;
  auto integer = [&body](const char* key) -> std::int64_t {
    auto it = body.find(key);
    return it != body.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
  };
  auto text = [&body](const char* key) -> std::string {
    auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  s.nodes = integer("nodes");
  s.gpus_per_node = integer("gpus_per_node");
  s.site = text("site");
  s.chip = text("chip");
  return s;
}

std::string body_text(const store::EntityRecord& record, const char* key) {
  json body = json::parse(record.body_json, nullptr, false);
  if (!body.is_object()) return "";
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Instant lease_end(const store::LeaseRecord& l) {
  return l.state == "terminated" && l.terminated_at ? std::min(l.end, *l.terminated_at) : l.end;
}

// The leases of `pool` in force at `now` or later, and the most GPUs they
// hold at once from now on.
struct InForce {
  std::vector<std::string> ids;
  std::int64_t peak = 0;
};

InForce leases_in_force(const World& world, const std::string& pool, Instant now) {
  InForce out;
  std::vector<std::pair<Instant, std::int64_t>> steps;
  for (const auto& [id, l] : world.leases) {
    if (l.pool != pool) continue;
    const Instant start = std::max(l.start, now), end = lease_end(l);
    if (end <= start) continue;
    out.ids.push_back(id);
    steps.push_back({start, l.gpus});
    steps.push_back({end, -static_cast<std::int64_t>(l.gpus)});
  }
  std::sort(steps.begin(), steps.end());  // ends (negative) before starts at one instant
  std::int64_t held = 0;
  for (const auto& [at, delta] : steps) out.peak = std::max(out.peak, held += delta);
  return out;
}

// The jobs in place on `pool` that `shape` would not hold, in id order.
std::vector<std::string> jobs_off(const World& world, const std::string& pool, const Shape& shape,
                                  const Shape& before) {
  std::vector<std::string> out;
  std::map<std::int64_t, std::int64_t> per_node;  // GPUs held on each node
  std::vector<const JobEntry*> placed;
  for (const auto& [id, e] : world.jobs) {
    if (!placed_state(e.state) || !e.pool || *e.pool != pool) continue;
    placed.push_back(&e);
    for (const auto& [node, gpus] : e.nodes) per_node[node] += gpus;
  }
  const bool moved = shape.site != before.site || shape.chip != before.chip;
  for (const JobEntry* e : placed) {
    bool off = shape.gone || moved;
    for (const auto& [node, gpus] : e->nodes) {
      off = off || node < 0 || node >= shape.nodes || per_node[node] > shape.gpus_per_node;
    }
    if (off) out.push_back(e->record.id);
  }
  return out;
}

// "l-1, l-2 and 3 more": a message stays readable; details list them all.
std::string some(const std::vector<std::string>& ids) {
  constexpr std::size_t kNamed = 20;
  std::string out;
  for (std::size_t i = 0; i < ids.size() && i < kNamed; ++i) out += (i ? ", " : "") + ids[i];
  if (ids.size() > kNamed) out += " and " + std::to_string(ids.size() - kNamed) + " more";
  return out;
}

// The field of a pool update that shrinks or moves it: the answer's field.
std::string field_of(const Shape& before, const Shape& after) {
  if (after.nodes < before.nodes) return "nodes";
  if (after.gpus_per_node < before.gpus_per_node) return "gpus_per_node";
  if (after.site != before.site) return "site";
  if (after.chip != before.chip) return "chip";
  return "";
}

}  // namespace

void check_capacity(const World& world, const std::string& kind, const std::string& id,
                    const json* after, Instant now) {
  auto pools = world.entities.find("pool");
  if (pools == world.entities.end()) return;
  // The pools the change touches, with the shape each would have.
  std::vector<std::pair<std::string, Shape>> changed;
  if (kind == "pool") {
    auto it = pools->second.find(id);
    if (it == pools->second.end()) return;
    Shape shape = after ? shape_of(*after) : retired();
    changed.emplace_back(id, shape);
  } else if ((kind == "site" || kind == "operator") && !after) {
    std::set<std::string> sites;
    if (kind == "site") {
      sites.insert(id);
    } else if (auto all = world.entities.find("site"); all != world.entities.end()) {
      for (const auto& [sid, record] : all->second) {
        if (!record.retired_at && body_text(record, "operator") == id) sites.insert(sid);
      }
    }
    for (const auto& [pid, record] : pools->second) {
      if (!record.retired_at && sites.count(body_text(record, "site"))) {
        changed.emplace_back(pid, retired());
      }
    }
  }
  for (const auto& [pool, shape] : changed) {
    const Shape before = shape_of(json::parse(pools->second.at(pool).body_json, nullptr, false));
    // An edit that neither shrinks nor moves the pool takes nothing away.
    if (!shape.gone && field_of(before, shape).empty()) continue;
    const InForce leases = leases_in_force(world, pool, now);
    const bool over = leases.peak > shape.capacity();
    const std::vector<std::string> jobs = jobs_off(world, pool, shape, before);
    if (!over && jobs.empty()) continue;
    std::string message =
        shape.gone ? "retiring " + kind + " '" + id + "' takes pool '" + pool + "' out of service"
                   : "pool '" + pool + "' would have " + std::to_string(shape.nodes) +
                         " nodes of " + std::to_string(shape.gpus_per_node) + " GPUs";
    if (over) {
      message += "; its leases in force hold up to " + std::to_string(leases.peak) +
                 " GPUs at once (leases " + some(leases.ids) + ")";
    }
    if (!jobs.empty()) {
      message += std::string("; jobs in place would be off its nodes (jobs ") + some(jobs) + ")";
    }
    message += ": end those leases and move or cancel those jobs first";
    throw HttpError{409, "conflict", message, shape.gone ? std::string() : field_of(before, shape),
                    json{{"pool", pool},
                         {"capacity", shape.capacity()},
                         {"leases", over ? leases.ids : std::vector<std::string>{}},
                         {"jobs", jobs}}};
  }
}

std::vector<std::string> capacity_problems(const World& world, Instant now) {
  std::vector<std::string> problems;
  auto pools = world.entities.find("pool");
  if (pools == world.entities.end()) return problems;
  for (const auto& [pool, record] : pools->second) {
    Shape shape = shape_of(json::parse(record.body_json, nullptr, false));
    shape.gone = record.retired_at.has_value();
    const InForce leases = leases_in_force(world, pool, now);
    if (leases.peak > shape.capacity()) {
      problems.push_back("pool " + pool + " has " + std::to_string(shape.capacity()) +
                         " GPUs, its leases in force hold up to " + std::to_string(leases.peak) +
                         " (leases " + some(leases.ids) + ")");
    }
    const std::vector<std::string> jobs = jobs_off(world, pool, shape, shape);
    if (!jobs.empty()) {
      problems.push_back("pool " + pool + " has " + std::to_string(shape.nodes) + " nodes of " +
                         std::to_string(shape.gpus_per_node) + " GPUs, jobs placed off them: " +
                         some(jobs) + " (the scheduler moves them)");
    }
  }
  return problems;
}

}  // namespace straits::api::internal
