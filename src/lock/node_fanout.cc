#include "lock/node_fanout.h"

#include <string>

#include "lockstep/base/thread_name.h"

namespace lockstep::lock::internal {

NodeWorkers::NodeWorkers(int nodes, int workers_per_node) {
  for (int n = 0; n < nodes; ++n) {
    auto node = std::make_unique<Node>();
    Node* raw = node.get();
    for (int w = 0; w < workers_per_node; ++w) {
      node->threads.emplace_back([raw, n] {
        SetCurrentThreadName("redlock-n" + std::to_string(n));
        Run(raw);
      });
    }
    nodes_.push_back(std::move(node));
  }
}

NodeWorkers::~NodeWorkers() {
  for (auto& node : nodes_) {
    {
      MutexLock l(&node->mu);
      node->stop = true;
    }
    node->cv.SignalAll();
  }
  for (auto& node : nodes_) {
    for (std::thread& t : node->threads) t.join();
  }
}

void NodeWorkers::Post(int node, const Deadline& deadline, std::function<void(bool expired)> task) {
  Node& n = *nodes_[node];
  {
    MutexLock l(&n.mu);
    if (n.stop) return;
    n.queue.push_back(Task{deadline, std::move(task)});
  }
  n.cv.Signal();
}

void NodeWorkers::Run(Node* node) {
  for (;;) {
    Task task;
    {
      MutexLock l(&node->mu);
      while (!node->stop && node->queue.empty()) node->cv.Wait(&node->mu);
      if (node->stop) return;
      task = std::move(node->queue.front());
      node->queue.pop_front();
    }
    task.run(task.deadline.expired());
  }
}

}  // namespace lockstep::lock::internal
