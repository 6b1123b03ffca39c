#include "report.h"

#include <cstdio>
#include <iostream>
#include <map>
#include <utility>

namespace lockstep::bench {

std::optional<CpuMeter> StartCpuMeter(const CommonOptions& opt) {
  std::map<std::string, int> pids;
  for (const auto& text : opt.cpu_pids) {
    auto parsed = ParseCpuPid(text);
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s\n", parsed.status().ToString().c_str());
      return std::nullopt;
    }
    pids[parsed->first] = parsed->second;
  }
  auto meter = CpuMeter::Create(pids);
  if (!meter.ok()) {
    std::fprintf(stderr, "%s\n", meter.status().ToString().c_str());
    return std::nullopt;
  }
  meter->Start();
  return std::move(meter).value();
}

void AddCpu(nlohmann::json& j, CpuMeter& meter, int64_t requests) {
  meter.Stop();
  nlohmann::json per = nlohmann::json::object();
  for (const auto& [label, seconds] : meter.Seconds()) {
    per[label] = requests > 0 ? seconds * 1e6 / static_cast<double>(requests) : 0.0;
  }
  j["cpu_us_per_request"] = per;
  nlohmann::json by_thread = nlohmann::json::object();
  for (const auto& [label, threads] : meter.SecondsByThread()) {
    if (label == "client") continue;
    for (const auto& [name, seconds] : threads) {
      if (seconds > 0) by_thread[label][name] = requests > 0 ? seconds * 1e6 / static_cast<double>(requests) : 0.0;
    }
  }
  j["cpu_us_per_request_by_thread"] = by_thread;
}

nlohmann::json SummaryJson(const char* scenario, const LoadStats::Summary& s, const CommonOptions& opt) {
  nlohmann::json statuses = nlohmann::json::object();
  for (const auto& [status, count] : s.statuses) statuses[std::to_string(status)] = count;
  return {{"scenario", scenario},
          {"requests", s.requests},
          {"seconds", s.seconds},
          {"throughput", s.throughput},
          {"p50_ms", s.p50_us / 1000.0},
          {"p95_ms", s.p95_us / 1000.0},
          {"p99_ms", s.p99_us / 1000.0},
          {"max_ms", s.max_us / 1000.0},
          {"statuses", statuses},
          {"connections", opt.connections},
          {"target_rps", s.target_rps},
          {"offered_rps", s.offered_rps},
          {"completed_rps", s.completed_rps},
          {"shed_rps", s.shed_rps},
          {"rate_limited_rps", s.rate_limited_rps},
          {"other_errors", s.other},
          {"completed_p50_ms", s.completed_p50_us / 1000.0},
          {"completed_p99_ms", s.completed_p99_us / 1000.0},
          {"shed_p50_ms", s.shed_p50_us / 1000.0},
          {"shed_p99_ms", s.shed_p99_us / 1000.0}};
}

int64_t Count5xx(const LoadStats::Summary& s) {
  int64_t n = 0;
  for (const auto& [status, count] : s.statuses) {
    if (status >= 500 || status == 0) n += count;
  }
  return n;
}

void PrintHuman(const nlohmann::json& j) {
  std::fprintf(stderr, "%s: %lld requests in %.2fs = %.0f/s; p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms; statuses %s\n",
               j["scenario"].get<std::string>().c_str(), static_cast<long long>(j["requests"].get<int64_t>()),
               j["seconds"].get<double>(), j["throughput"].get<double>(), j["p50_ms"].get<double>(),
               j["p95_ms"].get<double>(), j["p99_ms"].get<double>(), j["max_ms"].get<double>(),
               j["statuses"].dump().c_str());
}

int PrintUnchecked(const nlohmann::json& j) {
  PrintHuman(j);
  std::cout << j.dump() << std::endl;
  return 0;
}

std::optional<std::vector<std::string>> TableViolations(Result<std::vector<std::string>> checked) {
  if (!checked.ok()) {
    std::fprintf(stderr, "verify: cannot read the database: %s\n", checked.status().ToString().c_str());
    return std::nullopt;
  }
  return std::move(checked).value();
}

int PrintChecked(nlohmann::json j, const std::vector<std::string>& violations) {
  j["invariants"] = violations.empty() ? "ok" : "violated";
  j["violations"] = violations;
  for (const auto& v : violations) std::fprintf(stderr, "VIOLATION: %s\n", v.c_str());
  std::cout << j.dump() << std::endl;
  return violations.empty() ? 0 : 1;
}

int FinishRun(const CommonOptions& opt, nlohmann::json j, const std::vector<std::string>& violations,
              const LoadStats::Summary& summary) {
  const int rc = PrintChecked(std::move(j), violations);
  if (rc != 0) return rc;
  if (opt.max_5xx >= 0 && Count5xx(summary) > opt.max_5xx) {
    std::fprintf(stderr, "lockstep-bench: %lld 5xx/transport errors > --max-5xx %lld\n",
                 static_cast<long long>(Count5xx(summary)), static_cast<long long>(opt.max_5xx));
    return 1;
  }
  return 0;
}

}  // namespace lockstep::bench
