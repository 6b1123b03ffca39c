#include "scenarios/http_noop.h"

#include <chrono>
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "http_client/client.h"
#include "load_runner.h"
#include "report.h"
#include "targets.h"

namespace lockstep::bench {

int RunHttpNoop(const CommonOptions& opt, const std::string& path) {
  auto endpoints = Endpoints(opt.urls);
  if (!endpoints.ok()) {
    std::fprintf(stderr, "lockstep-bench: %s\n", endpoints.status().ToString().c_str());
    return 2;
  }
  const std::string headers = RequestHeaders(opt.timeout_ms);
  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) return 2;
  auto summary = RunLoad(opt, *endpoints, "http-noop", [&](int, int64_t, http_client::Client& client) {
    auto r = client.Send("GET", path, "", Deadline::After(std::chrono::milliseconds(opt.timeout_ms)), headers);
    return r.ok() ? r->status : 0;
  });
  nlohmann::json j = SummaryJson("http-noop", summary, opt);
  j["path"] = path;
  AddCpu(j, *cpu, summary.requests);
  return PrintUnchecked(j);
}

}  // namespace lockstep::bench
