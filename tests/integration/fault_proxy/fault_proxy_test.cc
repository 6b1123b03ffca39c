// FaultProxy (tests/support/fault_proxy.h) against an in-test echo server and the real Redis
// of the `servers` fixture, and the standalone lockstep-fault-proxy driven through its
// control port. Durations are only asserted as lower bounds (a delay of D made a round trip
// take >= D); "nothing arrives" is checked over a window while a fault holds the bytes.

#include "support/fault_proxy.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lockstep/base/check.h"
#include "lockstep/base/deadline.h"
#include "lockstep/redis/client.h"
#include "lockstep/sql/pool.h"
#include "support/mariadb_test.h"
#include "support/redis_test.h"

namespace lockstep::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kGenerous = 10s;  // Bound of every await; never reached when things work.

// Echoes every byte back on each connection; one polling thread. Thread-safe; the
// destructor stops the thread and closes the sockets.
class EchoServer {
 public:
  EchoServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    LOCKSTEP_CHECK(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    LOCKSTEP_CHECK(::listen(listen_fd_, 16) == 0);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~EchoServer() {
    stopping_.store(true, std::memory_order_relaxed);
    thread_.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }

 private:
  void Loop() {
    std::vector<int> peers;
    while (!stopping_.load(std::memory_order_relaxed)) {
      std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}};
      for (int fd : peers) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      if ((fds[0].revents & POLLIN) != 0) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) peers.push_back(fd);
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        char buf[4096];
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof(buf), 0);
        // Blocking send: replies are tiny and the proxy always reads the server side
        // unless a test stalls it, which these tests do not do towards the echo server.
        if (n <= 0 || ::send(fds[i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) {
          ::close(fds[i].fd);
          std::erase(peers, fds[i].fd);
        }
      }
    }
    for (int fd : peers) ::close(fd);
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};  // Set once by the destructor; orders nothing else.
  std::thread thread_;
};

// A blocking client socket connected to 127.0.0.1:port (-1 on failure).
int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

void Send(int fd, const std::string& bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

// Reads until `n` bytes arrived. Fails with the errno text on EOF/error, or on the deadline.
Result<std::string> ReadExactly(int fd, size_t n, const Deadline& deadline) {
  std::string out;
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(RemainingMillis(deadline).count())) <= 0) {
      if (deadline.expired()) return Status::DeadlineExceeded("read ", out.size(), " of ", n, " bytes");
      continue;
    }
    char buf[4096];
    const ssize_t got = ::recv(fd, buf, std::min(sizeof(buf), n - out.size()), 0);
    if (got == 0) return Status::Unavailable("eof");
    if (got < 0) return Status::Unavailable(std::strerror(errno));
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

// True if nothing became readable on `fd` during `window`.
bool NothingArrives(int fd, std::chrono::milliseconds window) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(window.count())) == 0;
}

// Awaits `condition` (a proxy counter) for at most kGenerous.
template <typename Condition>
bool Await(Condition condition) {
  const Deadline deadline = Deadline::After(kGenerous);
  while (!condition()) {
    if (deadline.expired()) return false;
    std::this_thread::sleep_for(2ms);  // Awaiting a counter; pacing only.
  }
  return true;
}

// Waits until the proxy has read `n` bytes in `direction`: a fault set later does not apply
// to them.
bool AwaitRead(const FaultProxy& proxy, Direction direction, uint64_t n) {
  return Await([&] { return proxy.bytes_read(direction) >= n; });
}

std::unique_ptr<FaultProxy> StartProxy(int upstream_port) {
  Result<std::unique_ptr<FaultProxy>> proxy = FaultProxy::Start({.upstream_port = upstream_port});
  LOCKSTEP_CHECK_MSG(proxy.ok(), proxy.status().ToString());
  return std::move(proxy).value();
}

class FaultProxyEchoTest : public ::testing::Test {
 protected:
  EchoServer echo_;
  std::unique_ptr<FaultProxy> proxy_ = StartProxy(echo_.port());
};

TEST_F(FaultProxyEchoTest, ForwardsBothWaysAndCounts) {
  EXPECT_NE(proxy_->port(), 0);
  const int fd = Connect(proxy_->port());
  ASSERT_GE(fd, 0);
  Send(fd, "hello");
  Result<std::string> got = ReadExactly(fd, 5, Deadline::After(kGenerous));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "hello");
  EXPECT_EQ(proxy_->connections(), 1);
  EXPECT_EQ(proxy_->accepted(), 1u);
  EXPECT_EQ(proxy_->bytes_forwarded(Direction::kClientToServer), 5u);
  EXPECT_EQ(proxy_->bytes_forwarded(Direction::kServerToClient), 5u);
  ::close(fd);
  EXPECT_TRUE(proxy_->AwaitConnections(0, Deadline::After(kGenerous)));
}

