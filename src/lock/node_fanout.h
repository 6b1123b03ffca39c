#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"

namespace lockstep::lock::internal {

// Worker threads per Redis node, so RedLock contacts its nodes concurrently: a slow or
// stalled node ties up only its own workers and delays no call to the other nodes. Tasks
// carry a deadline; a task still queued when its deadline passes runs with expired = true
// (and must not send anything). Thread-safe. Destruction stops and joins the workers
// (a worker inside a call returns when that call's deadline ends); queued tasks are
// dropped without running.
class NodeWorkers {
 public:
  NodeWorkers(int nodes, int workers_per_node);
  ~NodeWorkers();
  NodeWorkers(const NodeWorkers&) = delete;
  NodeWorkers& operator=(const NodeWorkers&) = delete;

  void Post(int node, const Deadline& deadline, std::function<void(bool expired)> task);

 private:
  struct Task {
    Deadline deadline = Deadline::Infinite();
    std::function<void(bool)> run;
  };
  struct Node {
    Mutex mu;
    CondVar cv;
    std::deque<Task> queue LOCKSTEP_GUARDED_BY(mu);
    bool stop LOCKSTEP_GUARDED_BY(mu) = false;
    std::vector<std::thread> threads;
  };
  static void Run(Node* node);
  std::vector<std::unique_ptr<Node>> nodes_;
};

// The replies of one fan-out to N nodes, filled as they arrive (slot i = node i). Shared by
// the caller and the node tasks (late replies after the caller stopped waiting are kept and
// ignored). Thread-safe.
template <typename T>
class FanoutRound {
 public:
  using Slots = std::vector<std::optional<T>>;
  explicit FanoutRound(size_t nodes) : slots_(nodes) {}

  void Set(size_t node, T value) LOCKSTEP_EXCLUDES(mu_) {
    {
      MutexLock l(&mu_);
      slots_[node] = std::move(value);
    }
    cv_.SignalAll();
  }
  // Waits until `decided(slots)` (called under the round's lock; cheap, no blocking), every
  // slot in `expected` is filled, or the deadline. Returns a copy of the slots.
  Slots Wait(const std::vector<int>& expected, const std::function<bool(const Slots&)>& decided,
             const Deadline& deadline) LOCKSTEP_EXCLUDES(mu_) {
    MutexLock l(&mu_);
    for (;;) {
      if (decided(slots_)) break;
      bool all = true;
      for (int i : expected) all = all && slots_[i].has_value();
      if (all) break;
      if (!cv_.WaitUntil(&mu_, deadline)) break;
    }
    return slots_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  Slots slots_ LOCKSTEP_GUARDED_BY(mu_);
};

}  // namespace lockstep::lock::internal
