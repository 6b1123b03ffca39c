#include "lockstep/cdc/elected_relay.h"

#include <mutex>
#include <thread>

#include "lockstep/base/backoff.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/thread_annotations.h"
#include "lockstep/base/thread_name.h"

namespace lockstep::cdc {
namespace {

// How often the leader looks at its lease and relay; also how long one Acquire waits
// before the thread looks at the stop flag.
constexpr std::chrono::milliseconds kCheckInterval{50};
constexpr std::chrono::milliseconds kAcquireSlice{500};

class ElectedRelayImpl final : public ElectedRelay {
 public:
  ElectedRelayImpl(redis::Client& client, lock::LockService& locks, ElectedRelayOptions options)
      : client_(client), locks_(locks), options_(std::move(options)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ElectedRelayImpl() override { Stop(); }

  void Stop() override {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
      cv_.SignalAll();
    }
    std::lock_guard<std::mutex> join_lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

  bool leader() const override {
    MutexLock lock(&mu_);
    return relay_ != nullptr;
  }
  int64_t fence() const override {
    MutexLock lock(&mu_);
    return relay_ != nullptr ? fence_ : 0;
  }
  uint64_t terms() const override {
    MutexLock lock(&mu_);
    return terms_;
  }
  StreamCheckpoint checkpoint() const override {
    MutexLock lock(&mu_);
    return relay_ != nullptr ? relay_->checkpoint() : StreamCheckpoint{};
  }

 private:
  bool Stopping() const {
    MutexLock lock(&mu_);
    return stopping_;
  }

  // Waits until `until` or Stop (or a lease-loss signal); false when stopping.
  bool Pause(const Deadline& until) {
    MutexLock lock(&mu_);
    while (!stopping_ && !lease_lost_ && cv_.WaitUntil(&mu_, until)) {
    }
    return !stopping_;
  }

  void Run() {
    SetCurrentThreadName("cdc-elect");
    Backoff backoff({.initial = std::chrono::milliseconds(100), .max = options_.lease});
    while (!Stopping()) {
      lock::LockOptions lock_options;
      lock_options.lease = options_.lease;
      lock_options.poll_interval = std::max(std::chrono::milliseconds(10), options_.lease / 10);
      lock_options.on_lost = [this](std::string_view, int64_t) {
        MutexLock lock(&mu_);
        lease_lost_ = true;
        cv_.SignalAll();
      };
      {
        MutexLock lock(&mu_);
        lease_lost_ = false;
      }
      Result<lock::LockGuard> guard = locks_.Acquire(options_.lock_name, lock_options, Deadline::After(kAcquireSlice));
      if (!guard.ok()) {
        // Busy: another candidate leads; try again (Acquire itself waited). Anything else
        // (Redis down): back off.
        if (guard.status().reason() != "lock_busy" && !Pause(Deadline::After(backoff.NextDelay()))) break;
        continue;
      }
      backoff.Reset();
      Lead(*guard);
      (void)guard->Release();  // A lost lease reports lock_lost: already handled.
    }
  }

  // One term: runs the relay with this grant's fence until the lease is lost, the relay
  // stops by itself, or Stop.
  void Lead(lock::LockGuard& guard) {
    RelayOptions relay_options = options_.relay;
    relay_options.publisher.fence = guard.fence();
    Result<std::unique_ptr<Relay>> started = Relay::Start(client_, relay_options);
    if (!started.ok()) {  // Validated by Start(): cannot happen.
      if (options_.observer.on_relay_stopped) options_.observer.on_relay_stopped(started.status());
      Pause(Deadline::After(options_.terminal_retry));
      return;
    }
    std::shared_ptr<Relay> relay = std::move(*started);
    {
      MutexLock lock(&mu_);
      relay_ = relay;
      fence_ = guard.fence();
      ++terms_;
    }
    if (options_.observer.on_leadership) options_.observer.on_leadership(true, guard.fence());
    Status ended;
    while (true) {
      if (!Pause(Deadline::After(kCheckInterval))) break;  // Stop.
      if (Status s = guard.Check(); !s.ok()) {
        ended = s;
        break;
      }
      if (Status s = relay->status(); !s.ok()) {
        ended = s;
        break;
      }
    }
    relay->Stop();
    {
      MutexLock lock(&mu_);
      relay_.reset();
    }
    if (options_.observer.on_leadership) options_.observer.on_leadership(false, guard.fence());
    if (!ended.ok()) {
      if (options_.observer.on_relay_stopped) options_.observer.on_relay_stopped(ended);
      // A relay that stopped by itself would stop again at once: give the lease away and
      // wait before competing again (a lost lease needs no wait).
      if (guard.Check().ok()) {
        (void)guard.Release();
        Pause(Deadline::After(options_.terminal_retry));
      }
    }
  }

  redis::Client& client_;
  lock::LockService& locks_;
  const ElectedRelayOptions options_;

  mutable Mutex mu_;
  mutable CondVar cv_;  // Stop or lease lost.
  bool stopping_ LOCKSTEP_GUARDED_BY(mu_) = false;
  bool lease_lost_ LOCKSTEP_GUARDED_BY(mu_) = false;
  std::shared_ptr<Relay> relay_ LOCKSTEP_GUARDED_BY(mu_);
  int64_t fence_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  uint64_t terms_ LOCKSTEP_GUARDED_BY(mu_) = 0;

  std::mutex join_mu_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<ElectedRelay>> ElectedRelay::Start(redis::Client& client, lock::LockService& locks,
                                                          ElectedRelayOptions options) {
  if (options.lock_name.empty()) return Status::InvalidArgument("ElectedRelayOptions.lock_name must not be empty");
  if (options.lease < std::chrono::milliseconds(100)) {
    return Status::InvalidArgument("ElectedRelayOptions.lease must be >= 100ms");
  }
  if (options.terminal_retry <= std::chrono::milliseconds(0)) {
    return Status::InvalidArgument("ElectedRelayOptions.terminal_retry must be > 0");
  }
  if (options.relay.publisher.stream.empty() || options.relay.reader.server_id == 0 ||
      options.relay.reader.tables.empty()) {
    return Status::InvalidArgument("ElectedRelayOptions.relay needs a stream, a server_id and tables");
  }
  return std::unique_ptr<ElectedRelay>(new ElectedRelayImpl(client, locks, std::move(options)));
}

}  // namespace lockstep::cdc
