#include "lockstep/base/thread_name.h"

#include <pthread.h>

namespace lockstep {

void SetCurrentThreadName(std::string_view name) {
  const std::string cut(name.substr(0, 15));  // The kernel's limit: 16 bytes with the NUL.
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

std::string CurrentThreadName() {
  char buf[16] = {};
  if (pthread_getname_np(pthread_self(), buf, sizeof(buf)) != 0) return "";
  return buf;
}

}  // namespace lockstep
