#pragma once

namespace lockstep::cache::internal {

// What became of a fill, in L1 (L1Store::Fill) and in L2 (L2Store::Fill): both apply the
// same rules.
enum class FillOutcome {
  kStored,
  kSame,     // An entry of the same version is there already.
  kStale,    // A newer version, or a tombstone the load did not start after.
  kTooOld,   // The load started more than max_age ago.
};

}  // namespace lockstep::cache::internal
