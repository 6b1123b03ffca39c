#include "lockstep/cache/byte_cache.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <utility>

#include "cache/invalidation_bus.h"
#include "cache/l1_store.h"
#include "cache/l2_store.h"
#include "cache/single_flight.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/thread_name.h"
#include "lockstep/redis/client.h"
#include "lockstep/resilience/circuit_breaker.h"

namespace lockstep::cache {
namespace {

using internal::FillOutcome;

// Counters: relaxed atomics; each is an independent tally read only for reporting.
struct Counters {
  std::atomic<uint64_t> l1_hits{0}, l1_misses{0}, l2_hits{0}, l2_misses{0}, l2_errors{0}, loads{0},
      load_errors{0}, shared_loads{0}, fills{0}, stale_fills_refused{0}, old_fills_refused{0}, invalidations{0},
      invalidation_failures{0}, bus_messages{0}, l1_drops{0}, bloom_rejections{0};
};

void Inc(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
uint64_t Load(const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); }

std::chrono::milliseconds Jittered(std::chrono::milliseconds ttl, double jitter) {
  if (jitter <= 0) return ttl;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> dist(0.0, jitter);
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(ttl.count()) * (1.0 + dist(rng))));
}

// The cache proper: the read path (L1, L2, single-flight loads and their fills), Invalidate,
// and the maintenance thread (heartbeats of the bus, delayed second deletes). L1 is an
// L1Store, L2 an L2Store, the bus an InvalidationBus. Thread-safe.
class ByteCacheImpl final : public ByteCache {
 public:
  ByteCacheImpl(redis::Client& client, const CacheOptions& options, const Clock& clock,
                std::unique_ptr<resilience::CircuitBreaker> breaker)
      : client_(client),
        options_(options),
        clock_(clock),
        channel_(options.key_prefix + options.name + ":~bus"),
        l2_(client, options_, channel_, clock, std::move(breaker)) {
    if (options_.l1_enabled) {
      l1_ = std::make_unique<internal::L1Store>(options_.l1_max_entries, options_.l1_max_bytes, options_.l1_shards);
    }
  }

  ~ByteCacheImpl() override {
    {
      MutexLock lock(&mu_);
      stop_ = true;
      cv_.SignalAll();
    }
    if (maintenance_.joinable()) maintenance_.join();
    // The bus after the thread that publishes its heartbeats, and before the members its
    // callbacks use: none runs once members start going away.
    bus_.reset();
  }

  // Opens the bus (L1 only) and starts the maintenance thread. Called once by Open,
  // before the cache is shared.
  Status Start() {
    if (l1_ != nullptr) {
      internal::InvalidationBus::Callbacks callbacks;
      callbacks.on_invalidate = [this](std::string_view key, int64_t version) { OnBusInvalidation(key, version); };
      // Messages published while disconnected are lost: start from an empty L1.
      callbacks.on_reset = [this] { DropL1(); };
      LOCKSTEP_ASSIGN_OR_RETURN(bus_,
                                internal::InvalidationBus::Open(client_, channel_, options_, clock_, std::move(callbacks)));
    }
    if (l1_ != nullptr || options_.second_delete_delay.count() > 0) {
      maintenance_ = std::thread([this] {
        SetCurrentThreadName("cache-maint");
        MaintenanceLoop();
      });
    }
    return Status::Ok();
  }

  Result<Versioned<std::string>> Get(std::string_view key, const Loader& loader, const Deadline& deadline) override {
    if (l1_ != nullptr) {
      const Clock::time_point now = clock_.Now();
      if (bus_->HealthyAt(now)) {
        if (auto hit = l1_->Get(key, now)) {
          Inc(counters_.l1_hits);
          return *std::move(hit);
        }
      }
      Inc(counters_.l1_misses);
    }
    auto [flight, leader] = flights_.Join(key);
    if (!leader) {
      Inc(counters_.shared_loads);
      return internal::SingleFlight::Wait(*flight, deadline);
    }
    Result<Versioned<std::string>> result = LoadThrough(key, loader);
    flights_.Finish(key, flight, result);
    return result;
  }

  std::optional<Versioned<std::string>> PeekL1(std::string_view key) override {
    if (l1_ == nullptr) return std::nullopt;
    const Clock::time_point now = clock_.Now();
    if (!bus_->HealthyAt(now)) return std::nullopt;
    auto hit = l1_->Get(key, now);
    if (hit) Inc(counters_.l1_hits);
    return hit;
  }

  Status Invalidate(std::string_view key, int64_t new_version, const Deadline& deadline) override {
    const Invalidation one[] = {{std::string(key), new_version}};
    return InvalidateMany(one, deadline);
  }

