// lockstep-fault-proxy: a FaultProxy (tests/support/fault_proxy.h) in its own process, driven
// through its control port, for tests whose clients (e.g. a shopd child) must reach a
// server through faults set from another process.
//   lockstep-fault-proxy --upstream HOST:PORT [--listen PORT] [--control PORT]
// Both ports default to 0 (ephemeral). Once both listen, prints one line to stdout:
//   listen=<port> control=<port>
// then serves until SIGTERM/SIGINT, or until its parent process exits. Exit code 0 after a
// signal, 2 on bad arguments or a failed start.

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include "support/fault_proxy.h"

namespace {

volatile sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

int Usage(const std::string& why) {
  std::fprintf(stderr,
               "lockstep-fault-proxy: %s\n"
               "usage: lockstep-fault-proxy --upstream HOST:PORT [--listen PORT] [--control PORT]\n",
               why.c_str());
  return 2;
}

bool ParsePort(std::string_view text, int* port) {
  if (text.empty() || text.size() > 5 || text.find_first_not_of("0123456789") != std::string_view::npos) return false;
  *port = std::stoi(std::string(text));
  return *port <= 65535;
}

}  // namespace

int main(int argc, char** argv) {
  lockstep::testing::FaultProxyOptions options;
  int control_port = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i + 1 >= argc) return Usage("missing value after " + std::string(arg));
    const std::string_view value = argv[++i];
    if (arg == "--upstream") {
      const size_t colon = value.rfind(':');
      if (colon == std::string_view::npos || !ParsePort(value.substr(colon + 1), &options.upstream_port)) {
        return Usage("bad --upstream '" + std::string(value) + "' (HOST:PORT)");
      }
      options.upstream_host = std::string(value.substr(0, colon));
    } else if (arg == "--listen") {
      if (!ParsePort(value, &options.listen_port)) return Usage("bad --listen '" + std::string(value) + "'");
    } else if (arg == "--control") {
      if (!ParsePort(value, &control_port)) return Usage("bad --control '" + std::string(value) + "'");
    } else {
      return Usage("unknown argument " + std::string(arg));
    }
  }
  if (options.upstream_port == 0) return Usage("--upstream is required");

  // A test that dies must not leave its proxy behind.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);

  auto proxy = lockstep::testing::FaultProxy::Start(options);
  if (!proxy.ok()) return Usage(proxy.status().ToString());
  auto control = lockstep::testing::ControlServer::Start(**proxy, control_port);
  if (!control.ok()) return Usage(control.status().ToString());
  std::printf("listen=%d control=%d\n", (*proxy)->port(), (*control)->port());
  std::fflush(stdout);
  while (g_stop == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  control->reset();
  proxy->reset();
  return 0;
}
