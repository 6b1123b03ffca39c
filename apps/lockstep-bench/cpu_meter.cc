#include "cpu_meter.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace lockstep::bench {

Result<CpuMeter> CpuMeter::Create(const std::map<std::string, int>& pids) {
  std::vector<Probe> probes(1);
  probes[0].label = "client";
  for (const auto& [label, pid] : pids) {
    if (label == "client") return Status::InvalidArgument("--cpu-pid: the label 'client' is this process");
    if (pid <= 0) return Status::InvalidArgument("--cpu-pid ", label, ": bad pid ", pid);
    if (!std::ifstream("/proc/" + std::to_string(pid) + "/stat")) {
      return Status::NotFound("--cpu-pid ", label, "=", pid, ": no such process");
    }
    Probe& p = probes.emplace_back();
    p.label = label;
    p.pid = pid;
  }
  return CpuMeter(std::move(probes));
}

namespace {
std::string ProcDir(int pid) { return pid == 0 ? std::string("/proc/self") : "/proc/" + std::to_string(pid); }

// utime + stime (+ cutime + cstime when `children`) of a /proc stat file, in seconds:
// fields 14-17, in clock ticks. The command name (field 2) is parenthesised and may hold
// spaces: parse after the last ')'.
std::optional<double> StatSeconds(const std::string& path, bool children) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  const size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 > line.size()) return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int field = 3; field <= (children ? 17 : 15) && fields >> f; ++field) {
    if (field >= 14) ticks += std::strtod(f.c_str(), nullptr);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}
}  // namespace

std::map<int, std::pair<std::string, double>> CpuMeter::ReadThreads(const Probe& p) {
  std::map<int, std::pair<std::string, double>> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(ProcDir(p.pid) + "/task", ec)) {
    const std::string tid = entry.path().filename().string();
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (auto s = StatSeconds((entry.path() / "stat").string(), false)) {
      out[std::atoi(tid.c_str())] = {name, *s};
    }
  }
  return out;
}

double CpuMeter::Read(const Probe& p, double fallback) {
  return StatSeconds(ProcDir(p.pid) + "/stat", true).value_or(fallback);
}

void CpuMeter::Start() {
  for (Probe& p : probes_) {
    p.start = p.stop = Read(p, 0);
    p.thread_start = ReadThreads(p);
    p.thread_stop.clear();
  }
  stopped_ = false;
}

void CpuMeter::Stop() {
  if (stopped_) return;
  for (Probe& p : probes_) {
    p.stop = Read(p, p.start);
    p.thread_stop = ReadThreads(p);
  }
  stopped_ = true;
}

std::map<std::string, std::map<std::string, double>> CpuMeter::SecondsByThread() const {
  std::map<std::string, std::map<std::string, double>> out;
  for (const Probe& p : probes_) {
    auto& per = out[p.label];
    for (const auto& [tid, at_stop] : p.thread_stop) {
      auto it = p.thread_start.find(tid);
      per[at_stop.first] += at_stop.second - (it == p.thread_start.end() ? 0.0 : it->second.second);
    }
  }
  return out;
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
