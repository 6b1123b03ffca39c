#include "cpu_meter.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace lockstep::bench {

Result<CpuMeter> CpuMeter::Create(const std::map<std::string, int>& pids) {
  std::vector<Probe> probes{{"client", 0}};
  for (const auto& [label, pid] : pids) {
    if (label == "client") return Status::InvalidArgument("--cpu-pid: the label 'client' is this process");
    if (pid <= 0) return Status::InvalidArgument("--cpu-pid ", label, ": bad pid ", pid);
    if (!std::ifstream("/proc/" + std::to_string(pid) + "/stat")) {
      return Status::NotFound("--cpu-pid ", label, "=", pid, ": no such process");
    }
    probes.push_back({label, pid});
  }
  return CpuMeter(std::move(probes));
}

// Fields 14-17 of /proc/<pid>/stat: utime, stime, cutime, cstime in clock ticks. The
// command name (field 2) is parenthesised and may hold spaces: parse after the last ')'.
double CpuMeter::Read(const Probe& p, double fallback) {
  std::ifstream in(p.pid == 0 ? std::string("/proc/self/stat") : "/proc/" + std::to_string(p.pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return fallback;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return fallback;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int field = 3; field <= 17 && fields >> f; ++field) {
    if (field >= 14) ticks += std::strtod(f.c_str(), nullptr);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

void CpuMeter::Start() {
  for (Probe& p : probes_) p.start = p.stop = Read(p, 0);
  stopped_ = false;
}

void CpuMeter::Stop() {
  if (stopped_) return;
  for (Probe& p : probes_) p.stop = Read(p, p.start);
  stopped_ = true;
}

std::map<std::string, double> CpuMeter::Seconds() const {
  std::map<std::string, double> out;
  for (const Probe& p : probes_) out[p.label] = p.stop - p.start;
  return out;
}

Result<std::pair<std::string, int>> ParseCpuPid(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) return Status::InvalidArgument("--cpu-pid wants label=pid, got '", text, "'");
  const std::string digits = text.substr(eq + 1);
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("--cpu-pid wants label=pid, got '", text, "'");
  }
  return std::make_pair(text.substr(0, eq), std::atoi(digits.c_str()));
}

}  // namespace lockstep::bench
