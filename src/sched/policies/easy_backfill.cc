// easy-backfill: arrival order with EASY reservations (easy_reservations.cc):
// a later job may start on a reserved pool only if it does not delay the
// reserved gang.
#include "sched/policies/builtin.h"

namespace straits::sched::policies {

QueuePolicyInfo easy_backfill() {
  QueuePolicyInfo info;
  info.name = "easy-backfill";
  info.order_text =
      "arrival; each pool holds at most one reservation, for the first blocked job (the first of "
      "its class: same org, gang, chips, sites, data) whose earliest start among the pools it "
      "waits on that hold none yet is there; a later job may start on a reserved pool if it ends "
      "before the reserved start or leaves room for the reserved gang then (EASY's extra nodes)";
  info.reserves = true;
  info.aliases = {"easy"};
  return info;
}

}  // namespace straits::sched::policies
