#include "lockstep/cache/byte_cache.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <map>
#include <random>
#include <thread>
#include <utility>

#include "cache/bloom.h"
#include "cache/l1_store.h"
#include "cache/l2_scripts.h"
#include "cache/single_flight.h"
#include "lockstep/base/mutex.h"
#include "lockstep/redis/client.h"
#include "lockstep/redis/subscriber.h"
#include "lockstep/resilience/circuit_breaker.h"
#include "lockstep/base/thread_name.h"

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

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::chrono::milliseconds Jittered(std::chrono::milliseconds ttl, double jitter) {
  if (jitter <= 0) return ttl;
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> dist(0.0, jitter);
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(ttl.count()) * (1.0 + dist(rng))));
}

int64_t SteadyNanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

class ByteCacheImpl final : public ByteCache {
 public:
  ByteCacheImpl(redis::Client& client, const CacheOptions& options, CacheHooks hooks, const Clock& clock,
                std::unique_ptr<resilience::CircuitBreaker> breaker)
      : client_(client),
        options_(options),
        hooks_(std::move(hooks)),
        clock_(clock),
        breaker_(std::move(breaker)),
        key_prefix_(options.key_prefix + options.name + ":"),
        channel_(options.key_prefix + options.name + ":~bus"),
        bloom_key_(options.key_prefix + options.name + ":~bloom"),
        bloom_ready_key_(options.key_prefix + options.name + ":~bloom_ready") {
    if (options_.l1_enabled) {
      l1_ = std::make_unique<internal::L1Store>(options_.l1_max_entries, options_.l1_max_bytes, options_.l1_shards);
    }
    std::random_device rd;
    instance_id_ = std::to_string(rd()) + std::to_string(rd());
    heartbeat_channel_ = channel_ + ":hb:" + instance_id_;
  }

  ~ByteCacheImpl() override {
    // The subscriber first: no callback may run once members start going away.
    subscriber_.reset();
    {
      MutexLock lock(&mu_);
      stop_ = true;
      cv_.SignalAll();
    }
    if (maintenance_.joinable()) maintenance_.join();
  }

