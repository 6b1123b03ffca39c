// A real process pause: the lock holder is a child process that gets SIGSTOPped past its
// lease. Another holder takes the lock and writes; the child is SIGCONTed, its fenced
// write is refused at the resource and its guard reports the lock lost.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lockstep/lock/fenced_write.h"
#include "lockstep/lock/lock_service.h"
#include "lockstep/redis/client.h"
#include "lockstep/sql/pool.h"
#include "support/child_process.h"
#include "support/mariadb_test.h"
#include "support/process_pause.h"
#include "support/redis_test.h"
#include "support/test_env.h"

namespace lockstep::lock {
namespace {

using namespace std::chrono_literals;

constexpr char kDbEnv[] = "LOCKSTEP_PAUSED_DB";
constexpr char kKeyEnv[] = "LOCKSTEP_PAUSED_KEY";
constexpr char kDirEnv[] = "LOCKSTEP_PAUSED_DIR";

// Writes `text` to `path` atomically (write + rename), so a reader never sees half of it.
void WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << text;
  }
  std::rename(tmp.c_str(), path.c_str());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls for a file (a condition another process establishes), up to `timeout`.
bool AwaitFile(const std::string& path, std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (::access(path.c_str(), F_OK) == 0) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

Status ClaimAs(sql::Pool& pool, int64_t fence, const std::string& holder) {
  LOCKSTEP_ASSIGN_OR_RETURN(sql::Transaction tx, pool.Begin({}, Deadline::After(30s)));
  LOCKSTEP_RETURN_IF_ERROR(FencedUpdate(tx, {.table = "claim"}, 1, fence, "holder = ?", holder));
  return tx.Commit();
}

// The child: holds the lock (1 s lease) and claims, reports "ready", then — once the parent
// says "go" after a SIGSTOP/SIGCONT — writes again with its old fence and reports
// "<write code> <write reason> <guard check reason>". Runs only as the parent's child.
TEST(PausedHolderChild, DISABLED_Holder) {
  const char* db = std::getenv(kDbEnv);
  const char* key = std::getenv(kKeyEnv);
  const char* dir = std::getenv(kDirEnv);
  if (db == nullptr || key == nullptr || dir == nullptr) GTEST_SKIP() << "child only";
  auto pool = sql::Pool::Open(lockstep::testing::MariaDbTestOptions(db));
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto client = redis::Client::Open(testing::RedisTestOptions(0));
  ASSERT_TRUE(client.ok()) << client.status();
  auto service = LockService::Create(**client, {.key_prefix = "", .release_channel = std::string(key) + ":released"});
  ASSERT_TRUE(service.ok()) << service.status();

  auto guard = (*service)->Acquire(key, {.lease = 1s}, Deadline::After(30s));
  ASSERT_TRUE(guard.ok()) << guard.status();
  ASSERT_TRUE(ClaimAs(**pool, guard->fence(), "paused-child").ok());
  WriteFileAtomically(std::string(dir) + "/ready", std::to_string(guard->fence()));

  // The parent SIGSTOPs us here, lets another holder in, SIGCONTs us and writes "go".
  ASSERT_TRUE(AwaitFile(std::string(dir) + "/go", 120s));
  const Status write = ClaimAs(**pool, guard->fence(), "paused-child-again");
  const Status check = guard->Check();
  WriteFileAtomically(std::string(dir) + "/result",
                      std::string(StatusCodeName(write.code())) + " " + std::string(write.reason()) + " " +
                          std::string(check.reason()));
}

class PausedProcessTest : public testing::MariaDbTest {
 protected:
  void SetUp() override {
    MariaDbTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(ExecAdmin("CREATE TABLE claim (id BIGINT PRIMARY KEY, holder VARCHAR(64) NOT NULL, "
                          "fence BIGINT NOT NULL DEFAULT 0) ENGINE=InnoDB").ok());
    ASSERT_TRUE(ExecAdmin("INSERT INTO claim (id, holder) VALUES (1, '')").ok());
  }
};

TEST_F(PausedProcessTest, SigstoppedHolderIsFencedOutAndReportsLost) {
  auto client = redis::Client::Open(testing::RedisTestOptions(0));
  ASSERT_TRUE(client.ok()) << client.status();
  const std::string key = "{t:" + testing::UniqueTestName() + "}:lock";
  auto service = LockService::Create(**client, {.key_prefix = "", .release_channel = key + ":released"});
  ASSERT_TRUE(service.ok()) << service.status();
  const std::string dir = ::testing::TempDir() + "paused_" + std::to_string(::getpid());
  ASSERT_EQ(std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str()), 0);

  const pid_t child = testing::SpawnSelf("PausedHolderChild.DISABLED_Holder",
                                         {std::string(kDbEnv) + "=" + database(), std::string(kKeyEnv) + "=" + key,
                                          std::string(kDirEnv) + "=" + dir});
  ASSERT_GT(child, 0);
  struct Reap {  // Never leave a stopped child behind (until it has been waited for).
    pid_t pid;
    bool armed = true;
    ~Reap() {
      if (!armed) return;
      ::kill(pid, SIGCONT);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{child};

  ASSERT_TRUE(AwaitFile(dir + "/ready", 120s)) << "child never held the lock";
  const int64_t child_fence = std::stoll(ReadFile(dir + "/ready"));
  ASSERT_TRUE(lockstep::testing::StopProcessAndAwait(child)) << "child did not stop";

  // The child cannot renew while stopped: its lease lapses in Redis and we get the lock.
  auto guard = (*service)->Acquire(key, {.lease = 30s}, Deadline::After(60s));
  ASSERT_TRUE(guard.ok()) << guard.status();
  EXPECT_GT(guard->fence(), child_fence);
  ASSERT_TRUE(ClaimAs(pool(), guard->fence(), "parent").ok());

  ASSERT_EQ(::kill(child, SIGCONT), 0);
  WriteFileAtomically(dir + "/go", "go");
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  reap.armed = false;  // Reaped: its pid may be reused now.
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "child failed, status " << wstatus;

  const std::string result = ReadFile(dir + "/result");
  EXPECT_EQ(result, "FAILED_PRECONDITION fenced lock_lost") << "child reported: " << result;
  auto conn = pool().Acquire(Deadline::After(30s));
  ASSERT_TRUE(conn.ok());
  auto rows = conn->Query("SELECT holder, fence FROM claim WHERE id = 1");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*(*rows)[0].GetString(0), "parent");
  EXPECT_EQ(*(*rows)[0].GetInt64(1), guard->fence());
  std::system(("rm -rf '" + dir + "'").c_str());
}

}  // namespace
}  // namespace lockstep::lock
