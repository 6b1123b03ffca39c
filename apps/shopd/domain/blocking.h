#pragma once

namespace shopd::domain {

// Whether a domain call may block its thread: a MariaDB or Redis round trip, or waiting
// for a concurrent duplicate of the same request. kNotAllowed is for I/O threads: the call
// does what completes without blocking and declines the rest before it has any effect,
// so the caller can make the same call again where blocking is allowed.
enum class Blocking { kAllowed, kNotAllowed };

}  // namespace shopd::domain
