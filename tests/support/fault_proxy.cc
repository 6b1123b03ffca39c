#include "support/fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <vector>

namespace lockstep::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Every poll waits at most this long, so loops see stopping flags and fault changes.
constexpr milliseconds kPollSlice{10};
// A direction stops reading while this much is queued (delay): bounded memory, and the
// sender feels TCP back-pressure as it would from a slow link.
constexpr size_t kMaxQueuedBytes = 1 << 20;
constexpr size_t kReadChunk = 64 * 1024;

void CloseFd(int fd) {
  if (fd >= 0) ::close(fd);
}

// Closes `fd` with an RST instead of a FIN.
void ResetFd(int fd) {
  if (fd < 0) return;
  linger lg{};
  lg.l_onoff = 1;
  lg.l_linger = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  ::close(fd);
}

int PollMillis(SteadyClock::duration d) {
  const auto ms = std::chrono::ceil<milliseconds>(std::clamp<SteadyClock::duration>(d, {}, kPollSlice));
  return static_cast<int>(ms.count());
}

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// A non-blocking listening socket at 127.0.0.1:`port` and the port it got.
Result<std::pair<int, int>> Listen(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable("socket: ", std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = Loopback(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 128) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::Unavailable("listen on 127.0.0.1:", port, ": ", std::strerror(err));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return std::make_pair(fd, static_cast<int>(ntohs(addr.sin_port)));
}

// Polls one fd for `events` for at most one slice; true if it is ready.
bool PollOne(int fd, short events, SteadyClock::duration wait) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, PollMillis(wait)) > 0;
}

// Non-blocking connect to `addr`:`port` within `deadline` (or until `stop` is true).
// Returns the connected non-blocking fd, or -1.
template <typename StopFn>
int ConnectTo(uint32_t addr, int port, const Deadline& deadline, StopFn stop) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = addr;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    if (errno != EINPROGRESS) {
      ::close(fd);
      return -1;
    }
    while (!PollOne(fd, POLLOUT, deadline.remaining())) {
      if (deadline.expired() || stop()) {
        ::close(fd);
        return -1;
      }
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      ::close(fd);
      return -1;
    }
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// One direction of a connection: bytes read from `src`, queued until their release time,
// written to `dst`. An EOF read from `src` is queued too (as an empty chunk with eof set)
// and becomes shutdown(dst, SHUT_WR) in order.
struct Flow {
  struct Chunk {
    SteadyClock::time_point release;
    std::string bytes;
    bool eof = false;
  };
  int src = -1;
  int dst = -1;
  std::atomic<uint64_t>* forwarded = nullptr;
  std::atomic<uint64_t>* read = nullptr;
  std::deque<Chunk> queue;
  size_t head_written = 0;  // Bytes of queue.front() already written.
  size_t queued = 0;
  bool src_eof = false;  // EOF read from src (and queued).
  bool done = false;     // EOF delivered to dst.
  bool want_write = false;

  bool Reads(const Fault& f) const { return !src_eof && f.kind != FaultKind::kStall && queued < kMaxQueuedBytes; }

  // Drops queued data (a blackhole); a queued EOF stays, held.
  void DropData() {
    std::erase_if(queue, [](const Chunk& c) { return !c.eof; });
    head_written = 0;
    queued = 0;
  }

  // Reads once from src. False on a read error (the connection is then reset).
  bool Read(const Fault& f) {
    char buf[kReadChunk];
    const ssize_t n = ::recv(src, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n > 0) read->fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    const auto release = SteadyClock::now() + (f.kind == FaultKind::kDelay ? f.delay : milliseconds(0));
    if (n == 0) {
      src_eof = true;
      queue.push_back({release, {}, true});
    } else if (f.kind != FaultKind::kBlackhole) {
      queue.push_back({release, std::string(buf, static_cast<size_t>(n)), false});
      queued += static_cast<size_t>(n);
    }
    return true;
  }