  Status InvalidateMany(std::span<const Invalidation> items, const Deadline& deadline) override {
    std::vector<std::pair<std::string, int64_t>> versioned;
    versioned.reserve(items.size());
    for (const Invalidation& item : items) {
      if (item.new_version != kUnknownVersion && (item.new_version < 0 || item.new_version > kMaxVersion)) {
        return Status::InvalidArgument("cache version ", item.new_version, " outside 0..2^53-1");
      }
      versioned.emplace_back(item.key, item.new_version == kUnknownVersion ? kMaxVersion : item.new_version);
    }
    counters_.invalidations.fetch_add(items.size(), std::memory_order_relaxed);
    for (const auto& [key, version] : versioned) {
      TombstoneL1(key, version);
      flights_.Detach(key);
    }
    const Status s = l2_.InvalidateMany(versioned, deadline);
    if (!s.ok()) {
      Inc(counters_.invalidation_failures);
      return s;
    }
    if (options_.second_delete_delay.count() > 0) {
      MutexLock lock(&mu_);
      const Clock::time_point due = clock_.Now() + options_.second_delete_delay;
      for (auto& item : versioned) second_deletes_.emplace(due, std::move(item));
      cv_.SignalAll();
    }
    return s;
  }

  bool bus_healthy() const override { return bus_ != nullptr && bus_->HealthyAt(clock_.Now()); }

  Status WaitBusHealthy(const Deadline& deadline) const override {
    if (l1_ == nullptr) return Status::FailedPrecondition("L1 is disabled: there is no bus");
    while (!bus_healthy()) {
      if (deadline.expired()) return Status::DeadlineExceeded("cache invalidation bus not healthy");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // Polling a flag fed by another thread.
    }
    return Status::Ok();
  }

  void DropL1() override {
    if (l1_ == nullptr) return;
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    l1_->Clear(clock_.Now());
    Inc(counters_.l1_drops);
  }

  CacheStats stats() const override {
    CacheStats s;
    s.l1_hits = Load(counters_.l1_hits);
    s.l1_misses = Load(counters_.l1_misses);
    s.l2_hits = Load(counters_.l2_hits);
    s.l2_misses = Load(counters_.l2_misses);
    s.l2_errors = Load(counters_.l2_errors);
    s.loads = Load(counters_.loads);
    s.load_errors = Load(counters_.load_errors);
    s.shared_loads = Load(counters_.shared_loads);
    s.fills = Load(counters_.fills);
    s.stale_fills_refused = Load(counters_.stale_fills_refused);
    s.old_fills_refused = Load(counters_.old_fills_refused);
    s.invalidations = Load(counters_.invalidations);
    s.invalidation_failures = Load(counters_.invalidation_failures);
    s.bus_messages = Load(counters_.bus_messages);
    s.l1_drops = Load(counters_.l1_drops);
    s.bloom_rejections = Load(counters_.bloom_rejections);
    if (l1_ != nullptr) {
      s.l1_entries = l1_->entries();
      s.l1_bytes = l1_->bytes();
    }
    s.bus_healthy = bus_healthy();
    s.breaker = l2_.breaker_stats();
    return s;
  }

  const CacheOptions& options() const override { return options_; }

 private:
  Status BloomAdd(std::string_view key, const Deadline& deadline) override { return l2_.BloomAdd(key, deadline); }
  Status BloomMarkReady(const Deadline& deadline) override { return l2_.BloomMarkReady(deadline); }

  void TombstoneL1(std::string_view key, int64_t version) {
    if (l1_ != nullptr) l1_->Tombstone(key, version, clock_.Now(), options_.tombstone_ttl, options_.versioned_fills);
  }

  void CountRefusedFill(FillOutcome o) {
    if (o == FillOutcome::kStale) Inc(counters_.stale_fills_refused);
    if (o == FillOutcome::kTooOld) Inc(counters_.old_fills_refused);
  }

  void FillL1(std::string_view key, const Versioned<std::string>& v, Clock::time_point load_start, uint64_t epoch) {
    if (l1_ == nullptr || (!v.found() && !options_.l1_not_found)) return;
    // A bus reconnect since the load started may have hidden an invalidation from us.
    if (epoch_.load(std::memory_order_acquire) != epoch) return;
    const auto ttl = Jittered(v.found() ? options_.l1_ttl : std::min(options_.l1_ttl, options_.negative_ttl),
                              options_.ttl_jitter);
    CountRefusedFill(
        l1_->Fill(key, v, load_start, clock_.Now(), ttl, options_.tombstone_ttl, options_.versioned_fills));
  }

