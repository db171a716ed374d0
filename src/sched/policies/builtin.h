// The built-in queue policies' descriptors, one file each; queue_policy.cc
// holds them in its one table, in QueuePolicy order.
#pragma once

#include "sched/queue_policy.h"

namespace straits::sched::policies {

QueuePolicyInfo fifo();
QueuePolicyInfo easy_backfill();
QueuePolicyInfo priority_fair_share();
QueuePolicyInfo least_attained();
QueuePolicyInfo throughput();
QueuePolicyInfo cost();

}  // namespace straits::sched::policies