  // Writes what is due to dst. False on a write error (the connection is then reset).
  bool Pump(const Fault& f, SteadyClock::time_point now) {
    want_write = false;
    if (f.kind == FaultKind::kBlackhole) DropData();
    if (f.kind == FaultKind::kStall || f.kind == FaultKind::kBlackhole) return true;
    while (!queue.empty() && queue.front().release <= now) {
      Chunk& head = queue.front();
      if (head.eof) {
        ::shutdown(dst, SHUT_WR);
        done = true;
        queue.pop_front();
        continue;
      }
      // Counted before the write (the unsent rest is taken back after it), so a peer that
      // has received bytes always finds them in bytes_forwarded().
      const size_t size = head.bytes.size() - head_written;
      forwarded->fetch_add(size, std::memory_order_relaxed);
      const ssize_t n = ::send(dst, head.bytes.data() + head_written, size, MSG_DONTWAIT | MSG_NOSIGNAL);
      forwarded->fetch_sub(size - static_cast<size_t>(std::max<ssize_t>(n, 0)), std::memory_order_relaxed);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
          want_write = true;
          return true;
        }
        return false;
      }
      head_written += static_cast<size_t>(n);
      queued -= static_cast<size_t>(n);
      if (head_written == head.bytes.size()) {
        queue.pop_front();
        head_written = 0;
      }
    }
    return true;
  }

  // Time until the head chunk is due (max when nothing is queued or the flow is held).
  SteadyClock::duration NextDue(const Fault& f, SteadyClock::time_point now) const {
    if (queue.empty() || want_write || f.kind == FaultKind::kStall || f.kind == FaultKind::kBlackhole) {
      return SteadyClock::duration::max();
    }
    return queue.front().release - now;
  }
};

}  // namespace

std::string Fault::ToString() const {
  switch (kind) {
    case FaultKind::kNone: return "none";
    case FaultKind::kDelay: return "delay " + std::to_string(delay.count());
    case FaultKind::kStall: return "stall";
    case FaultKind::kReset: return "reset";
    case FaultKind::kBlackhole: return "blackhole";
  }
  return "?";
}

Result<Fault> ParseFault(std::string_view text) {
  if (text == "none") return Fault::None();
  if (text == "stall") return Fault::Stall();
  if (text == "reset") return Fault::Reset();
  if (text == "blackhole") return Fault::Blackhole();
  constexpr std::string_view kDelay = "delay ";
  if (text.substr(0, kDelay.size()) == kDelay) {
    const std::string_view ms = text.substr(kDelay.size());
    int64_t value = -1;
    const auto [end, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), value);
    if (ec == std::errc() && end == ms.data() + ms.size() && value >= 0) return Fault::Delay(milliseconds(value));
  }
  return Status::InvalidArgument("bad fault '", text, "' (none, delay MS, stall, reset, blackhole)");
}

struct FaultProxy::Connection {
  int client = -1;
  std::thread thread;
  // Set by the connection's thread as its last action; read by the reaper. Release/acquire
  // so the reaper's join never races with the thread's last writes (join synchronises too).
  std::atomic<bool> finished{false};
};

Result<std::unique_ptr<FaultProxy>> FaultProxy::Start(const FaultProxyOptions& options) {
  if (options.upstream_host.empty()) return Status::InvalidArgument("fault proxy: empty upstream_host");
  if (options.upstream_port < 1 || options.upstream_port > 65535) {
    return Status::InvalidArgument("fault proxy: upstream_port ", options.upstream_port, " not in 1..65535");
  }
  if (options.listen_port < 0 || options.listen_port > 65535) {
    return Status::InvalidArgument("fault proxy: listen_port ", options.listen_port, " not in 0..65535");
  }
  if (options.connect_timeout <= milliseconds(0)) return Status::InvalidArgument("fault proxy: connect_timeout <= 0");
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(options.upstream_host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return Status::InvalidArgument("fault proxy: cannot resolve '", options.upstream_host, "' to IPv4");
  }
  const uint32_t addr = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr.s_addr;
  ::freeaddrinfo(found);
  LOCKSTEP_ASSIGN_OR_RETURN(auto listening, Listen(options.listen_port));
  return std::unique_ptr<FaultProxy>(new FaultProxy(options, listening.first, listening.second, addr));
}

FaultProxy::FaultProxy(const FaultProxyOptions& options, int listen_fd, int port, uint32_t upstream_addr)
    : options_(options), listen_fd_(listen_fd), port_(port), upstream_addr_(upstream_addr) {
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stopping_.store(true, std::memory_order_relaxed);
  accept_thread_.join();  // No new connection threads after this.
  std::list<std::unique_ptr<Connection>> threads;
  {
    MutexLock lock(&mu_);
    threads.swap(threads_);
  }
  for (auto& c : threads) c->thread.join();
  ::close(listen_fd_);
}

void FaultProxy::SetFault(Direction direction, const Fault& fault) {
  SetFaults(direction == Direction::kClientToServer, direction == Direction::kServerToClient, fault);
}

void FaultProxy::SetFault(const Fault& fault) { SetFaults(true, true, fault); }

void FaultProxy::SetFaults(bool to_server, bool to_client, const Fault& fault) {
  MutexLock lock(&mu_);
  if (to_server) faults_.to_server = fault;
  if (to_client) faults_.to_client = fault;
  if (!faults_.reset()) return;
  // Every connection thread sees the reset within a poll slice and closes its sockets.
  const Deadline deadline = Deadline::After(std::chrono::seconds(10));
  while (connections_ > 0 && changed_.WaitUntil(&mu_, deadline)) {
  }
}

