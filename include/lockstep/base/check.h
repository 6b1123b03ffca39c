#pragma once

#include <string>

#include "lockstep/base/status.h"

namespace lockstep::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* condition, const std::string& message);
}  // namespace lockstep::internal

// Aborts the process with a message when `cond` is false. For programmer errors (broken
// contracts) only, never for runtime failures: those are Status values. Always on.
#define LOCKSTEP_CHECK(cond)                                                     \
  do {                                                                           \
    if (!(cond)) ::lockstep::internal::CheckFailed(__FILE__, __LINE__, #cond, ""); \
  } while (0)

#define LOCKSTEP_CHECK_MSG(cond, ...)                                           \
  do {                                                                          \
    if (!(cond))                                                                \
      ::lockstep::internal::CheckFailed(__FILE__, __LINE__, #cond,              \
                                        ::lockstep::internal::StrCat(__VA_ARGS__)); \
  } while (0)