TEST_F(FaultProxyEchoTest, DelayHoldsEveryChunkAndKeepsOrder) {
  const int fd = Connect(proxy_->port());
  ASSERT_GE(fd, 0);
  proxy_->SetFault(Direction::kClientToServer, Fault::Delay(200ms));
  EXPECT_EQ(proxy_->fault(Direction::kClientToServer), Fault::Delay(200ms));
  EXPECT_EQ(proxy_->fault(Direction::kServerToClient), Fault::None());
  const auto start = SteadyClock::now();
  Send(fd, "a");
  Send(fd, "b");
  ASSERT_TRUE(AwaitRead(*proxy_, Direction::kClientToServer, 2));
  // A later chunk with a shorter delay still waits for the earlier one.
  proxy_->SetFault(Direction::kClientToServer, Fault::None());
  Send(fd, "c");
  Result<std::string> got = ReadExactly(fd, 3, Deadline::After(kGenerous));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "abc");
  EXPECT_GE(SteadyClock::now() - start, 200ms);
  ::close(fd);
}

TEST_F(FaultProxyEchoTest, StallHoldsBytesUntilCleared) {
  const int fd = Connect(proxy_->port());
  ASSERT_GE(fd, 0);
  proxy_->SetFault(Direction::kServerToClient, Fault::Stall());
  Send(fd, "x");
  // The request went through; the echo is held (not even read).
  ASSERT_TRUE(Await([&] { return proxy_->bytes_forwarded(Direction::kClientToServer) == 1; }));
  EXPECT_TRUE(NothingArrives(fd, 300ms));
  EXPECT_EQ(proxy_->bytes_read(Direction::kServerToClient), 0u);
  EXPECT_EQ(proxy_->bytes_forwarded(Direction::kServerToClient), 0u);
  EXPECT_EQ(proxy_->connections(), 1);
  proxy_->SetFault(Fault::None());
  Result<std::string> got = ReadExactly(fd, 1, Deadline::After(kGenerous));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "x");
  ::close(fd);
}

TEST_F(FaultProxyEchoTest, ResetRstsOpenAndNewConnections) {
  const int open_fd = Connect(proxy_->port());
  ASSERT_GE(open_fd, 0);
  ASSERT_TRUE(proxy_->AwaitConnections(1, Deadline::After(kGenerous)));
  proxy_->SetFault(Direction::kServerToClient, Fault::Reset());  // Either direction: whole connections.
  EXPECT_EQ(proxy_->connections(), 0);
  Result<std::string> got = ReadExactly(open_fd, 1, Deadline::After(kGenerous));
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status();
  EXPECT_EQ(got.status().message(), std::strerror(ECONNRESET));
  ::close(open_fd);

  // The kernel completes the handshake; the proxy resets the connection at accept.
  const int new_fd = Connect(proxy_->port());
  ASSERT_GE(new_fd, 0);
  got = ReadExactly(new_fd, 1, Deadline::After(kGenerous));
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status();
  EXPECT_EQ(proxy_->accepted(), 2u);
  EXPECT_EQ(proxy_->connections(), 0);
  ::close(new_fd);

  proxy_->SetFault(Direction::kServerToClient, Fault::None());
  const int fd = Connect(proxy_->port());
  Send(fd, "ok");
  got = ReadExactly(fd, 2, Deadline::After(kGenerous));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "ok");
  ::close(fd);
}

TEST_F(FaultProxyEchoTest, BlackholeSwallowsNewConnections) {
  proxy_->SetFault(Fault::Blackhole());
  const int fd = Connect(proxy_->port());
  ASSERT_GE(fd, 0);
  Send(fd, "lost");
  EXPECT_TRUE(proxy_->AwaitConnections(1, Deadline::After(kGenerous)));  // Accepted, kept open.
  ASSERT_TRUE(AwaitRead(*proxy_, Direction::kClientToServer, 4));
  EXPECT_TRUE(NothingArrives(fd, 300ms));
  EXPECT_EQ(proxy_->bytes_forwarded(Direction::kClientToServer), 0u);
  // Cleared: the swallowed bytes are gone, the connection carries new ones.
  proxy_->SetFault(Fault::None());
  Send(fd, "kept");
  Result<std::string> got = ReadExactly(fd, 4, Deadline::After(kGenerous));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "kept");
  ::close(fd);
}