  Result<Versioned<std::string>> LoadThrough(std::string_view key, const Loader& loader) {
    const uint64_t epoch = epoch_.load(std::memory_order_acquire);
    const Clock::time_point local_start = clock_.Now();
    std::optional<int64_t> redis_start_us;  // Set when L2 answered: fills go through it.
    if (options_.l2_enabled) {
      Result<internal::L2Entry> read = l2_.Read(key);
      if (read.ok()) {
        if (read->kind == "a") {
          // Never created: no load, nothing to fill (a later create adds it before returning).
          Inc(counters_.bloom_rejections);
          return Versioned<std::string>::NotFound();
        }
        if (read->kind == "v" || read->kind == "n") {
          Inc(counters_.l2_hits);
          FillL1(key, read->entry, local_start, epoch);
          return std::move(read->entry);
        }
        Inc(counters_.l2_misses);
        redis_start_us = read->time_us;
      } else {
        Inc(counters_.l2_errors);
      }
    }
    Result<Versioned<std::string>> loaded = loader(Deadline::After(options_.loader_budget, clock_));
    Inc(counters_.loads);
    if (!loaded.ok()) {
      Inc(counters_.load_errors);
      return loaded;
    }
    if (loaded->version < 0 || loaded->version > kMaxVersion || (!loaded->found() && loaded->version != 0)) {
      return Status::InvalidArgument("cache loader returned version ", loaded->version,
                                     " (values: 0..2^53-1, not-found: 0)");
    }
    if (options_.observer.on_loaded) options_.observer.on_loaded(key);
    bool fill_l1 = !options_.l2_enabled;
    if (redis_start_us) {
      const auto ttl = Jittered(loaded->found() ? options_.l2_ttl : options_.negative_ttl, options_.ttl_jitter);
      Result<FillOutcome> filled = l2_.Fill(key, *loaded, ttl, *redis_start_us);
      if (!filled.ok()) {
        Inc(counters_.l2_errors);
      } else {
        if (*filled == FillOutcome::kStored) Inc(counters_.fills);
        fill_l1 = *filled == FillOutcome::kStored || *filled == FillOutcome::kSame;
        CountRefusedFill(*filled);
      }
    }
    if (fill_l1) FillL1(key, *loaded, local_start, epoch);
    return loaded;
  }

  void OnBusInvalidation(std::string_view key, int64_t version) {
    Inc(counters_.bus_messages);
    TombstoneL1(key, version);
    flights_.Detach(key);
  }

  void MaintenanceLoop() {
    Clock::time_point next_heartbeat = clock_.Now();
    while (true) {
      std::vector<std::pair<std::string, int64_t>> due;
      bool heartbeat = false;
      {
        MutexLock lock(&mu_);
        while (!stop_) {
          const Clock::time_point now = clock_.Now();
          Clock::time_point wake = Clock::time_point::max();
          if (bus_ != nullptr) {
            if (now >= next_heartbeat) {
              heartbeat = true;
              break;
            }
            wake = next_heartbeat;
          }
          if (!second_deletes_.empty()) {
            if (second_deletes_.begin()->first <= now) break;
            wake = std::min(wake, second_deletes_.begin()->first);
          }
          // Waits in real time for the injected clock's interval (a ManualClock's time
          // points mean nothing to the condition variable).
          cv_.WaitUntil(&mu_, wake == Clock::time_point::max() ? Deadline::Infinite() : Deadline::After(wake - now));
        }
        if (stop_) return;
        const Clock::time_point now = clock_.Now();
        while (!second_deletes_.empty() && second_deletes_.begin()->first <= now) {
          due.push_back(std::move(second_deletes_.begin()->second));
          second_deletes_.erase(second_deletes_.begin());
        }
      }
      if (heartbeat) {
        const Clock::time_point now = clock_.Now();
        next_heartbeat = now + options_.heartbeat_interval;
        bus_->PublishHeartbeat(now);
      }
      for (const auto& [key, version] : due) {
        TombstoneL1(key, version);
        (void)l2_.Invalidate(key, version, Deadline::Infinite());
      }
    }
  }

  redis::Client& client_;
  const CacheOptions options_;
  const Clock& clock_;
  const std::string channel_;  // The invalidation bus channel.
  internal::L2Store l2_;
  std::unique_ptr<internal::L1Store> l1_;  // Null when L1 is disabled.
  // Set by Start when L1 is enabled (null otherwise), before the cache is shared; reset by
  // the destructor.
  std::unique_ptr<internal::InvalidationBus> bus_;
  internal::SingleFlight flights_;
  Counters counters_;
  // Bumped on every L1 drop; a load that saw another epoch does not fill L1. Atomic: read
  // on every load, written by the subscriber thread.
  std::atomic<uint64_t> epoch_{0};

  Mutex mu_;
  CondVar cv_;
  bool stop_ LOCKSTEP_GUARDED_BY(mu_) = false;
  std::multimap<Clock::time_point, std::pair<std::string, int64_t>> second_deletes_ LOCKSTEP_GUARDED_BY(mu_);
  std::thread maintenance_;
};

}  // namespace

Result<std::unique_ptr<ByteCache>> ByteCache::Open(redis::Client& client, const CacheOptions& options,
                                                   const Clock& clock) {
  LOCKSTEP_RETURN_IF_ERROR(options.Validate());
  LOCKSTEP_ASSIGN_OR_RETURN(std::unique_ptr<resilience::CircuitBreaker> breaker,
                            resilience::CircuitBreaker::Create(options.breaker, clock));
  auto cache = std::make_unique<ByteCacheImpl>(client, options, clock, std::move(breaker));
  LOCKSTEP_RETURN_IF_ERROR(cache->Start());
  return std::unique_ptr<ByteCache>(std::move(cache));
}

}  // namespace lockstep::cache
