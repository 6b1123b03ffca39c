#include "lockstep/redis/subscriber.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "support/redis_test.h"
#include "support/test_env.h"

namespace lockstep::testing {
namespace {

using namespace std::chrono_literals;
using redis::ConnectionState;
using redis::Message;

// Records what the subscriber thread reports; tests await conditions on it.
class Recorder {
 public:
  void OnMessage(const Message& m) {
    std::lock_guard<std::mutex> lock(mu_);
    messages_.push_back(m);
    cv_.notify_all();
  }
  void OnState(ConnectionState s) {
    std::lock_guard<std::mutex> lock(mu_);
    (s == ConnectionState::kConnected ? connects_ : disconnects_)++;
    cv_.notify_all();
  }
  // Waits until pred() (called under the lock) holds; false after `timeout`.
  template <typename Pred>
  bool Await(Pred pred, std::chrono::seconds timeout = 30s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(); });
  }
  size_t message_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_.size();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Message> messages_;
  int connects_ = 0;
  int disconnects_ = 0;
};

class SubscriberTest : public RedisTest {
 protected:
  std::unique_ptr<redis::Subscriber> OpenSubscriber() {
    redis::SubscriberOptions o;
    o.redis = options();
    o.reconnect_backoff = {std::chrono::milliseconds(10), std::chrono::milliseconds(200), 2.0};
    o.on_message = [this](const Message& m) { recorder_.OnMessage(m); };
    o.on_state = [this](ConnectionState s) { recorder_.OnState(s); };
    Result<std::unique_ptr<redis::Subscriber>> sub = redis::Subscriber::Open(std::move(o));
    EXPECT_TRUE(sub.ok()) << sub.status();
    return sub.ok() ? std::move(sub).value() : nullptr;
  }
  Status Publish(const std::string& channel, const std::string& payload) {
    Result<redis::Reply> r = client().Command({"PUBLISH", channel, payload}, Deadline::After(10s));
    if (!r.ok()) return r.status();
    if (r->integer() < 1) return Status::FailedPrecondition("no subscriber received it");
    return Status::Ok();
  }
  Recorder recorder_;
};

TEST_F(SubscriberTest, DeliversChannelAndPatternMessages) {
  auto sub = OpenSubscriber();
  ASSERT_NE(sub, nullptr);
  const std::string channel = Key("chan");
  ASSERT_TRUE(sub->Subscribe(channel).ok());
  ASSERT_TRUE(sub->PSubscribe(Key("pat:*")).ok());
  ASSERT_TRUE(sub->WaitSubscribed(Deadline::After(30s)).ok());
  EXPECT_TRUE(sub->connected());

  const std::string payload("bin\0\r\n", 6);
  ASSERT_TRUE(Publish(channel, payload).ok());
  ASSERT_TRUE(Publish(Key("pat:1"), "p").ok());
  ASSERT_TRUE(recorder_.Await([&] { return recorder_.messages_.size() >= 2; }));
  {
    std::lock_guard<std::mutex> lock(recorder_.mu_);
    EXPECT_EQ(recorder_.messages_[0].channel, channel);
    EXPECT_EQ(recorder_.messages_[0].payload, payload);
    EXPECT_EQ(recorder_.messages_[0].pattern, "");
    EXPECT_EQ(recorder_.messages_[1].channel, Key("pat:1"));
    EXPECT_EQ(recorder_.messages_[1].pattern, Key("pat:*"));
  }

  // After Unsubscribe is confirmed nothing more arrives on that channel.
  ASSERT_TRUE(sub->Unsubscribe(channel).ok());
  ASSERT_TRUE(sub->PUnsubscribe(Key("pat:*")).ok());
  const Deadline until = Deadline::After(30s);
  bool gone = false;
  while (!gone && !until.expired()) {
    Result<redis::Reply> n = client().Command({"PUBSUB", "NUMSUB", channel}, Deadline::After(5s));
    ASSERT_TRUE(n.ok());
    gone = n->array().at(1).integer() == 0;
  }
  EXPECT_TRUE(gone);
}

TEST_F(SubscriberTest, ResubscribesAfterServerRestart) {
  auto sub = OpenSubscriber();
  ASSERT_NE(sub, nullptr);
  const std::string channel = Key("inval");
  ASSERT_TRUE(sub->Subscribe(channel).ok());
  ASSERT_TRUE(sub->WaitSubscribed(Deadline::After(30s)).ok());
  ASSERT_TRUE(Publish(channel, "before").ok());
  ASSERT_TRUE(recorder_.Await([&] { return recorder_.messages_.size() == 1; }));

  ASSERT_EQ(RunStackCommand("stop-redis 0"), 0);
  struct Restart {
    ~Restart() { RunStackCommand("start-redis 0"); }
  } restart;
  ASSERT_TRUE(recorder_.Await([&] { return recorder_.disconnects_ == 1; })) << "disconnect not reported";
  ASSERT_EQ(RunStackCommand("start-redis 0"), 0);
  ASSERT_TRUE(recorder_.Await([&] { return recorder_.connects_ == 2; })) << "reconnect not reported";
  ASSERT_TRUE(sub->WaitSubscribed(Deadline::After(30s)).ok());

  ASSERT_TRUE(Publish(channel, "after").ok());
  ASSERT_TRUE(recorder_.Await([&] { return recorder_.messages_.size() == 2; }));
  std::lock_guard<std::mutex> lock(recorder_.mu_);
  EXPECT_EQ(recorder_.messages_[1].payload, "after");
}

TEST_F(SubscriberTest, DestructorReturnsPromptlyWhileIdle) {
  auto sub = OpenSubscriber();
  ASSERT_NE(sub, nullptr);
  ASSERT_TRUE(sub->Subscribe(Key("idle")).ok());
  ASSERT_TRUE(sub->WaitSubscribed(Deadline::After(30s)).ok());
  const auto start = std::chrono::steady_clock::now();
  sub.reset();
  // Woken through the eventfd, not by the 5s health-check poll timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

}  // namespace
}  // namespace lockstep::testing