TEST_F(FaultProxyEchoTest, HalfCloseIsForwardedInOrder) {
  const int fd = Connect(proxy_->port());
  ASSERT_GE(fd, 0);
  proxy_->SetFault(Direction::kClientToServer, Fault::Delay(50ms));
  Send(fd, "bye");
  ASSERT_EQ(::shutdown(fd, SHUT_WR), 0);  // The FIN follows "bye" through the delay.
  Result<std::string> got = ReadExactly(fd, 3, Deadline::After(kGenerous));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "bye");
  got = ReadExactly(fd, 1, Deadline::After(kGenerous));  // The echo server closed in turn.
  EXPECT_EQ(got.status().message(), "eof") << got.status();
  EXPECT_TRUE(proxy_->AwaitConnections(0, Deadline::After(kGenerous)));
  ::close(fd);
}

TEST_F(FaultProxyEchoTest, DestructorClosesStalledConnections) {
  const int fd = Connect(proxy_->port());
  ASSERT_GE(fd, 0);
  proxy_->SetFault(Fault::Stall());
  Send(fd, "held");
  ASSERT_TRUE(proxy_->AwaitConnections(1, Deadline::After(kGenerous)));
  proxy_.reset();  // Joins every thread (bounded by the poll slice) and closes the sockets.
  Result<std::string> got = ReadExactly(fd, 1, Deadline::After(kGenerous));
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status();
  ::close(fd);
}

TEST(FaultProxyControlTest, ParsesFaultsAndCommands) {
  for (const Fault& f : {Fault::None(), Fault::Delay(250ms), Fault::Stall(), Fault::Reset(), Fault::Blackhole()}) {
    Result<Fault> parsed = ParseFault(f.ToString());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, f);
  }
  for (const char* bad : {"", "delay", "delay -1", "delay 5x", "stal", "none "}) {
    EXPECT_EQ(ParseFault(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EchoServer echo;
  std::unique_ptr<FaultProxy> proxy = StartProxy(echo.port());
  EXPECT_EQ(HandleControlCommand(*proxy, "ping\r"), "ok");
  EXPECT_EQ(HandleControlCommand(*proxy, "fault c2s delay 40"), "ok");
  EXPECT_EQ(proxy->fault(Direction::kClientToServer), Fault::Delay(40ms));
  EXPECT_EQ(HandleControlCommand(*proxy, "fault both stall"), "ok");
  EXPECT_EQ(proxy->fault(Direction::kServerToClient), Fault::Stall());
  EXPECT_EQ(HandleControlCommand(*proxy, "fault s2c none"), "ok");
  EXPECT_EQ(proxy->fault(Direction::kServerToClient), Fault::None());
  EXPECT_EQ(proxy->fault(Direction::kClientToServer), Fault::Stall());
  EXPECT_EQ(HandleControlCommand(*proxy, "stats"), "ok connections=0 accepted=0 c2s=0 s2c=0 read_c2s=0 read_s2c=0");
  EXPECT_EQ(HandleControlCommand(*proxy, "fault up stall").rfind("error ", 0), 0u);
  EXPECT_EQ(HandleControlCommand(*proxy, "fault both slow").rfind("error ", 0), 0u);
  EXPECT_EQ(HandleControlCommand(*proxy, "quit").rfind("error ", 0), 0u);
}

// The real Redis of the `servers` fixture, through a proxy.
class FaultProxyRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis::RedisOptions upstream = RedisTestOptions(0);
    proxy_ = StartProxy(upstream.port);
    upstream.port = proxy_->port();
    Result<std::unique_ptr<redis::Client>> client = redis::Client::Open(upstream);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(client).value();
  }

  std::unique_ptr<FaultProxy> proxy_;
  std::unique_ptr<redis::Client> client_;
};

TEST_F(FaultProxyRedisTest, PingGoesThroughTheProxy) {
  const Status ping = client_->Ping(Deadline::After(kGenerous));
  ASSERT_TRUE(ping.ok()) << ping;
  EXPECT_EQ(proxy_->connections(), 1);
  EXPECT_GT(proxy_->bytes_forwarded(Direction::kClientToServer), 0u);
  EXPECT_GT(proxy_->bytes_forwarded(Direction::kServerToClient), 0u);
}

