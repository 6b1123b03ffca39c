#include "sql/watchdog.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace lockstep::sql::internal {
namespace {

struct SocketPair {
  int fds[2] = {-1, -1};
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0); }
  ~SocketPair() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
};

TEST(Watchdog, ShutsDownABlockedReadAtTheDeadline) {
  Watchdog watchdog;
  SocketPair sp;
  const auto ticket = watchdog.Arm(Deadline::After(std::chrono::milliseconds(50)), sp.fds[0]);
  char buf[1];
  // Nobody writes to the peer: without the watchdog this read would block forever.
  const ssize_t n = ::read(sp.fds[0], buf, 1);
  EXPECT_EQ(n, 0);  // EOF after shutdown(SHUT_RDWR).
  EXPECT_TRUE(watchdog.Disarm(ticket));
  EXPECT_EQ(watchdog.fired(), 1u);
}

TEST(Watchdog, DisarmedTimerNeverFires) {
  Watchdog watchdog;
  SocketPair sp;
  const auto ticket = watchdog.Arm(Deadline::After(std::chrono::hours(1)), sp.fds[0]);
  EXPECT_FALSE(watchdog.Disarm(ticket));
  EXPECT_EQ(watchdog.fired(), 0u);
  // The socket still works.
  ASSERT_EQ(::write(sp.fds[1], "x", 1), 1);
  char buf[1];
  EXPECT_EQ(::read(sp.fds[0], buf, 1), 1);
}

TEST(Watchdog, InfiniteDeadlineIsNotArmed) {
  Watchdog watchdog;
  const auto ticket = watchdog.Arm(Deadline::Infinite(), 0);
  EXPECT_EQ(ticket.id, 0u);
  EXPECT_FALSE(watchdog.Disarm(ticket));
}

TEST(Watchdog, EarlierTimerWakesTheThread) {
  Watchdog watchdog;
  SocketPair late, early;
  const auto t1 = watchdog.Arm(Deadline::After(std::chrono::hours(1)), late.fds[0]);
  const auto t2 = watchdog.Arm(Deadline::After(std::chrono::milliseconds(20)), early.fds[0]);
  char buf[1];
  EXPECT_EQ(::read(early.fds[0], buf, 1), 0);
  EXPECT_TRUE(watchdog.Disarm(t2));
  EXPECT_FALSE(watchdog.Disarm(t1));
}

}  // namespace
}  // namespace lockstep::sql::internal
