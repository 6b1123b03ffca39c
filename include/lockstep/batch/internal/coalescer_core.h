#pragma once

// The type-erased scheduler behind Coalescer<Key, Request, Response, Hash> (coalescer.h).
// Not an API: only coalescer.h uses it. The scheduler itself lives in
// src/batch/coalescer_core.cc.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "lockstep/base/clock.h"
#include "lockstep/base/deadline.h"
#include "lockstep/base/status.h"
#include "lockstep/batch/coalescer_options.h"

namespace lockstep::batch::internal {

struct CoalescerGroup;  // One key's queue; defined in coalescer_core.cc.

// One accepted request as the scheduler sees it; the typed layer derives its member (request,
// callback, result) from it, so a request costs one allocation. Not thread-safe itself: the
// scheduler's fields below are guarded by the CoalescerCore's mutex (a member of another
// object, so not annotatable), except `refs`.
struct CoalescerMember {
  static constexpr std::size_t kNoTimer = SIZE_MAX;

  explicit CoalescerMember(const Deadline& d) : deadline(d) {}
  CoalescerMember(const CoalescerMember&) = delete;
  CoalescerMember& operator=(const CoalescerMember&) = delete;

  const Deadline deadline;
  Clock::time_point submitted{};
  CoalescerGroup* group = nullptr;       // Its key's queue; valid while queued.
  CoalescerMember* next = nullptr;       // Next in the key's FIFO.
  std::size_t timer_index = kNoTimer;    // Slot in the deadline heap; kNoTimer: none.
  bool running = false;                  // In a batch that runs now.
  bool completed = false;                // Its callback was handed out.
  bool delivered_by_batch = false;       // Its batch completes it (read by that batch only).
  // One for the scheduler (queue or batch) plus one per callback handed out and not yet run;
  // atomic because callbacks run with no lock held. The last drop deletes the member.
  std::atomic<uint32_t> refs{1};
};

// What the scheduler needs from the typed layer (Coalescer<...> implements it). Its
// functions are called concurrently from the scheduler's threads and callers of Submit.
class CoalescerTypes {
 public:
  virtual std::size_t HashKey(const void* key) const = 0;
  virtual bool KeysEqual(const void* a, const void* b) const = 0;
  virtual void* CopyKey(const void* key) const = 0;  // Freed by DeleteKey.
  virtual void DeleteKey(void* key) const = 0;
  // Calls the batch function on the members' requests, with no lock held. Returns its
  // whole-batch error, or OK and *results = how many results it returned; when that is
  // `count`, each member holds its result. May throw what the batch function throws.
  virtual Status RunBatch(const void* key, CoalescerMember* const* members, std::size_t count,
                          const Deadline& batch_deadline, std::size_t* results) = 0;
  // Runs the member's callback once, with `*status`, or with its stored result if nullptr.
  virtual void Deliver(CoalescerMember* member, const Status* status) = 0;
  virtual void DeleteMember(CoalescerMember* member) = 0;

 protected:
  virtual ~CoalescerTypes() = default;
};

// The scheduler of a Coalescer over opaque keys and members; its contract is Coalescer's
// (coalescer.h). Thread-safe.
class CoalescerCore {
 public:
  // Starts the threads. REQUIRES: options.Validate() is OK; `types` outlives the core.
  CoalescerCore(CoalescerOptions options, CoalescerTypes& types);
  // Shuts down as Coalescer's destructor documents. Not concurrently with other calls.
  ~CoalescerCore();
  CoalescerCore(const CoalescerCore&) = delete;
  CoalescerCore& operator=(const CoalescerCore&) = delete;

  // Coalescer::Submit. On OK the core owns `member` (its callback runs once, then it is
  // deleted through CoalescerTypes); on error the caller keeps it. Thread-safe.
  Status Submit(const void* key, CoalescerMember* member);
  // Coalescer::stats. Thread-safe.
  CoalescerStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lockstep::batch::internal
