// fifo: strict arrival order; the first job that cannot start (but could
// some day) blocks every job behind it.
#include "sched/policies/builtin.h"

namespace straits::sched::policies {

QueuePolicyInfo fifo() {
  QueuePolicyInfo info;
  info.name = "fifo";
  info.order_text =
      "arrival; a job that cannot start blocks those behind it (unless it can never run)";
  info.blocks = true;
  return info;
}

}  // namespace straits::sched::policies
