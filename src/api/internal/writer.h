// The single writer: every change to the server's state goes through it.
// Mutations queue; the writer thread takes all that are waiting, runs each
// against the world under its exclusive lock (a mutation checks first and
// throws HttpError to refuse, before it changes anything), then commits the
// records and audit events of all that succeeded in one transaction: group
// commit. Each caller is answered once that commit is durable.
//
// If the commit fails, the world is reloaded from the store (it holds
// exactly what was committed before) and every mutation of the batch is
// answered 503: a client never sees an acknowledgement for a lost write.
// A mutation that fails part-way (any exception but a refusal, or a refusal
// after it began writing) is answered with its error and the world is
// reloaded after the batch's commit too: memory never keeps what the store
// does not hold.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "api/internal/http.h"
#include "api/internal/signing.h"
#include "api/internal/world.h"
#include "core/clock.h"
#include "store/store.h"

namespace straits::api::internal {

// Runs on the writer thread with the world locked exclusively. Adds what it
// writes to `batch` and returns the reply for its caller.
using Mutation = std::function<Reply(World& world, store::Batch& batch)>;

class Writer {
 public:
  // `reload` rebuilds the world from the store after a failed commit;
  // `clock` says which rule set is in force when a batch is committed.
  Writer(World& world, store::Store& store, const Clock& clock, std::function<Status()> reload);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Queues the mutation and waits for its durable outcome. An HttpError it
  // throws becomes its reply (nothing of it written).
  Reply run(Mutation mutation);
  // After each commit that signed a head, appends it to `witness` before
  // answering the batch's callers (issue 15); a failure to append is
  // reported to `on_error` (the commit stands: it is durable already).
  // Call before the first run().
  void set_witness(std::unique_ptr<Witness> witness,
                   std::function<void(const std::string&)> on_error);
  // Finishes what is queued, then stops the thread. Later run()s get 503.
  void stop();

  std::uint64_t commits() const { return commits_.load(); }
  std::uint64_t mutations() const { return mutations_.load(); }

 private:
  struct Pending {
    Mutation mutation;
    std::promise<Reply> done;
  };
  void loop();
  // Runs the mutations under the world's lock; `batch` gets what those that
  // succeeded wrote. Returns whether one failed part-way.
  bool apply_all(std::vector<Pending>& taken, store::Batch& batch, std::vector<Reply>& replies);
  // Commits the batch; on failure answers the batch 503 and reloads the
  // world (unless `reloading`: the caller does).
  void commit(store::Batch& batch, std::vector<Reply>& replies, bool reloading);

  World& world_;
  store::Store& store_;
  const Clock& clock_;
  std::function<Status()> reload_;
  std::unique_ptr<Witness> witness_;
  std::function<void(const std::string&)> witness_error_;
  std::int64_t witnessed_seq_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> commits_{0}, mutations_{0};
  std::thread thread_;
};

}  // namespace straits::api::internal
