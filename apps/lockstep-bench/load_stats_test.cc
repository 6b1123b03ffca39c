#include "load_stats.h"

#include <gtest/gtest.h>

#include <chrono>

namespace lockstep::bench {
namespace {

TEST(ClassifyAnswer, BusinessAnswersShedRateLimitedAndTheRest) {
  for (int status : {200, 201, 400, 404, 409}) EXPECT_EQ(ClassifyAnswer(status), AnswerClass::kCompleted) << status;
  EXPECT_EQ(ClassifyAnswer(503), AnswerClass::kShed);
  EXPECT_EQ(ClassifyAnswer(429), AnswerClass::kRateLimited);
  for (int status : {0, 500, 502, 504, 101}) EXPECT_EQ(ClassifyAnswer(status), AnswerClass::kOther) << status;
}

TEST(Percentile, IndexesTheSortedSamples) {
  std::vector<int64_t> v;
  EXPECT_EQ(Percentile(v, 0.99), 0);
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(Percentile(v, 0.50), 51);
  EXPECT_EQ(Percentile(v, 0.99), 100);
  EXPECT_EQ(Percentile(v, 1.0), 100);
  EXPECT_EQ(Percentile({7}, 0.99), 7);
}

TEST(LoadStats, SummaryCountsRatesAndLatenciesPerAnswerClass) {
  LoadStats stats;
  LoadStats::Shard a, b;
  // 6 business answers (1..6 ms), 3 shed (100..300 µs), 1 rate limited, 2 others.
  for (int ms = 1; ms <= 3; ++ms) a.Add(200, ms * 1000);
  b.Add(409, 4000);
  b.Add(404, 5000);
  b.Add(201, 6000);
  for (int us = 100; us <= 300; us += 100) a.Add(503, us);
  b.Add(429, 50);
  b.Add(504, 1'000'000);
  a.Add(0, 2'000'000);
  stats.Merge(std::move(a));
  stats.Merge(std::move(b));
  const LoadStats::Summary s = stats.Summarize(std::chrono::seconds(2));
  EXPECT_EQ(s.requests, 12);
  EXPECT_DOUBLE_EQ(s.throughput, 6);
  EXPECT_EQ(s.completed, 6);
  EXPECT_EQ(s.shed, 3);
  EXPECT_EQ(s.rate_limited, 1);
  EXPECT_EQ(s.other, 2);
  EXPECT_DOUBLE_EQ(s.completed_rps, 3);
  EXPECT_DOUBLE_EQ(s.shed_rps, 1.5);
  EXPECT_DOUBLE_EQ(s.rate_limited_rps, 0.5);
  EXPECT_EQ(s.completed_p50_us, 4000);
  EXPECT_EQ(s.completed_p99_us, 6000);
  EXPECT_EQ(s.shed_p50_us, 200);
  EXPECT_EQ(s.shed_p99_us, 300);
  EXPECT_EQ(s.max_us, 2'000'000);
  EXPECT_EQ(s.statuses.at(200), 3);
  EXPECT_EQ(s.statuses.at(0), 1);
  // A closed loop offers what it sent; RunLoad overwrites both for an open loop.
  EXPECT_DOUBLE_EQ(s.offered_rps, s.throughput);
  EXPECT_EQ(s.target_rps, 0);
}

}  // namespace
}  // namespace lockstep::bench
