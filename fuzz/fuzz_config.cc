// Fuzz target: shopd's configuration loader on an arbitrary TOML file (written to a
// private temporary file, named with --config) and an arbitrary --rate-limit spec: a
// Config or a kInvalidArgument naming the source, never a crash or another error.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/rate_limit_spec.h"

namespace {

const std::string& ConfigPath() {
  static const std::string path = [] {
    char name[] = "/tmp/lockstep-fuzz-config-XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd < 0) std::abort();
    ::close(fd);
    return std::string(name);
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  {
    std::FILE* f = std::fopen(ConfigPath().c_str(), "wb");
    if (f == nullptr) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
  }
  const shopd::config::EnvLookup no_env = [](const std::string&) { return std::optional<std::string>(); };
  lockstep::Result<shopd::config::ConfigLoad> loaded = shopd::config::LoadConfig({"--config", ConfigPath()}, no_env);
  if (!loaded.ok() && loaded.status().code() != lockstep::StatusCode::kInvalidArgument) std::abort();
  if (loaded.ok()) (void)loaded->config.Redacted();

  lockstep::Result<shopd::config::RateLimitSpec> spec = shopd::config::ParseRateLimit(text, "--rate-limit");
  if (!spec.ok() && spec.status().code() != lockstep::StatusCode::kInvalidArgument) std::abort();
  lockstep::Result<shopd::config::ListenAddress> listen = shopd::config::ParseListenAddress(text);
  if (!listen.ok() && listen.status().code() != lockstep::StatusCode::kInvalidArgument) std::abort();
  return 0;
}