TEST_F(FaultProxyRedisTest, StallMissesTheDeadlineUntilCleared) {
  ASSERT_TRUE(client_->Ping(Deadline::After(kGenerous)).ok());
  proxy_->SetFault(Fault::Stall());
  const Status stalled = client_->Ping(Deadline::After(300ms));
  EXPECT_EQ(stalled.code(), StatusCode::kDeadlineExceeded) << stalled;
  proxy_->SetFault(Fault::None());
  const Status ping = client_->Ping(Deadline::After(kGenerous));
  EXPECT_TRUE(ping.ok()) << ping;
}

TEST_F(FaultProxyRedisTest, ResetFailsUnavailableThenTheClientReconnects) {
  ASSERT_TRUE(client_->Ping(Deadline::After(kGenerous)).ok());
  const uint64_t connects = client_->stats().connects;
  proxy_->SetFault(Direction::kClientToServer, Fault::Reset());
  const Status reset = client_->Ping(Deadline::After(kGenerous));
  EXPECT_EQ(reset.code(), StatusCode::kUnavailable) << reset;
  proxy_->SetFault(Direction::kClientToServer, Fault::None());
  const Status ping = client_->Ping(Deadline::After(kGenerous));
  EXPECT_TRUE(ping.ok()) << ping;
  EXPECT_GT(client_->stats().connects, connects);
}

TEST_F(FaultProxyRedisTest, DelayLengthensTheRoundTrip) {
  ASSERT_TRUE(client_->Ping(Deadline::After(kGenerous)).ok());
  proxy_->SetFault(Direction::kServerToClient, Fault::Delay(100ms));
  const auto start = SteadyClock::now();
  const Status ping = client_->Ping(Deadline::After(kGenerous));
  ASSERT_TRUE(ping.ok()) << ping;
  EXPECT_GE(SteadyClock::now() - start, 100ms);
}

TEST_F(FaultProxyRedisTest, BlackholeActsLikeAStallForNewConnections) {
  proxy_->SetFault(Fault::Blackhole());  // Before the client's first connection.
  const Status swallowed = client_->Ping(Deadline::After(300ms));
  EXPECT_EQ(swallowed.code(), StatusCode::kDeadlineExceeded) << swallowed;
  EXPECT_GE(proxy_->accepted(), 1u);
  EXPECT_EQ(proxy_->bytes_forwarded(Direction::kClientToServer), 0u);
  proxy_->SetFault(Fault::None());
  const Status ping = client_->Ping(Deadline::After(kGenerous));
  EXPECT_TRUE(ping.ok()) << ping;
}

// Several threads share the client (one proxied connection each) while another thread keeps
// changing the delay: every call succeeds and the proxy counts the same bytes both ways.
TEST_F(FaultProxyRedisTest, ConcurrentCallsWhileTheFaultChanges) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 50;
  std::atomic<int> failures{0};
  std::atomic<bool> done{false};
  std::thread changer([&] {
    for (int i = 0; !done.load(); ++i) {
      proxy_->SetFault(i % 2 == 0 ? Fault::Delay(1ms) : Fault::None());
      std::this_thread::sleep_for(1ms);  // Pacing the changes only.
    }
  });
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) {
        if (!client_->Ping(Deadline::After(kGenerous)).ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& c : callers) c.join();
  done.store(true);
  changer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(proxy_->connections(), kThreads);
  // "PING\r\n" as a RESP array is 14 bytes, "+PONG\r\n" 7.
  EXPECT_EQ(proxy_->bytes_forwarded(Direction::kClientToServer), 14u * kThreads * kCalls);
  EXPECT_EQ(proxy_->bytes_forwarded(Direction::kServerToClient), 7u * kThreads * kCalls);
}

// MariaDB speaks first (the server's greeting): the handshake and queries go through, and a
// stall is cut by the pool's statement deadline.
TEST(FaultProxyMariaDbTest, QueriesGoThroughAndAStallHitsTheDeadline) {
  sql::ConnectionOptions connection = MariaDbTestOptions();
  std::unique_ptr<FaultProxy> proxy = StartProxy(connection.port);
  connection.port = proxy->port();
  Result<std::unique_ptr<sql::Pool>> pool = sql::Pool::Open(connection, {});
  ASSERT_TRUE(pool.ok()) << pool.status();
  {
    Result<sql::PooledConnection> lease = (*pool)->Acquire(Deadline::After(kGenerous));
    ASSERT_TRUE(lease.ok()) << lease.status();
    Result<sql::Rows> rows = lease->Query("SELECT 1", Deadline::After(kGenerous));
    ASSERT_TRUE(rows.ok()) << rows.status();
    proxy->SetFault(Direction::kServerToClient, Fault::Stall());
    rows = lease->Query("SELECT 2", Deadline::After(300ms));
    EXPECT_EQ(rows.status().code(), StatusCode::kDeadlineExceeded) << rows.status();
  }
  proxy->SetFault(Direction::kServerToClient, Fault::None());
  Result<sql::PooledConnection> lease = (*pool)->Acquire(Deadline::After(kGenerous));
  ASSERT_TRUE(lease.ok()) << lease.status();
  Result<sql::Rows> rows = lease->Query("SELECT 3", Deadline::After(kGenerous));
  EXPECT_TRUE(rows.ok()) << rows.status();
}

