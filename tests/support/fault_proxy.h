#pragma once

// FaultProxy: a TCP proxy for fault-injection tests (issue 13). It listens on
// 127.0.0.1:<port> (0 = ephemeral), connects every accepted connection to one upstream
// (MariaDB, Redis, shopd, ...) and forwards bytes both ways, unless a fault is set for a
// direction (client->server, server->client), at runtime:
//   none       forward at once.
//   delay <ms> hold every chunk read for <ms> before forwarding it; order is preserved (a
//              chunk never overtakes an earlier one, also when the delay changes).
//   stall      read nothing and forward nothing in that direction (bytes wait in the
//              kernel's buffers) until the fault changes; connections stay open.
//   blackhole  read and discard everything in that direction (an EOF is held until the
//              fault changes): nothing is forwarded or answered, also on new connections,
//              which are still accepted and connected upstream.
//   reset      (either direction: it applies to whole connections) RST every open
//              connection (SO_LINGER 0 + close, both sides) and RST new ones at accept.
// A fault applies, on connections open then and opened later, to every byte the proxy reads
// after SetFault returns (bytes waiting in the kernel count as not yet read; bytes_read()
// tells what was read), and stall / blackhole also to bytes a delay still holds.
// Loopback and IPv4 only; one thread per connection plus an accept thread, all polling with
// 10 ms timeouts, so every wait is bounded and a fault change is seen within about 10 ms.
//
//   auto proxy = FaultProxy::Start({.upstream_port = redis_port}).value();
//   options.port = proxy->port();  // The client under test connects to the proxy.
//   proxy->SetFault(Direction::kServerToClient, Fault::Delay(200ms));
//   proxy->SetFault(Fault::Stall());  // Both directions.
//
// Out of process: `lockstep-fault-proxy --upstream HOST:PORT [--listen PORT]
// [--control PORT]` (tests/tools/fault_proxy_main.cc) prints one line
// "listen=<port> control=<port>" on stdout once both listen, then serves the control
// protocol of ControlServer below until SIGTERM/SIGINT (or its parent exits).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "lockstep/base/deadline.h"
#include "lockstep/base/mutex.h"
#include "lockstep/base/result.h"
#include "lockstep/base/status.h"

namespace lockstep::testing {

enum class Direction { kClientToServer, kServerToClient };

enum class FaultKind { kNone, kDelay, kStall, kReset, kBlackhole };

// One direction's fault. Plain value type, thread-compatible.
struct Fault {
  FaultKind kind = FaultKind::kNone;
  // Added latency per chunk; used by kDelay only. >= 0.
  std::chrono::milliseconds delay{0};

  static Fault None() { return {}; }
  static Fault Delay(std::chrono::milliseconds d) { return {FaultKind::kDelay, d}; }
  static Fault Stall() { return {FaultKind::kStall, {}}; }
  static Fault Reset() { return {FaultKind::kReset, {}}; }
  static Fault Blackhole() { return {FaultKind::kBlackhole, {}}; }

  // "none", "delay 200", "stall", "reset", "blackhole": the form ParseFault reads.
  std::string ToString() const;
  friend bool operator==(const Fault&, const Fault&) = default;
};

// Parses Fault::ToString's forms ("delay" takes whole milliseconds >= 0); kInvalidArgument
// otherwise. Thread-safe.
Result<Fault> ParseFault(std::string_view text);

// Plain value type, thread-compatible. Validated by FaultProxy::Start (kInvalidArgument).
struct FaultProxyOptions {
  // The server every accepted connection is forwarded to: an IPv4 address or a name that
  // resolves to one (e.g. "localhost"). Non-empty.
  std::string upstream_host = "127.0.0.1";
  // 1..65535. No default.
  int upstream_port = 0;
  // Port to listen on at 127.0.0.1; 0 (default) = ephemeral, see FaultProxy::port().
  int listen_port = 0;
  // Cap on connecting to the upstream for one accepted connection; on failure the client
  // connection is reset. > 0. Default 2s.
  std::chrono::milliseconds connect_timeout{2'000};
};

// Thread-safe: every public method may be called from any thread at any time.
// The destructor stops the threads (within about 10 ms each) and closes every socket.
class FaultProxy {
 public:
  // Validates `options` (kInvalidArgument), resolves the upstream (kInvalidArgument), binds
  // and listens (kUnavailable when the port is taken) and starts the accept thread.
  // The upstream is not contacted before a client connects. Thread-safe.
  static Result<std::unique_ptr<FaultProxy>> Start(const FaultProxyOptions& options);

  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // The port the proxy listens on at 127.0.0.1 (the ephemeral one when listen_port was 0).
  // Thread-safe.
  int port() const { return port_; }

