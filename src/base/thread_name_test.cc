#include "lockstep/base/thread_name.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace lockstep {
namespace {

TEST(ThreadNameTest, NamesTheCallingThreadOnlyAndCutsAt15Bytes) {
  const std::string main_name = CurrentThreadName();
  std::string short_name, long_name;
  std::thread t([&] {
    SetCurrentThreadName("ls-test");
    short_name = CurrentThreadName();
    SetCurrentThreadName("a-name-longer-than-fifteen-bytes");
    long_name = CurrentThreadName();
  });
  t.join();
  EXPECT_EQ(short_name, "ls-test");
  EXPECT_EQ(long_name, "a-name-longer-t");
  EXPECT_EQ(CurrentThreadName(), main_name);
}

}  // namespace
}  // namespace lockstep
