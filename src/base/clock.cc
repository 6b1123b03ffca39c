#include "lockstep/base/clock.h"

#include <thread>

namespace lockstep {
namespace {
class RealClock final : public Clock {
 public:
  time_point Now() const override { return std::chrono::steady_clock::now(); }
  void SleepFor(duration d) const override { std::this_thread::sleep_for(d); }
};
}  // namespace

const Clock& Clock::Real() {
  static const RealClock* const clock = new RealClock();
  return *clock;
}
}  // namespace lockstep
