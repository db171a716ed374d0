// throughput: arrival order, each job on the fastest chip it may use
// (heterogeneity-aware, Gavel-style).
#include "sched/policies/builtin.h"

namespace straits::sched::policies {

QueuePolicyInfo throughput() {
  QueuePolicyInfo info;
  info.name = "throughput";
  info.order_text = "arrival";
  info.scoring = Scoring::kThroughput;
  return info;
}

}  // namespace straits::sched::policies