  // Sets the fault of one direction / of both. Setting kReset returns once every connection
  // open at the call is closed (bounded: 10 s at most). Thread-safe.
  void SetFault(Direction direction, const Fault& fault) LOCKSTEP_EXCLUDES(mu_);
  void SetFault(const Fault& fault) LOCKSTEP_EXCLUDES(mu_);
  // The fault set now for `direction`. Thread-safe.
  Fault fault(Direction direction) const LOCKSTEP_EXCLUDES(mu_);

  // Connections open now (accepted and not yet closed; reset ones are not counted).
  // Thread-safe.
  int connections() const LOCKSTEP_EXCLUDES(mu_);
  // Connections accepted since Start, including those reset at accept. Thread-safe.
  uint64_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  // Bytes written to the receiving side in `direction` since Start (discarded and held
  // bytes are not counted). Bytes are counted just before their write, so once a peer
  // has received them they are counted; a write in progress may be counted early.
  // Thread-safe.
  uint64_t bytes_forwarded(Direction direction) const;
  // Bytes read from the sending side in `direction` since Start, whether forwarded, held
  // or discarded (counted once read: the fault of that moment applies to them).
  // Thread-safe.
  uint64_t bytes_read(Direction direction) const;
  // Waits until connections() == `count`; false if the deadline passed first. Thread-safe.
  bool AwaitConnections(int count, const Deadline& deadline) const LOCKSTEP_EXCLUDES(mu_);

 private:
  struct Connection;
  struct Faults {
    Fault to_server;
    Fault to_client;
    bool reset() const { return to_server.kind == FaultKind::kReset || to_client.kind == FaultKind::kReset; }
  };

  FaultProxy(const FaultProxyOptions& options, int listen_fd, int port, uint32_t upstream_addr);
  void SetFaults(bool to_server, bool to_client, const Fault& fault) LOCKSTEP_EXCLUDES(mu_);
  void AcceptLoop() LOCKSTEP_EXCLUDES(mu_);
  void Serve(Connection* connection) LOCKSTEP_EXCLUDES(mu_);
  int ConnectUpstream() const LOCKSTEP_EXCLUDES(mu_);
  Faults Snapshot() const LOCKSTEP_EXCLUDES(mu_);
  void ReapFinished() LOCKSTEP_EXCLUDES(mu_);

  const FaultProxyOptions options_;
  const int listen_fd_;
  const int port_;
  const uint32_t upstream_addr_;  // Network byte order.

  mutable Mutex mu_;
  mutable CondVar changed_;  // connections_ changed.
  Faults faults_ LOCKSTEP_GUARDED_BY(mu_);
  int connections_ LOCKSTEP_GUARDED_BY(mu_) = 0;
  std::list<std::unique_ptr<Connection>> threads_ LOCKSTEP_GUARDED_BY(mu_);

  // Atomics: set by one thread, read by the polling threads every iteration; no ordering
  // with other data is needed (stopping_ only makes loops exit; counters are statistics).
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> forwarded_to_server_{0};
  std::atomic<uint64_t> forwarded_to_client_{0};
  std::atomic<uint64_t> read_from_client_{0};
  std::atomic<uint64_t> read_from_server_{0};
  std::thread accept_thread_;
};

// The control protocol of a FaultProxy, for a test that drives a proxy in another process
// (lockstep-fault-proxy). Over TCP at 127.0.0.1:<control port>, one command per line
// ('\n'-terminated, a trailing '\r' ignored), one reply line per command, any number of
// commands per connection:
//   fault <c2s|s2c|both> <none|delay MS|stall|reset|blackhole>   -> "ok"
//   stats      -> "ok connections=<n> accepted=<n> c2s=<bytes> s2c=<bytes>
//                  read_c2s=<bytes> read_s2c=<bytes>" (one line: forwarded, then read)
//   ping       -> "ok"
//   anything else, or a bad argument -> "error <message>"
// Returns the reply line (without '\n') for one command. Thread-safe.
std::string HandleControlCommand(FaultProxy& proxy, std::string_view line);

// Serves the control protocol for `proxy` on 127.0.0.1:<port> (0 = ephemeral) with one
// thread. Thread-safe. REQUIRES: `proxy` outlives the server. The destructor stops the
// thread (within about 10 ms) and closes every socket.
class ControlServer {
 public:
  // kUnavailable when the port cannot be bound. Thread-safe.
  static Result<std::unique_ptr<ControlServer>> Start(FaultProxy& proxy, int port = 0);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // The control port at 127.0.0.1. Thread-safe.
  int port() const { return port_; }

 private:
  ControlServer(FaultProxy& proxy, int listen_fd, int port);
  void Loop();

  FaultProxy& proxy_;
  const int listen_fd_;
  const int port_;
  // Set once by the destructor, read by the loop every iteration; orders nothing else.
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Client side of the control protocol: connects to 127.0.0.1:`control_port`, sends `line`
// and returns the reply line. kUnavailable if the connection fails, kDeadlineExceeded if
// no reply came in time. Thread-safe.
Result<std::string> SendControlCommand(int control_port, std::string_view line, const Deadline& deadline);

}  // namespace lockstep::testing
