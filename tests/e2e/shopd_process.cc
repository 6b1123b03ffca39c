#include "e2e/shopd_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#include "support/test_env.h"

extern char** environ;

namespace lockstep::e2e {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(20);

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// The current environment without SHOPD_* (a developer's shell must not leak into the
// test), plus `extra`.
std::vector<std::string> ChildEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::string_view(*e).substr(0, 6) != "SHOPD_") env.emplace_back(*e);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// fork + exec with stdin/stdout/stderr redirected to the given files. Everything the child
// needs is prepared before fork (the test process has threads: only async-signal-safe
// calls between fork and exec). The child dies with the test process (PDEATHSIG).
pid_t Spawn(std::vector<std::string> argv, std::vector<std::string> env, const std::string& stdin_path,
            const std::string& stdout_path, const std::string& stderr_path, std::string* error) {
  const int in = ::open(stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
  const int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int err = stderr_path == stdout_path
                      ? out
                      : ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  auto close_all = [&] {
    if (in >= 0) ::close(in);
    if (out >= 0) ::close(out);
    if (err >= 0 && err != out) ::close(err);
  };
  if (in < 0 || out < 0 || err < 0) {
    *error = "cannot open the redirection files for " + argv[0] + ": " + std::strerror(errno);
    close_all();
    return -1;
  }
  std::vector<char*> cargv = CStrings(argv);
  std::vector<char*> cenv = CStrings(env);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    // A clean signal state: shopd blocks SIGTERM itself and sigwaits for it.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(cargv[0], cargv.data(), cenv.data());
    static const char kMsg[] = "execve failed\n";
    [[maybe_unused]] const ssize_t ignored = ::write(2, kMsg, sizeof(kMsg) - 1);
    ::_exit(127);
  }
  close_all();
  if (pid < 0) *error = std::string("fork: ") + std::strerror(errno);
  return pid;
}

}  // namespace

const char* ShopdBinary() { return SHOPD_BINARY; }
const char* BenchBinary() { return LOCKSTEP_BENCH_BINARY; }

std::string TestTempDir() {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "lockstep_e2e" / lockstep::testing::UniqueTestName();
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (size_t n = 0; n < lines && pos > 0; ++n) {
    const size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return text.substr(pos == 0 ? 0 : pos + 1);
}

ShopdProcess::ShopdProcess(ShopdOptions options) : options_(std::move(options)) {}

ShopdProcess::~ShopdProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  if (::testing::Test::HasFailure()) {
    std::cerr << "---- last lines of " << options_.log_path << " (shopd port " << port_ << ") ----\n"
              << Tail(Log(), 40) << "\n---- end of shopd log ----\n";
  }
}

std::string ShopdProcess::Launch() {
  if (pid_ > 0) return "already running";
  std::vector<std::string> argv = {
      ShopdBinary(),
      "--listen",
      "127.0.0.1:0",
      "--mysql",
      "mysql://lockstep@127.0.0.1:" + std::to_string(options_.mariadb_port) + "/" + options_.database,
      "--redis",
      "redis://127.0.0.1:" + std::to_string(options_.redis_port),
  };
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::string error;
  std::vector<std::string> extra_env = {"SHOPD_MYSQL_PASSWORD=lockstep"};
  extra_env.insert(extra_env.end(), options_.extra_env.begin(), options_.extra_env.end());
  pid_ = Spawn(std::move(argv), ChildEnvironment(extra_env), "", options_.log_path,
               options_.log_path, &error);
  return pid_ > 0 ? "" : error;
}

bool ShopdProcess::Reap(int* exit_code) {
  if (pid_ <= 0) return true;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return false;
  *exit_code = r == pid_ ? DecodeWaitStatus(status) : -1;
  pid_ = -1;
  return true;
}

std::string ShopdProcess::AwaitListening(std::chrono::seconds timeout) {
  static const std::regex kListening(R"(shopd listening on 127\.0\.0\.1:([0-9]+))");
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const std::string log = Log();
    std::smatch m;
    if (std::regex_search(log, m, kListening)) {
      port_ = std::stoi(m[1].str());
      return "";
    }
    int code = 0;
    if (Reap(&code)) {
      return "shopd exited with code " + std::to_string(code) + " before listening; log tail:\n" + Tail(Log(), 30);
    }
    if (Clock::now() >= deadline) {
      return "shopd did not log its listening address within " + std::to_string(timeout.count()) +
             "s; log tail:\n" + Tail(log, 30);
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

int ShopdProcess::Stop(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + timeout;
  int code = -1;
  while (!Reap(&code)) {
    if (Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return code;
}

std::string ProcessResult::LastLine() const {
  std::string text = out;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const size_t nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& name, std::chrono::seconds timeout,
                         const std::string& stdin_path) {
  ProcessResult result;
  const std::string base = TestTempDir() + "/" + name;
  const std::string out_path = base + ".stdout", err_path = base + ".stderr";
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  std::string error;
  const pid_t pid = Spawn(argv, ChildEnvironment({}), stdin_path, out_path, err_path, &error);
  if (pid <= 0) {
    result.err = error;
    return result;
  }
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      result.exit_code = DecodeWaitStatus(status);
      break;
    }
    if (r < 0 || Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      result.exit_code = -1;
      break;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

}  // namespace lockstep::e2e
