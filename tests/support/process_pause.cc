#include "support/process_pause.h"

#include <dirent.h>

#include <csignal>
#include <fstream>
#include <string>
#include <thread>

namespace lockstep::testing {
namespace {

// The state letter of /proc/<pid>/task/<tid>/stat: the field after the ")" closing comm.
char ThreadState(const std::string& stat_path) {
  std::ifstream in(stat_path);
  std::string line;
  if (!std::getline(in, line)) return '?';
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return '?';
  return line[close + 2];
}

}  // namespace

bool AllThreadsStopped(pid_t pid) {
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(task_dir.c_str());
  if (dir == nullptr) return false;
  bool all = true;
  int threads = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    const char state = ThreadState(task_dir + "/" + name + "/stat");
    if (state == '?') continue;  // Exited between readdir and open.
    ++threads;
    if (state != 'T' && state != 't') all = false;
  }
  ::closedir(dir);
  return all && threads > 0;
}

bool StopProcessAndAwait(pid_t pid, std::chrono::milliseconds timeout) {
  if (::kill(pid, SIGSTOP) != 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!AllThreadsStopped(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace lockstep::testing
