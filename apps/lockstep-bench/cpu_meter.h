#pragma once

#include <map>
#include <string>
#include <vector>

#include "lockstep/base/result.h"

namespace lockstep::bench {

// CPU time (user + system, reaped children included) spent by this process ("client") and
// by named other processes between Start() and Stop(), read from /proc/<pid>/stat. Used
// to report where the 2 cores went per request: the load generator, shopd, Redis,
// MariaDB. Not thread-safe: one owner.
class CpuMeter {
 public:
  // `pids` maps a label to a pid; "client" is reserved for this process.
  static Result<CpuMeter> Create(const std::map<std::string, int>& pids);

  void Start();
  // Later calls until the next Start() keep the first reading.
  void Stop();
  // CPU seconds per label between Start and Stop (a process that vanished counts what was
  // read before it did).
  std::map<std::string, double> Seconds() const;
  // The same per label and thread name (/proc/<pid>/task/*/comm; threads of one name
  // summed), for the threads alive at Stop. Threads shopd and lockstep name (e.g.
  // "shopd-io", "reserve-pipe.w") show where its share goes.
  std::map<std::string, std::map<std::string, double>> SecondsByThread() const;

 private:
  struct Probe {
    std::string label;
    int pid = 0;  // 0 = this process.
    double start = 0, stop = 0;
    std::map<int, std::pair<std::string, double>> thread_start;  // tid -> (name, CPU s).
    std::map<int, std::pair<std::string, double>> thread_stop;
  };
  explicit CpuMeter(std::vector<Probe> probes) : probes_(std::move(probes)) {}
  static double Read(const Probe& p, double fallback);
  static std::map<int, std::pair<std::string, double>> ReadThreads(const Probe& p);

  std::vector<Probe> probes_;
  bool stopped_ = false;
};

// Parses "label=pid". kInvalidArgument otherwise.
Result<std::pair<std::string, int>> ParseCpuPid(const std::string& text);

}  // namespace lockstep::bench
