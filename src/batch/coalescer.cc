#include "lockstep/batch/coalescer.h"

#include <cstdint>
#include <string>

namespace lockstep::batch {

// Explicit instantiation: compiles every member of the thin typed layer in the library
// build, so the clang -Wthread-safety build (library only) checks it (SubmitAndWait's slot)
// as well as the scheduler in coalescer_core.cc.
template class Coalescer<int64_t, std::string, std::string>;

}  // namespace lockstep::batch
