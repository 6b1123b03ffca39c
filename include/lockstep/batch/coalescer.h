#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "lockstep/base/check.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/batch/coalescer_options.h"
#include "lockstep/batch/internal/coalescer_core.h"

namespace lockstep::batch {

// Per-key group execution. Thread-safe.
//
// Many callers Submit work for the same (hot) key; per key at most ONE batch runs at a
// time. A batch takes up to `max_batch` queued requests of its key in FIFO order and calls
// the batch function once with all of them (shopd: one transaction for N orders); each
// caller gets its own result.
//
// Completion contract (every accepted Submit completes exactly once):
//   - the batch function's result for its member (OK or a per-member error; one bad member
//     does not fail the others);
//   - the batch's error for every member when the batch function fails as a whole (returns
//     a non-OK Result, returns a vector whose size differs from the batch (kInternal), or
//     throws (kInternal));
//   - kDeadlineExceeded "not started" when the caller's deadline passes while the request
//     is still queued: it is removed and never executed (the batch function never sees it);
//   - kUnknown "outcome unknown" AT the caller's deadline when it passes while its batch
//     runs; the batch's later result for that member is dropped (resolve through the
//     request's idempotency key);
//   - kCancelled when the Coalescer is destroyed while the request is still queued.
// Completion callbacks run on a Coalescer thread (an executor thread or the timer thread)
// with no lock held; they must be cheap and must not throw (post to your own executor,
// e.g. asio::post, to resume a coroutine).
//
// Fairness: keys with queued work wait in one FIFO ready list; a key whose batch finishes
// with work left goes to the back. So keys are served round-robin and one hot key holds at
// most one executor thread; with threads >= 2 a blocked key never stalls the others.
//
// Batch deadline: min(batch start + batch_budget, latest deadline among its members) — the
// batch never outlives every caller, nor the budget; a member with an earlier deadline gets
// kUnknown at that deadline as above.
//
// Time is the real steady clock (deadlines are waited for on a timer thread).
//
// Shutdown (destructor): new Submits fail with kUnavailable, queued requests fail with
// kCancelled, running batches finish and deliver their results, then threads are joined.
//
// Key: copyable, hashable with Hash, comparable with == (both may be called concurrently).
// Request: movable.
//   auto c = Coalescer<int64_t, Order, OrderId>::Create({}, [](const int64_t& product,
//       std::vector<Order*>& orders, const Deadline& d) { return PlaceAll(product, orders, d); });
//   Result<OrderId> id = (*c)->SubmitAndWait(product, std::move(order), deadline);
//
// This template is thin: it owns the types (keys, requests, results, callbacks); the
// scheduler is internal::CoalescerCore (src/batch/coalescer_core.cc) over opaque members.
template <typename Key, typename Request, typename Response, typename Hash = std::hash<Key>>
class Coalescer : private internal::CoalescerTypes {
 public:
  // One result per member, in the order of `batch`; or a whole-batch error. A function
  // returning plain std::vector<Result<Response>> converts. Called on an executor thread,
  // never concurrently for the same key; may be called concurrently for different keys.
  // It may modify the requests but must not reorder or resize `batch`; the pointers are
  // valid until it returns. It must honour `batch_deadline` (e.g. as the transaction's).
  using BatchFn = std::function<Result<std::vector<Result<Response>>>(
      const Key& key, std::vector<Request*>& batch, const Deadline& batch_deadline)>;
  using Done = std::function<void(Result<Response>)>;

  // kInvalidArgument for bad options or an empty batch function. Thread-safe.
  static Result<std::unique_ptr<Coalescer>> Create(CoalescerOptions options, BatchFn batch_fn) {
    LOCKSTEP_RETURN_IF_ERROR(options.Validate());
    if (!batch_fn) return Status::InvalidArgument("Coalescer: batch function is empty");
    return std::unique_ptr<Coalescer>(new Coalescer(std::move(options), std::move(batch_fn)));
  }

  Coalescer(const Coalescer&) = delete;
  Coalescer& operator=(const Coalescer&) = delete;

  // Shuts down as the class comment says (core_ goes first: members are destroyed in
  // reverse order). Not concurrently with other calls on this Coalescer.
  ~Coalescer() = default;

