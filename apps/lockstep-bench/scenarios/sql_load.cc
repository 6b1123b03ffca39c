#include "scenarios/sql_load.h"

#include <cstdio>
#include <vector>

#include "load_runner.h"
#include "report.h"
#include "targets.h"

namespace lockstep::bench {

std::unique_ptr<sql::Pool> OpenSqlLoadPool(const CommonOptions& opt) {
  auto pool = OpenPool(opt.mysql, opt.connections);
  if (!pool.ok()) {
    std::fprintf(stderr, "lockstep-bench: cannot open --mysql: %s\n", pool.status().ToString().c_str());
    return nullptr;
  }
  return std::move(pool).value();
}

std::optional<nlohmann::json> RunSqlLoad(const CommonOptions& opt, const char* name,
                                         const std::function<int(int64_t request_index)>& body) {
  const std::vector<Endpoint> none{{"", 0}};  // Each thread's http_client::Client stays unused.
  std::optional<CpuMeter> cpu = StartCpuMeter(opt);
  if (!cpu) return std::nullopt;
  auto summary = RunLoad(opt, none, name, [&](int, int64_t i, http_client::Client&) { return body(i); });
  nlohmann::json j = SummaryJson(name, summary, opt);
  AddCpu(j, *cpu, summary.requests);
  return j;
}

}  // namespace lockstep::bench
