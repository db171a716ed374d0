// cost: arrival order, each job where its run costs least among the pools
// where it meets its deadline.
#include "sched/policies/builtin.h"

namespace straits::sched::policies {

QueuePolicyInfo cost() {
  QueuePolicyInfo info;
  info.name = "cost";
  info.order_text = "arrival";
  info.scoring = Scoring::kCost;
  return info;
}

}  // namespace straits::sched::policies
