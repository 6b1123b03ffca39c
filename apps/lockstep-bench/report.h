#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common_options.h"
#include "cpu_meter.h"
#include "load_stats.h"
#include "lockstep/base/result.h"

namespace lockstep::bench {

// What a run prints: human lines on stderr, one JSON summary as the last stdout line
// (scripts/bench.sh and tests/e2e read it; keep the fields stable).

// The --cpu-pid meter of a run, started; nullopt (after printing why) on a bad flag.
std::optional<CpuMeter> StartCpuMeter(const CommonOptions& opt);

// Stops `meter` (unless stopped already) and adds "cpu_us_per_request" {label: CPU
// microseconds per request} and "cpu_us_per_request_by_thread" to `j`.
void AddCpu(nlohmann::json& j, CpuMeter& meter, int64_t requests);

// The summary object of a load run: scenario, requests, seconds, throughput, latency
// percentiles in ms, the status counts and the run's connections; then the overload
// figures: target_rps (--rate, 0 = closed loop), offered_rps (achieved send rate),
// completed_rps / shed_rps / rate_limited_rps (business answers = 2xx and 4xx but 429 /
// 503 / 429, per second of the run), other_errors (other 5xx and transport errors), and
// completed_p50/p99_ms, shed_p50/p99_ms (latencies of those answers alone).
nlohmann::json SummaryJson(const char* scenario, const LoadStats::Summary& s, const CommonOptions& opt);

// Answers that count against --max-5xx: 5xx and transport errors (status 0).
int64_t Count5xx(const LoadStats::Summary& s);

// The one-line human summary of SummaryJson `j`, on stderr.
void PrintHuman(const nlohmann::json& j);

// PrintHuman, then `j` as the summary line of a run without invariants; exit code 0.
int PrintUnchecked(const nlohmann::json& j);

// The violations a checker of the tables found, or nullopt after printing that the
// database could not be read (the run then exits 2).
std::optional<std::vector<std::string>> TableViolations(Result<std::vector<std::string>> checked);

// Prints the violations and the summary line (with "invariants" and "violations" added);
// the exit code of a checked run: 0, or 1 when an invariant broke.
int PrintChecked(nlohmann::json j, const std::vector<std::string>& violations);

// PrintChecked, then --max-5xx: 1 if more 5xx/transport errors than allowed.
int FinishRun(const CommonOptions& opt, nlohmann::json j, const std::vector<std::string>& violations,
              const LoadStats::Summary& summary);

}  // namespace lockstep::bench
