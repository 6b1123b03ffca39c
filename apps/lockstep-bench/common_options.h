#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lockstep::bench {

// The flags every scenario shares (main.cc's AddCommon). Value type.
struct CommonOptions {
  std::vector<std::string> urls{"http://127.0.0.1:8080"};
  std::string mysql = "mysql://lockstep:lockstep@127.0.0.1:13306/shop";
  int connections = 64;
  int64_t requests = 20'000;
  double duration_s = 0;  // > 0: run for this long instead of a fixed count.
  double rate = 0;        // > 0: open loop, requests offered per second (RunLoad); 0 = closed loop.
  int timeout_ms = 10'000;
  uint64_t seed = 0;
  int64_t max_5xx = -1;  // >= 0: exit 1 if more 5xx answers than this.
  std::vector<std::string> cpu_pids;  // "label=pid": report their CPU time per request.
};

}  // namespace lockstep::bench
