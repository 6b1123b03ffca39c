#include "cache/invalidation_bus.h"

#include <charconv>
#include <optional>
#include <random>
#include <utility>

#include "lockstep/base/deadline.h"

namespace lockstep::cache::internal {
namespace {

// Bus payloads: "i <version> <key>" (an invalidation) and "h <instance id> <steady ns>"
// (a heartbeat).

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

int64_t SteadyNanos(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::string NewInstanceId() {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
}

}  // namespace

std::string InvalidationBus::InvalidationMessage(std::string_view key, int64_t version) {
  return "i " + std::to_string(version) + " " + std::string(key);
}

InvalidationBus::InvalidationBus(redis::Client& client, std::string channel, const CacheOptions& options,
                                 const Clock& clock, Callbacks callbacks)
    : client_(client),
      clock_(clock),
      callbacks_(std::move(callbacks)),
      staleness_bound_(options.staleness_bound),
      redis_timeout_(options.redis_timeout),
      channel_(std::move(channel)),
      instance_id_(NewInstanceId()),
      heartbeat_channel_(channel_ + ":hb:" + instance_id_) {}

Result<std::unique_ptr<InvalidationBus>> InvalidationBus::Open(redis::Client& client, std::string channel,
                                                               const CacheOptions& options, const Clock& clock,
                                                               Callbacks callbacks) {
  std::unique_ptr<InvalidationBus> bus(
      new InvalidationBus(client, std::move(channel), options, clock, std::move(callbacks)));
  redis::SubscriberOptions so;
  so.redis = client.options();
  so.on_message = [b = bus.get()](const redis::Message& m) { b->OnMessage(m); };
  so.on_state = [b = bus.get()](redis::ConnectionState s) { b->OnState(s); };
  LOCKSTEP_ASSIGN_OR_RETURN(bus->subscriber_, redis::Subscriber::Open(std::move(so)));
  LOCKSTEP_RETURN_IF_ERROR(bus->subscriber_->Subscribe(bus->channel_));
  // Our heartbeats travel on a channel of their own (no other instance receives them:
  // N instances cost N heartbeat deliveries, not N squared) but on the same subscriber
  // connection, where Redis appends every message in the order it ran the PUBLISHes:
  // a heartbeat that came back still proves every earlier invalidation was delivered.
  // The bus is subscribed first here, and a resubscription after a reconnect sends both
  // in one SUBSCRIBE: a heartbeat can never come back while the bus is not subscribed.
  LOCKSTEP_RETURN_IF_ERROR(bus->subscriber_->Subscribe(bus->heartbeat_channel_));
  return bus;
}

InvalidationBus::~InvalidationBus() {
  // The subscriber first: no callback may run once members start going away.
  subscriber_.reset();
}

bool InvalidationBus::HealthyAt(Clock::time_point now) const {
  const int64_t hb = last_heartbeat_ns_.load(std::memory_order_acquire);
  if (hb == 0) return false;
  return SteadyNanos(now) - hb < std::chrono::duration_cast<std::chrono::nanoseconds>(staleness_bound_).count();
}

void InvalidationBus::PublishHeartbeat(Clock::time_point now) {
  const std::string message = "h " + instance_id_ + " " + std::to_string(SteadyNanos(now));
  (void)client_.Command({"PUBLISH", heartbeat_channel_, message},
                        Deadline::Infinite().CappedAt(redis_timeout_, clock_));
}

void InvalidationBus::OnMessage(const redis::Message& m) {
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
    callbacks_.on_invalidate(rest, *version);
  }
}

void InvalidationBus::OnState(redis::ConnectionState state) {
  // Messages published while disconnected are lost: stop serving L1 at once, and let the
  // owner start from an empty L1 after the reconnect.
  last_heartbeat_ns_.store(0, std::memory_order_release);
  callbacks_.on_reset();
  (void)state;
}

}  // namespace lockstep::cache::internal
