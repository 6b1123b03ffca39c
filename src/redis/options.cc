#include "lockstep/redis/options.h"

#include <sstream>

namespace lockstep::redis {

std::string RedisOptions::ToString() const {
  std::ostringstream out;
  out << "redis://";
  if (!user.empty() || !password.empty()) {
    out << user;
    if (!password.empty()) out << ":***";
    out << "@";
  }
  if (host.find(':') != std::string::npos) {
    out << "[" << host << "]";
  } else {
    out << host;
  }
  out << ":" << port << "/" << db << " pool=" << pool_size << " connect_timeout=" << connect_timeout.count()
      << "ms command_timeout=" << command_timeout.count() << "ms";
  return std::move(out).str();
}

}  // namespace lockstep::redis
