#include "http/stats.h"

#include <gtest/gtest.h>

#include <regex>

#include <prometheus/text_serializer.h>
#include <sstream>

namespace shopd::http {
namespace {

// Checks every line of a Prometheus text exposition: comments (# HELP / # TYPE) or a
// sample `name{labels} value`.
void ExpectValidExposition(const std::string& text) {
  const std::regex help(R"(^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  const std::regex type(R"(^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$)");
  const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*",?)*\})? [-+]?([0-9.eE+-]+|Inf|NaN)$)");
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_TRUE(std::regex_match(line, help) || std::regex_match(line, type) || std::regex_match(line, sample))
        << "bad line: " << line;
  }
}

TEST(StatsTest, RecordsHistogramPerRouteAndStatus) {
  RequestStats stats;
  stats.Record(Method::kGet, "/v1/accounts/{id}", 200, std::chrono::milliseconds(3));
  stats.Record(Method::kGet, "/v1/accounts/{id}", 200, std::chrono::milliseconds(30));
  stats.Record(Method::kGet, "/v1/accounts/{id}", 404, std::chrono::seconds(20));
  auto snap = stats.Snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].status, 200);
  EXPECT_EQ(snap[0].count, 2);
  EXPECT_EQ(snap[0].cumulative_buckets[0], 0);                    // <= 1ms
  EXPECT_EQ(snap[0].cumulative_buckets[2], 1);                    // <= 5ms
  EXPECT_EQ(snap[0].cumulative_buckets.back(), 2);                // <= 10s
  EXPECT_EQ(snap[1].cumulative_buckets.back(), 0);                // 20s is only in +Inf
  EXPECT_EQ(snap[1].count, 1);
}

TEST(StatsTest, RendersValidPrometheusText) {
  RequestStats stats;
  stats.Record(Method::kPost, "/v1/transfers", 200, std::chrono::milliseconds(7));
  stats.Record(Method::kOther, "unmatched", 400, std::chrono::microseconds(10));
  StatsSnapshot snap;
  snap.pool = {3, 2, 5, 9};
  snap.routes = stats.Snapshot();
  snap.routes.push_back(RouteStats{"GET", "/weird\"route\\", 200, 0, 0, {}});
  const std::string text = prometheus::TextSerializer().Serialize(MetricFamilies(snap));
  ExpectValidExposition(text);
  EXPECT_NE(text.find("shopd_worker_queue_depth 3\n"), std::string::npos);
  EXPECT_NE(text.find("shopd_worker_shed_total 5\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE shopd_http_request_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find(R"(shopd_http_request_duration_seconds_bucket{method="POST",route="/v1/transfers",status="200",le="+Inf"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(shopd_http_request_duration_seconds_count{method="POST",route="/v1/transfers",status="200"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(route="/weird\"route\\")"), std::string::npos);
  EXPECT_EQ(text.find("shopd_admission_"), std::string::npos);  // Admission off: no families.
  lockstep::resilience::AdmissionStats admission;
  admission.shed_deadline = 4;
  admission.limit = 96;
  snap.pool.admission = admission;
  const std::string with_admission = prometheus::TextSerializer().Serialize(MetricFamilies(snap));
  ExpectValidExposition(with_admission);
  EXPECT_NE(with_admission.find(R"(shopd_admission_shed_total{reason="deadline"} 4)"), std::string::npos);
  EXPECT_NE(with_admission.find("shopd_admission_limit 96\n"), std::string::npos);
}

}  // namespace
}  // namespace shopd::http
