// Hermetic Client tests: option validation and a refused connection (no server needed:
// nothing listens on the chosen loopback port).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

#include "lockstep/redis/client.h"
#include "lockstep/redis/subscriber.h"

namespace lockstep::redis {
namespace {

using namespace std::chrono_literals;

// A loopback port with no listener: bind an ephemeral port, then close it.
int UnusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(ClientOpen, RejectsInvalidOptions) {
  RedisOptions o;
  o.pool_size = 0;
  EXPECT_EQ(Client::Open(o).status().code(), StatusCode::kInvalidArgument);
  o = {};
  o.host = "";
  EXPECT_EQ(Client::Open(o).status().code(), StatusCode::kInvalidArgument);
  o = {};
  o.command_timeout = 0ms;
  EXPECT_EQ(Client::Open(o).status().code(), StatusCode::kInvalidArgument);
  o = {};
  o.port = 0;
  EXPECT_EQ(Client::Open(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(ClientOpen, RefusedConnectionFailsFastWithUnavailable) {
  RedisOptions o;
  o.port = UnusedPort();
  std::atomic<int> calls{0};
  o.observer.on_call = [&](const Status&, std::chrono::nanoseconds) { calls.fetch_add(1); };
  Result<std::unique_ptr<Client>> client = Client::Open(o);
  ASSERT_TRUE(client.ok()) << client.status();  // Lazy: Open does not connect.
  const auto deadline = Deadline::After(30s);
  Result<Reply> r = (*client)->Command({"PING"}, deadline);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status();
  EXPECT_FALSE(deadline.expired());
  EXPECT_EQ(calls.load(), 1);
  const ClientStats stats = (*client)->stats();
  EXPECT_EQ(stats.open, 0);
  EXPECT_EQ(stats.connects, 0u);
}

TEST(ClientOpen, EmptyCommandIsInvalidArgument) {
  Result<std::unique_ptr<Client>> client = Client::Open(RedisOptions{});
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Execute({}, Deadline::After(1s)).status().code(), StatusCode::kInvalidArgument);
  Result<std::vector<Result<Reply>>> empty = (*client)->Pipeline({}, Deadline::After(1s));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(SubscriberOpen, RequiresMessageCallbackAndStopsPromptlyWhenServerIsDown) {
  SubscriberOptions o;
  o.redis.port = UnusedPort();
  EXPECT_EQ(Subscriber::Open(o).status().code(), StatusCode::kInvalidArgument);
  o.on_message = [](const Message&) {};
  Result<std::unique_ptr<Subscriber>> sub = Subscriber::Open(o);
  ASSERT_TRUE(sub.ok()) << sub.status();
  ASSERT_TRUE((*sub)->Subscribe("c").ok());
  EXPECT_EQ((*sub)->Subscribe("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*sub)->WaitSubscribed(Deadline::After(50ms)).code(), StatusCode::kDeadlineExceeded);
  EXPECT_FALSE((*sub)->connected());
  sub->reset();  // Joins the thread; the test times out if it hangs.
}

}  // namespace
}  // namespace lockstep::redis
