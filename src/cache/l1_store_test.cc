#include "cache/l1_store.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace lockstep::cache::internal {
namespace {

using namespace std::chrono_literals;

constexpr Clock::duration kTtl = 10s;
constexpr Clock::duration kMaxAge = 2s;

Versioned<std::string> V(std::string s, int64_t version) { return Versioned<std::string>::Of(std::move(s), version); }

TEST(L1Store, FillThenGet) {
  ManualClock clock;
  L1Store l1(100, 1 << 20, 4);
  const auto t = clock.Now();
  EXPECT_EQ(l1.Fill("k", V("a", 1), t, t, kTtl, kMaxAge, true), FillOutcome::kStored);
  auto hit = l1.Get("k", t);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(*hit->value, "a");
  EXPECT_EQ(hit->version, 1);
  EXPECT_FALSE(l1.Get("k", t + kTtl).has_value());  // Expired.
}

TEST(L1Store, NeverReplacesANewerVersion) {
  ManualClock clock;
  L1Store l1(100, 1 << 20, 1);
  const auto t = clock.Now();
  ASSERT_EQ(l1.Fill("k", V("new", 3), t, t, kTtl, kMaxAge, true), FillOutcome::kStored);
  EXPECT_EQ(l1.Fill("k", V("old", 2), t, t, kTtl, kMaxAge, true), FillOutcome::kStale);
  EXPECT_EQ(l1.Fill("k", V("new", 3), t, t, kTtl, kMaxAge, true), FillOutcome::kSame);
  EXPECT_EQ(*l1.Get("k", t)->value, "new");
}

TEST(L1Store, TombstoneRefusesFillsThatStartedBeforeIt) {
  ManualClock clock;
  L1Store l1(100, 1 << 20, 1);
  const auto load_start = clock.Now();
  clock.Advance(1ms);
  l1.Tombstone("k", 2, clock.Now(), kMaxAge, true);
  clock.Advance(1ms);
  EXPECT_EQ(l1.Fill("k", V("old", 1), load_start, clock.Now(), kTtl, kMaxAge, true), FillOutcome::kStale);
  EXPECT_FALSE(l1.Get("k", clock.Now()).has_value());
  // A load that started after the tombstone may fill even an older version (the row may
  // have been rolled back by a later write); one of the new version always may.
  EXPECT_EQ(l1.Fill("k", V("new", 2), load_start, clock.Now(), kTtl, kMaxAge, true), FillOutcome::kStored);
}

TEST(L1Store, UnknownVersionTombstoneUsesTime) {
  ManualClock clock;
  L1Store l1(100, 1 << 20, 1);
  const auto before = clock.Now();
  clock.Advance(1ms);
  l1.Tombstone("k", kMaxVersion, clock.Now(), kMaxAge, true);
  clock.Advance(1ms);
  EXPECT_EQ(l1.Fill("k", V("x", 7), before, clock.Now(), kTtl, kMaxAge, true), FillOutcome::kStale);
  EXPECT_EQ(l1.Fill("k", V("y", 7), clock.Now(), clock.Now(), kTtl, kMaxAge, true), FillOutcome::kStored);
}

TEST(L1Store, RefusesLoadsOlderThanMaxAge) {
  ManualClock clock;
  L1Store l1(100, 1 << 20, 1);
  const auto start = clock.Now();
  clock.Advance(kMaxAge + 1ms);
  EXPECT_EQ(l1.Fill("k", V("a", 1), start, clock.Now(), kTtl, kMaxAge, true), FillOutcome::kTooOld);
}

TEST(L1Store, TombstoneKeepsAValueAsNewAsTheChange) {
  ManualClock clock;
  L1Store l1(100, 1 << 20, 1);
  const auto t = clock.Now();
  ASSERT_EQ(l1.Fill("k", V("v2", 2), t, t, kTtl, kMaxAge, true), FillOutcome::kStored);
  l1.Tombstone("k", 2, t, kMaxAge, true);
  EXPECT_TRUE(l1.Get("k", t).has_value());
  l1.Tombstone("k", 3, t, kMaxAge, true);
  EXPECT_FALSE(l1.Get("k", t).has_value());
}

TEST(L1Store, BoundedByEntriesAndBytes) {
  ManualClock clock;
  L1Store l1(10, 1 << 20, 1);
  const auto t = clock.Now();
  for (int i = 0; i < 50; ++i) l1.Fill("k" + std::to_string(i), V("v", 1), t, t, kTtl, kMaxAge, true);
  EXPECT_EQ(l1.entries(), 10u);
  EXPECT_TRUE(l1.Get("k49", t).has_value());
  EXPECT_FALSE(l1.Get("k0", t).has_value());
  L1Store small(1000, 2000, 1);
  for (int i = 0; i < 50; ++i) small.Fill("k" + std::to_string(i), V(std::string(100, 'x'), 1), t, t, kTtl, kMaxAge, true);
  EXPECT_LE(small.bytes(), 2000u);
  EXPECT_GT(small.entries(), 0u);
}

TEST(L1Store, EvictedTombstoneStillRefusesOlderLoads) {
  ManualClock clock;
  L1Store l1(1, 1 << 20, 1);
  const auto load_start = clock.Now();
  clock.Advance(1ms);
  l1.Tombstone("k", 2, clock.Now(), kMaxAge, true);
  clock.Advance(1ms);
  l1.Fill("other", V("o", 1), clock.Now(), clock.Now(), kTtl, kMaxAge, true);  // Evicts the tombstone.
  EXPECT_EQ(l1.Fill("k", V("old", 1), load_start, clock.Now(), kTtl, kMaxAge, true), FillOutcome::kStale);
}

TEST(L1Store, ClearRefusesLoadsFromBefore) {
  ManualClock clock;
  L1Store l1(100, 1 << 20, 2);
  const auto start = clock.Now();
  l1.Fill("a", V("1", 1), start, start, kTtl, kMaxAge, true);
  clock.Advance(1ms);
  l1.Clear(clock.Now());
  EXPECT_EQ(l1.entries(), 0u);
  EXPECT_EQ(l1.Fill("a", V("1", 1), start, clock.Now(), kTtl, kMaxAge, true), FillOutcome::kStale);
}

TEST(L1Store, UnversionedModeOverwritesAndErases) {
  ManualClock clock;
  L1Store l1(100, 1 << 20, 1);
  const auto t = clock.Now();
  l1.Fill("k", V("new", 3), t, t, kTtl, kMaxAge, false);
  EXPECT_EQ(l1.Fill("k", V("old", 2), t, t, kTtl, kMaxAge, false), FillOutcome::kStored);
  l1.Tombstone("k", 4, t, kMaxAge, false);
  EXPECT_EQ(l1.entries(), 0u);
}

TEST(L1Store, ConcurrentFillsGetsAndTombstones) {
  L1Store l1(64, 1 << 20, 4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        const std::string key = "k" + std::to_string(i % 100);
        const auto now = Clock::Real().Now();
        switch ((i + t) % 3) {
          case 0: l1.Fill(key, V("v", i), now, now, kTtl, kMaxAge, true); break;
          case 1: (void)l1.Get(key, now); break;
          default: l1.Tombstone(key, i, now, kMaxAge, true); break;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(l1.entries(), 64u);
}

}  // namespace
}  // namespace lockstep::cache::internal