Fault FaultProxy::fault(Direction direction) const {
  MutexLock lock(&mu_);
  return direction == Direction::kClientToServer ? faults_.to_server : faults_.to_client;
}

int FaultProxy::connections() const {
  MutexLock lock(&mu_);
  return connections_;
}

uint64_t FaultProxy::bytes_forwarded(Direction direction) const {
  return (direction == Direction::kClientToServer ? forwarded_to_server_ : forwarded_to_client_)
      .load(std::memory_order_relaxed);
}

uint64_t FaultProxy::bytes_read(Direction direction) const {
  return (direction == Direction::kClientToServer ? read_from_client_ : read_from_server_)
      .load(std::memory_order_relaxed);
}

bool FaultProxy::AwaitConnections(int count, const Deadline& deadline) const {
  MutexLock lock(&mu_);
  while (connections_ != count) {
    if (!changed_.WaitUntil(&mu_, deadline) && connections_ != count) return false;
  }
  return true;
}

FaultProxy::Faults FaultProxy::Snapshot() const {
  MutexLock lock(&mu_);
  return faults_;
}

void FaultProxy::ReapFinished() {
  std::list<std::unique_ptr<Connection>> finished;
  {
    MutexLock lock(&mu_);
    for (auto it = threads_.begin(); it != threads_.end();) {
      auto next = std::next(it);
      if ((*it)->finished.load(std::memory_order_acquire)) finished.splice(finished.end(), threads_, it);
      it = next;
    }
  }
  for (auto& c : finished) c->thread.join();
}

void FaultProxy::AcceptLoop() {
  while (!stopping_.load(std::memory_order_relaxed)) {
    ReapFinished();
    if (!PollOne(listen_fd_, POLLIN, kPollSlice)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) continue;
    accepted_.fetch_add(1, std::memory_order_relaxed);
    MutexLock lock(&mu_);
    if (faults_.reset()) {
      ResetFd(fd);
      continue;
    }
    ++connections_;
    changed_.SignalAll();
    auto connection = std::make_unique<Connection>();
    connection->client = fd;
    Connection* raw = connection.get();
    threads_.push_back(std::move(connection));
    raw->thread = std::thread([this, raw] { Serve(raw); });
  }
}

int FaultProxy::ConnectUpstream() const {
  return ConnectTo(upstream_addr_, options_.upstream_port, Deadline::After(options_.connect_timeout),
                   [this] { return stopping_.load(std::memory_order_relaxed) || Snapshot().reset(); });
}

void FaultProxy::Serve(Connection* connection) {
  const int client = connection->client;
  const int server = ConnectUpstream();
  const int one = 1;
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  Flow to_server;
  to_server.src = client;
  to_server.dst = server;
  to_server.forwarded = &forwarded_to_server_;
  to_server.read = &read_from_client_;
  Flow to_client;
  to_client.src = server;
  to_client.dst = client;
  to_client.forwarded = &forwarded_to_client_;
  to_client.read = &read_from_server_;
  bool reset = server < 0;
  while (!reset && !stopping_.load(std::memory_order_relaxed)) {
    Faults f = Snapshot();
    if (f.reset()) {
      reset = true;
      break;
    }
    const auto now = SteadyClock::now();
    if (!to_server.Pump(f.to_server, now) || !to_client.Pump(f.to_client, now)) {
      reset = true;
      break;
    }
    if (to_server.done && to_client.done) break;
    pollfd fds[2] = {{client, 0, 0}, {server, 0, 0}};
    if (to_server.Reads(f.to_server)) fds[0].events |= POLLIN;
    if (to_client.want_write) fds[0].events |= POLLOUT;
    if (to_client.Reads(f.to_client)) fds[1].events |= POLLIN;
    if (to_server.want_write) fds[1].events |= POLLOUT;
    // An fd with no events would still report POLLHUP at once: leave it out.
    for (pollfd& p : fds) {
      if (p.events == 0) p.fd = -1;
    }
    const auto wait = std::min(to_server.NextDue(f.to_server, now), to_client.NextDue(f.to_client, now));
    if (::poll(fds, 2, PollMillis(wait)) <= 0) continue;
    // Decide on what to read with the faults of now: a fault set while this thread was in
    // poll() applies to the bytes that woke it.
    f = Snapshot();
    if (f.reset()) {
      reset = true;
      break;
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && to_server.Reads(f.to_server) &&
        !to_server.Read(f.to_server)) {
      reset = true;
    }
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && to_client.Reads(f.to_client) &&
        !to_client.Read(f.to_client)) {
      reset = true;
    }
  }
  if (reset) {
    ResetFd(client);
    ResetFd(server);
  } else {
    CloseFd(client);
    CloseFd(server);
  }
  {
    MutexLock lock(&mu_);
    --connections_;
    changed_.SignalAll();
  }
  connection->finished.store(true, std::memory_order_release);
}