  // Queues `request` for `key`. On OK, `done` is called exactly once later (see the class
  // comment). On error `done` is never called; errors, all immediate:
  //   kDeadlineExceeded  `deadline` already expired;
  //   kResourceExhausted the key's queue holds max_queued_per_key requests;
  //   kUnavailable       max_queued requests are queued overall, or shutting down.
  // Never blocks on a batch. Thread-safe. REQUIRES: done is set.
  Status Submit(const Key& key, Request request, const Deadline& deadline, Done done) {
    LOCKSTEP_CHECK(done);
    // Allocated before the core's lock is taken; freed by the core once `done` ran.
    auto member = std::make_unique<Member>(std::move(request), deadline, std::move(done));
    Status submitted = core_.Submit(&key, member.get());
    if (submitted.ok()) member.release();
    return submitted;
  }

  // Submit, then blocks the calling thread until completion. Returns the Submit error or the
  // completion result (which arrives by `deadline` at the latest, or at shutdown).
  // Thread-safe.
  Result<Response> SubmitAndWait(const Key& key, Request request, const Deadline& deadline) {
    struct Slot {
      Mutex mu;
      CondVar cv;
      std::optional<Result<Response>> result LOCKSTEP_GUARDED_BY(mu);
    };
    auto slot = std::make_shared<Slot>();
    LOCKSTEP_RETURN_IF_ERROR(Submit(key, std::move(request), deadline, [slot](Result<Response> r) {
      MutexLock lock(&slot->mu);
      slot->result.emplace(std::move(r));
      slot->cv.SignalAll();
    }));
    MutexLock lock(&slot->mu);
    while (!slot->result.has_value()) slot->cv.Wait(&slot->mu);
    return std::move(*slot->result);
  }

  // Counters and gauges; a consistent snapshot. Thread-safe.
  CoalescerStats stats() const { return core_.stats(); }

 private:
  // A queued request: the core's bookkeeping, then the typed parts.
  struct Member final : internal::CoalescerMember {
    Member(Request r, const Deadline& d, Done f)
        : internal::CoalescerMember(d), request(std::move(r)), done(std::move(f)) {}
    Request request;  // Used by the batch function only (never under the core's lock).
    Done done;        // Moved out and called once, by Deliver.
    std::optional<Result<Response>> result;  // Set by RunBatch, taken by Deliver (same thread).
  };

  Coalescer(CoalescerOptions options, BatchFn batch_fn)
      : batch_fn_(std::move(batch_fn)), core_(std::move(options), *this) {}

  static const Key& KeyOf(const void* key) { return *static_cast<const Key*>(key); }

  // internal::CoalescerTypes: what the core calls back.
  std::size_t HashKey(const void* key) const final { return hash_(KeyOf(key)); }
  bool KeysEqual(const void* a, const void* b) const final { return KeyOf(a) == KeyOf(b); }
  void* CopyKey(const void* key) const final { return new Key(KeyOf(key)); }
  void DeleteKey(void* key) const final { delete static_cast<Key*>(key); }

  Status RunBatch(const void* key, internal::CoalescerMember* const* members, std::size_t count,
                  const Deadline& batch_deadline, std::size_t* results) final {
    std::vector<Request*> requests;
    requests.reserve(count);
    for (std::size_t i = 0; i < count; ++i) requests.push_back(&static_cast<Member*>(members[i])->request);
    Result<std::vector<Result<Response>>> out = batch_fn_(KeyOf(key), requests, batch_deadline);
    if (!out.ok()) return out.status();
    *results = out->size();
    if (out->size() == count) {
      for (std::size_t i = 0; i < count; ++i) static_cast<Member*>(members[i])->result.emplace(std::move((*out)[i]));
    }
    return Status::Ok();
  }

  void Deliver(internal::CoalescerMember* member, const Status* status) final {
    Member& m = static_cast<Member&>(*member);
    Done done = std::move(m.done);  // Released right after the call, as the caller expects.
    if (status != nullptr) {
      done(Result<Response>(*status));
    } else {
      done(std::move(*m.result));
    }
  }

  void DeleteMember(internal::CoalescerMember* member) final { delete static_cast<Member*>(member); }

  BatchFn batch_fn_;
  [[no_unique_address]] Hash hash_;
  internal::CoalescerCore core_;  // Last: destroyed first, while batch_fn_ and hash_ live.
};

}  // namespace lockstep::batch