// lockstep-fault-proxy as a child process, with its stdout on a pipe. The destructor sends
// SIGTERM and reaps it (SIGKILL after kGenerous).
class ProxyProcess {
 public:
  explicit ProxyProcess(int upstream_port) {
    int out[2];
    LOCKSTEP_CHECK(::pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::string exe = LOCKSTEP_FAULT_PROXY_BINARY;
    std::string flag = "--upstream";
    std::string upstream = "127.0.0.1:" + std::to_string(upstream_port);
    std::vector<char*> argv = {exe.data(), flag.data(), upstream.data(), nullptr};
    if (posix_spawn(&pid_, exe.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    stdout_ = out[0];
  }
  ~ProxyProcess() {
    ::close(stdout_);
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    EXPECT_EQ(Reap(), 0) << "lockstep-fault-proxy exit status";
  }

  pid_t pid() const { return pid_; }

  // The first stdout line ("listen=<port> control=<port>"), or "" on EOF or the deadline.
  std::string FirstLine(const Deadline& deadline) const {
    std::string line;
    while (line.find('\n') == std::string::npos && !deadline.expired()) {
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(RemainingMillis(deadline).count())) <= 0) continue;
      char buf[256];
      const ssize_t n = ::read(stdout_, buf, sizeof(buf));
      if (n <= 0) return "";
      line.append(buf, static_cast<size_t>(n));
    }
    return line.substr(0, line.find('\n'));
  }

  // Waits for the child's exit (bounded); its exit code, or -1.
  int Reap() {
    const Deadline deadline = Deadline::After(kGenerous);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (deadline.expired()) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(10ms);  // Polling for the exit; pacing only.
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int stdout_ = -1;
};

TEST(FaultProxyBinaryTest, DrivenThroughItsControlPort) {
  redis::RedisOptions options = RedisTestOptions(0);
  ProxyProcess child(options.port);
  ASSERT_GT(child.pid(), 0);
  const std::string line = child.FirstLine(Deadline::After(kGenerous));
  int listen_port = 0;
  int control_port = 0;
  ASSERT_EQ(std::sscanf(line.c_str(), "listen=%d control=%d", &listen_port, &control_port), 2) << line;

  options.port = listen_port;
  Result<std::unique_ptr<redis::Client>> client = redis::Client::Open(options);
  ASSERT_TRUE(client.ok()) << client.status();
  Status ping = (*client)->Ping(Deadline::After(kGenerous));
  ASSERT_TRUE(ping.ok()) << ping;

  auto control = [&](const std::string& command) {
    Result<std::string> reply = SendControlCommand(control_port, command, Deadline::After(kGenerous));
    return reply.ok() ? *reply : reply.status().ToString();
  };
  EXPECT_EQ(control("fault s2c stall"), "ok");
  ping = (*client)->Ping(Deadline::After(300ms));
  EXPECT_EQ(ping.code(), StatusCode::kDeadlineExceeded) << ping;
  EXPECT_EQ(control("fault both none"), "ok");
  ping = (*client)->Ping(Deadline::After(kGenerous));
  EXPECT_TRUE(ping.ok()) << ping;
  EXPECT_EQ(control("fault c2s reset"), "ok");
  ping = (*client)->Ping(Deadline::After(kGenerous));
  EXPECT_EQ(ping.code(), StatusCode::kUnavailable) << ping;
  EXPECT_EQ(control("fault s2c delay 100"), "ok");
  EXPECT_EQ(control("fault c2s none"), "ok");
  const auto start = SteadyClock::now();
  ping = (*client)->Ping(Deadline::After(kGenerous));
  EXPECT_TRUE(ping.ok()) << ping;
  EXPECT_GE(SteadyClock::now() - start, 100ms);
  EXPECT_EQ(control("stats").rfind("ok connections=1 ", 0), 0u) << control("stats");
  EXPECT_EQ(control("fault both sideways").rfind("error ", 0), 0u);
}

}  // namespace
}  // namespace lockstep::testing