std::string HandleControlCommand(FaultProxy& proxy, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line == "ping") return "ok";
  if (line == "stats") {
    return internal::StrCat("ok connections=", proxy.connections(), " accepted=", proxy.accepted(),
                            " c2s=", proxy.bytes_forwarded(Direction::kClientToServer),
                            " s2c=", proxy.bytes_forwarded(Direction::kServerToClient),
                            " read_c2s=", proxy.bytes_read(Direction::kClientToServer),
                            " read_s2c=", proxy.bytes_read(Direction::kServerToClient));
  }
  constexpr std::string_view kFault = "fault ";
  if (line.substr(0, kFault.size()) != kFault) return internal::StrCat("error unknown command '", line, "'");
  line.remove_prefix(kFault.size());
  const size_t space = line.find(' ');
  const std::string_view which = line.substr(0, space);
  if (space == std::string_view::npos || (which != "c2s" && which != "s2c" && which != "both")) {
    return "error usage: fault <c2s|s2c|both> <none|delay MS|stall|reset|blackhole>";
  }
  Result<Fault> fault = ParseFault(line.substr(space + 1));
  if (!fault.ok()) return "error " + std::string(fault.status().message());
  if (which == "both") proxy.SetFault(*fault);
  else proxy.SetFault(which == "c2s" ? Direction::kClientToServer : Direction::kServerToClient, *fault);
  return "ok";
}

Result<std::unique_ptr<ControlServer>> ControlServer::Start(FaultProxy& proxy, int port) {
  LOCKSTEP_ASSIGN_OR_RETURN(auto listening, Listen(port));
  return std::unique_ptr<ControlServer>(new ControlServer(proxy, listening.first, listening.second));
}

ControlServer::ControlServer(FaultProxy& proxy, int listen_fd, int port)
    : proxy_(proxy), listen_fd_(listen_fd), port_(port) {
  thread_ = std::thread([this] { Loop(); });
}

ControlServer::~ControlServer() {
  stopping_.store(true, std::memory_order_relaxed);
  thread_.join();
  ::close(listen_fd_);
}

void ControlServer::Loop() {
  struct Peer {
    int fd;
    std::string in;
  };
  std::vector<Peer> peers;
  while (!stopping_.load(std::memory_order_relaxed)) {
    std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}};
    for (const Peer& p : peers) fds.push_back({p.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), PollMillis(kPollSlice)) <= 0) continue;
    if ((fds[0].revents & POLLIN) != 0) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) peers.push_back({fd, {}});
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      Peer& peer = peers[i - 1];
      if (fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(peer.fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (n <= 0) {
        CloseFd(peer.fd);
        peer.fd = -1;
        continue;
      }
      peer.in.append(buf, static_cast<size_t>(n));
      for (size_t eol; (eol = peer.in.find('\n')) != std::string::npos;) {
        // Replies are short; a peer that does not read them is its own problem (blocking
        // send would stall the loop, so a short write just drops the rest).
        const std::string reply = HandleControlCommand(proxy_, std::string_view(peer.in).substr(0, eol)) + "\n";
        peer.in.erase(0, eol + 1);
        (void)::send(peer.fd, reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      }
    }
    std::erase_if(peers, [](const Peer& p) { return p.fd < 0; });
  }
  for (const Peer& p : peers) CloseFd(p.fd);
}

Result<std::string> SendControlCommand(int control_port, std::string_view line, const Deadline& deadline) {
  const int fd = ConnectTo(htonl(INADDR_LOOPBACK), control_port, deadline, [] { return false; });
  if (fd < 0) return Status::Unavailable("fault proxy control: cannot connect to 127.0.0.1:", control_port);
  std::string out(line);
  out.push_back('\n');
  size_t sent = 0;
  std::string reply;
  Status status = Status::DeadlineExceeded("fault proxy control: no reply to '", line, "'");
  while (!deadline.expired()) {
    if (sent < out.size()) {
      const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
      else if (n < 0 && errno != EAGAIN && errno != EINTR) break;
      if (sent < out.size()) {
        PollOne(fd, POLLOUT, deadline.remaining());
        continue;
      }
    }
    if (!PollOne(fd, POLLIN, deadline.remaining())) continue;
    char buf[1024];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      status = Status::Unavailable("fault proxy control: connection closed before a reply to '", line, "'");
      break;
    }
    reply.append(buf, static_cast<size_t>(n));
    if (const size_t eol = reply.find('\n'); eol != std::string::npos) {
      ::close(fd);
      return reply.substr(0, eol);
    }
  }
  ::close(fd);
  return status;
}

}  // namespace lockstep::testing
