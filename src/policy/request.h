// What a decision is asked about: one of four actions and its subject, named
// by catalog ids. Engine::resolve() checks the ids and turns a request into
// a Subject, which is what the fast evaluation works on.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/id.h"

namespace straits::policy {

// Chips moved to a site (export, re-export, in-country transfer).
struct ShipRequest {
  ChipId chip;
  SiteId site;                        // destination
  std::optional<SiteId> source_site;  // absent: from the chip's country of origin
  std::optional<PoolId> pool;         // destination pool, whose owner becomes a party
  std::string by;                     // an org or operator acting; "" for none
  int quantity = 1;
};

// An org rents (part of) a pool: remote access to compute.
struct LeaseRequest {
  OrgId org;
  PoolId pool;
  std::optional<int> gpus;            // default: the whole pool
  std::optional<double> country_tpp;  // TPP leased in the site's country incl. this lease
  std::optional<double> org_tpp;      // TPP leased by the org's group incl. this lease
};

struct JobSpec {
  int gpus = 1;
  double training_flops = 0;
  std::string purpose = "training";
  std::vector<DatasetId> datasets;
};

// A job of an org on a pool.
struct RunRequest {
  OrgId org;
  PoolId pool;
  JobSpec job;
};

// A dataset moved to a site.
struct TransferRequest {
  DatasetId dataset;
  SiteId site;
  std::string by;  // an org or operator acting; the dataset's owner is always a party
};

using Request = std::variant<ShipRequest, LeaseRequest, RunRequest, TransferRequest>;

}  // namespace straits::policy
