#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace lockstep::e2e {

// Path of the built shopd / lockstep-bench binaries (compile definitions from CMake).
const char* ShopdBinary();
const char* BenchBinary();

// A per-test scratch directory "<tmp>/lockstep_e2e/<UniqueTestName()>", created on first use.
// Thread-compatible.
std::string TestTempDir();

// Reads a whole file ("" if missing).
std::string ReadFile(const std::string& path);
// The last `lines` lines of `text`.
std::string Tail(const std::string& text, size_t lines);

// Settings for one shopd process of the end-to-end tests.
struct ShopdOptions {
  int mariadb_port = 0;
  std::string database;   // MariaDB database shopd works in (migrated on start).
  int redis_port = 0;
  std::string log_path;   // stdout + stderr of the process.
  std::vector<std::string> extra_args;
  // "NAME=value" added to the environment (e.g. LD_PRELOAD of libfaketime).
  std::vector<std::string> extra_env;
};

// RAII owner of one real shopd process: fork/exec of the built binary with
// `--listen 127.0.0.1:0 --mysql mysql://lockstep@127.0.0.1:<port>/<db> --redis
// redis://127.0.0.1:<port>` and SHOPD_MYSQL_PASSWORD=lockstep in its environment, its output
// in `log_path`. The destructor SIGKILLs a process that is still running and, if the current
// test has failed, prints the log tail. Not thread-safe.
class ShopdProcess {
 public:
  explicit ShopdProcess(ShopdOptions options);
  ~ShopdProcess();
  ShopdProcess(const ShopdProcess&) = delete;
  ShopdProcess& operator=(const ShopdProcess&) = delete;

  // Forks and execs shopd. Returns "" on success, else what went wrong.
  std::string Launch();
  // Waits (polling the log, never a fixed sleep) until the log line "shopd listening on
  // 127.0.0.1:<port>" appears, then records the port. "" on success; an error naming the
  // reason (timed out, exited early with the log tail) otherwise.
  std::string AwaitListening(std::chrono::seconds timeout = std::chrono::seconds(120));

  // SIGTERM, then waits up to `timeout`. Returns the exit code (0..255), 128 + signal if
  // killed by a signal, or -1 if it did not exit in time (it is then SIGKILLed).
  int Stop(std::chrono::seconds timeout = std::chrono::seconds(60));

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& log_path() const { return options_.log_path; }
  std::string Log() const { return ReadFile(options_.log_path); }

 private:
  // Non-blocking reap; true once the process has exited (status in *exit_code).
  bool Reap(int* exit_code);

  ShopdOptions options_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Result of RunProcess.
struct ProcessResult {
  int exit_code = -1;  // 0..255, 128 + signal, -1 = timed out (killed).
  std::string out;     // stdout.
  std::string err;     // stderr.
  std::string LastLine() const;  // Last non-empty stdout line.
};

// Runs `argv` (argv[0] = path) to completion with stdin from `stdin_path` (or /dev/null),
// stdout/stderr captured through files under TestTempDir() named after `name`. Kills it
// after `timeout`.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& name,
                         std::chrono::seconds timeout, const std::string& stdin_path = "");

}  // namespace lockstep::e2e