  Status Start() {
    if (l1_ != nullptr) {
      redis::SubscriberOptions so;
      so.redis = client_.options();
      so.on_message = [this](const redis::Message& m) { OnMessage(m); };
      so.on_state = [this](redis::ConnectionState s) { OnBusState(s); };
      LOCKSTEP_ASSIGN_OR_RETURN(subscriber_, redis::Subscriber::Open(std::move(so)));
      LOCKSTEP_RETURN_IF_ERROR(subscriber_->Subscribe(channel_));
      // Our heartbeats travel on a channel of their own (no other instance receives them:
      // N instances cost N heartbeat deliveries, not N squared) but on the same subscriber
      // connection, where Redis appends every message in the order it ran the PUBLISHes:
      // a heartbeat that came back still proves every earlier invalidation was delivered.
      // The bus is subscribed first here, and a resubscription after a reconnect sends both
      // in one SUBSCRIBE: a heartbeat can never come back while the bus is not subscribed.
      LOCKSTEP_RETURN_IF_ERROR(subscriber_->Subscribe(heartbeat_channel_));
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
      if (BusHealthyAt(now)) {
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
    if (!BusHealthyAt(now)) return std::nullopt;
    auto hit = l1_->Get(key, now);
    if (hit) Inc(counters_.l1_hits);
    return hit;
  }

  Status Invalidate(std::string_view key, int64_t new_version, const Deadline& deadline) override {
    if (new_version != kUnknownVersion && (new_version < 0 || new_version > kMaxVersion)) {
      return Status::InvalidArgument("cache version ", new_version, " outside 0..2^53-1");
    }
    const int64_t version = new_version == kUnknownVersion ? kMaxVersion : new_version;
    Inc(counters_.invalidations);
    if (l1_ != nullptr) l1_->Tombstone(key, version, clock_.Now(), options_.tombstone_ttl, options_.versioned_fills);
    // Callers that join from now on must not share a load that may have read the old row.
    flights_.Detach(key);
    const Status s = InvalidateL2(key, version, deadline);
    if (!s.ok()) {
      Inc(counters_.invalidation_failures);
      return s;
    }
    if (options_.second_delete_delay.count() > 0) {
      MutexLock lock(&mu_);
      second_deletes_.emplace(clock_.Now() + options_.second_delete_delay, std::make_pair(std::string(key), version));
      cv_.SignalAll();
    }
    return s;
  }

  bool bus_healthy() const override { return l1_ != nullptr && BusHealthyAt(clock_.Now()); }

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
    s.breaker = breaker_->stats();
    return s;
  }

  const CacheOptions& options() const override { return options_; }

 private:
  struct L2Entry {
    std::string kind;  // "v", "n", "x" or "" (none).
    Versioned<std::string> entry;
    int64_t time_us = 0;  // Redis TIME when read.
  };

  std::string RedisKey(std::string_view key) const { return key_prefix_ + std::string(key); }
  Deadline RedisDeadline(const Deadline& outer = Deadline::Infinite()) const {
    return outer.CappedAt(options_.redis_timeout, clock_);
  }

  bool BusHealthyAt(Clock::time_point now) const {
    const int64_t hb = last_heartbeat_ns_.load(std::memory_order_acquire);
    if (hb == 0) return false;
    return SteadyNanos(now) - hb < std::chrono::duration_cast<std::chrono::nanoseconds>(options_.staleness_bound).count();
  }

  // A Redis call through the breaker.
  Result<redis::Reply> RunScript(const redis::Script& script, const std::vector<std::string>& keys,
                                 const std::vector<std::string>& args, const Deadline& deadline) {
    LOCKSTEP_RETURN_IF_ERROR(breaker_->Allow());
    Result<redis::Reply> r = script.Run(client_, keys, args, deadline);
    breaker_->Record(r.ok() ? Status::Ok() : r.status());
    return r;
  }

  Status BloomAdd(std::string_view key, const Deadline& deadline) override {
    if (options_.bloom_bits == 0) return Status::FailedPrecondition("cache has no Bloom filter (bloom_bits = 0)");
    return RunScript(internal::BloomAddScript(), {bloom_key_}, BloomArgs(key), RedisDeadline(deadline)).status();
  }

  Status BloomMarkReady(const Deadline& deadline) override {
    if (options_.bloom_bits == 0) return Status::FailedPrecondition("cache has no Bloom filter (bloom_bits = 0)");
    LOCKSTEP_RETURN_IF_ERROR(breaker_->Allow());
    const Status s = client_.Set(bloom_ready_key_, "1", RedisDeadline(deadline));
    breaker_->Record(s);
    return s;
  }

  std::vector<std::string> BloomArgs(std::string_view key) const {
    std::vector<std::string> args;
    for (uint64_t p : internal::BloomPositions(key, options_.bloom_bits, options_.bloom_hashes)) {
      args.push_back(std::to_string(p));
    }
    return args;
  }

  Result<L2Entry> ReadL2(std::string_view key) {
    std::vector<std::string> keys = {RedisKey(key)};
    std::vector<std::string> args;
    if (options_.bloom_bits > 0) {
      keys.push_back(bloom_key_);
      keys.push_back(bloom_ready_key_);
      args = BloomArgs(key);
    }
    LOCKSTEP_ASSIGN_OR_RETURN(redis::Reply r, RunScript(internal::ReadScript(), keys, args, RedisDeadline()));
    const auto& a = r.array();
    if (a.size() != 5) return Status::Internal("cache read script: unexpected reply ", r.DebugString());
    L2Entry e;
    e.kind = a[0].str();
    const auto sec = ParseInt(a[3].str());
    const auto usec = ParseInt(a[4].str());
    if (!sec || !usec) return Status::Internal("cache read script: bad TIME ", r.DebugString());
    e.time_us = *sec * 1'000'000 + *usec;
    if (e.kind == "v" || e.kind == "n") {
      const auto version = ParseInt(a[1].str());
      if (!version) return Status::Internal("cache entry with bad version ", r.DebugString());
      e.entry.version = *version;
      if (e.kind == "v") e.entry.value = a[2].str();
    }
    return e;
  }

  Result<int64_t> FillL2(std::string_view key, const Versioned<std::string>& v, int64_t load_start_us) {
    const auto ttl = Jittered(v.found() ? options_.l2_ttl : options_.negative_ttl, options_.ttl_jitter);
    const int64_t max_age_us =
        std::chrono::duration_cast<std::chrono::microseconds>(options_.tombstone_ttl).count();
    LOCKSTEP_ASSIGN_OR_RETURN(
        redis::Reply r,
        RunScript(internal::FillScript(), {RedisKey(key)},
                  {v.found() ? "v" : "n", std::to_string(v.version), v.found() ? *v.value : std::string(),
                   std::to_string(ttl.count()), std::to_string(load_start_us), std::to_string(max_age_us),
                   options_.versioned_fills ? "1" : "0"},
                  RedisDeadline()));
    return r.AsInteger();
  }

  Status InvalidateL2(std::string_view key, int64_t version, const Deadline& deadline) {
    if (!options_.l2_enabled && l1_ == nullptr) return Status::Ok();
    std::string message = "i " + std::to_string(version) + " " + std::string(key);
    return RunScript(internal::InvalidateScript(), {RedisKey(key)},
                     {std::to_string(version), std::to_string(options_.tombstone_ttl.count()), channel_,
                      std::move(message), options_.versioned_fills ? "1" : "0", options_.l2_enabled ? "1" : "0"},
                     RedisDeadline(deadline))
        .status();
  }

  void FillL1(std::string_view key, const Versioned<std::string>& v, Clock::time_point load_start, uint64_t epoch) {
    if (l1_ == nullptr || (!v.found() && !options_.l1_not_found)) return;
    // A bus reconnect since the load started may have hidden an invalidation from us.
    if (epoch_.load(std::memory_order_acquire) != epoch) return;
    const auto ttl = Jittered(v.found() ? options_.l1_ttl : std::min(options_.l1_ttl, options_.negative_ttl),
                              options_.ttl_jitter);
    const FillOutcome o = l1_->Fill(key, v, load_start, clock_.Now(), ttl, options_.tombstone_ttl,
                                    options_.versioned_fills);
    if (o == FillOutcome::kStale) Inc(counters_.stale_fills_refused);
    if (o == FillOutcome::kTooOld) Inc(counters_.old_fills_refused);
  }

  Result<Versioned<std::string>> LoadThrough(std::string_view key, const Loader& loader) {
    const uint64_t epoch = epoch_.load(std::memory_order_acquire);
    const Clock::time_point local_start = clock_.Now();
    std::optional<int64_t> redis_start_us;  // Set when L2 answered: fills go through it.
    if (options_.l2_enabled) {
      Result<L2Entry> read = ReadL2(key);
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
    if (hooks_.before_fill) hooks_.before_fill(key);
    bool fill_l1 = !options_.l2_enabled;
    if (redis_start_us) {
      Result<int64_t> filled = FillL2(key, *loaded, *redis_start_us);
      if (!filled.ok()) {
        Inc(counters_.l2_errors);
      } else if (*filled == 1 || *filled == 0) {
        if (*filled == 1) Inc(counters_.fills);
        fill_l1 = true;
      } else if (*filled == -3) {
        Inc(counters_.old_fills_refused);
      } else {
        Inc(counters_.stale_fills_refused);
      }
    }
    if (fill_l1) FillL1(key, *loaded, local_start, epoch);
    return loaded;
  }

  void OnMessage(const redis::Message& m) {
    std::string_view p = m.payload;
    if (p.size() < 2 || p[1] != ' ') return;
    const char type = p[0];
    p.remove_prefix(2);
    const size_t space = p.find(' ');
    if (space == std::string_view::npos) return;
    const std::string_view first = p.substr(0, space);
    const std::string_view rest = p.substr(space + 1);
    if (type == 'h') {
      if (first != instance_id_) return;
      const auto sent = ParseInt(rest);
      // Our own heartbeat came back: every message published before it was sent has been
      // delivered (one connection, in order), so L1 is at most now - sent behind.
      if (sent) last_heartbeat_ns_.store(*sent, std::memory_order_release);
    } else if (type == 'i') {
      const auto version = ParseInt(first);
      if (!version) return;
      Inc(counters_.bus_messages);
      l1_->Tombstone(rest, *version, clock_.Now(), options_.tombstone_ttl, options_.versioned_fills);
      flights_.Detach(rest);
    }
  }

  void OnBusState(redis::ConnectionState state) {
    // Messages published while disconnected are lost: stop serving L1 at once, and start
    // from an empty L1 after the reconnect.
    last_heartbeat_ns_.store(0, std::memory_order_release);
    DropL1();
    (void)state;
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
          if (l1_ != nullptr) {
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
        const std::string message = "h " + instance_id_ + " " + std::to_string(SteadyNanos(now));
        // Not through the breaker: the heartbeat is how the bus notices Redis is back.
        (void)client_.Command({"PUBLISH", heartbeat_channel_, message}, RedisDeadline());
      }
      for (const auto& [key, version] : due) {
        if (l1_ != nullptr) l1_->Tombstone(key, version, clock_.Now(), options_.tombstone_ttl, options_.versioned_fills);
        (void)InvalidateL2(key, version, Deadline::Infinite());
      }
    }
  }

  redis::Client& client_;
  const CacheOptions options_;
  const CacheHooks hooks_;
  const Clock& clock_;
  std::unique_ptr<resilience::CircuitBreaker> breaker_;
  const std::string key_prefix_;
  const std::string channel_;
  const std::string bloom_key_;
  const std::string bloom_ready_key_;
  std::string instance_id_;
  std::string heartbeat_channel_;  // "<bus>:hb:<instance id>": only this instance subscribes.
  std::unique_ptr<internal::L1Store> l1_;
  internal::SingleFlight flights_;
  Counters counters_;
  // Steady-clock ns at which our last heartbeat that came back was sent; 0 = unhealthy.
  // Atomic: written by the subscriber thread, read by every Get; a stale read only delays
  // a decision by one heartbeat.
  std::atomic<int64_t> last_heartbeat_ns_{0};
  // Bumped on every L1 drop; a load that saw another epoch does not fill L1. Atomic: read
  // on every load, written by the subscriber thread.
  std::atomic<uint64_t> epoch_{0};

  Mutex mu_;
  CondVar cv_;
  bool stop_ LOCKSTEP_GUARDED_BY(mu_) = false;
  std::multimap<Clock::time_point, std::pair<std::string, int64_t>> second_deletes_ LOCKSTEP_GUARDED_BY(mu_);
  std::thread maintenance_;
  std::unique_ptr<redis::Subscriber> subscriber_;
};

}  // namespace

Result<std::unique_ptr<ByteCache>> ByteCache::Open(redis::Client& client, const CacheOptions& options,
                                                   CacheHooks hooks, const Clock& clock) {
  LOCKSTEP_RETURN_IF_ERROR(options.Validate());
  LOCKSTEP_ASSIGN_OR_RETURN(std::unique_ptr<resilience::CircuitBreaker> breaker,
                            resilience::CircuitBreaker::Create(options.breaker, clock));
  auto cache = std::make_unique<ByteCacheImpl>(client, options, std::move(hooks), clock, std::move(breaker));
  LOCKSTEP_RETURN_IF_ERROR(cache->Start());
  return std::unique_ptr<ByteCache>(std::move(cache));
}

}  // namespace lockstep::cache
