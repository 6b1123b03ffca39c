#include "lockstep/batch/coalescer.h"

#include <cstdint>
#include <string>

namespace lockstep::batch {

// Explicit instantiation: compiles every member of the template in the library build, so
// the clang -Wthread-safety build (library only) checks the Coalescer's locking too.
template class Coalescer<int64_t, std::string, std::string>;

}  // namespace lockstep::batch
