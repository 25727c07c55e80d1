// Deadlines for every blocking call, and the named timeouts cpuhp waits with.
//
// Every wait in cpuhp takes a Deadline rather than a bare duration so that a
// chain of calls (connect, handshake, command) shares one budget. Durations
// given to Deadline::After() are multiplied by CPUHP_TIMEOUT_SCALE (default 1)
// so that slow hosts (TCG on a loaded CI runner) can stretch every timeout at
// once without editing scenarios.
#pragma once

#include <chrono>
#include <string>

namespace cpuhp {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Named defaults. All are scaled by CPUHP_TIMEOUT_SCALE when turned into a Deadline.
inline constexpr seconds kBootTimeout{90};         // QEMU start to guest agent answering (TCG)
inline constexpr seconds kQmpTimeout{30};          // one QMP command
inline constexpr seconds kAgentTimeout{30};        // one guest agent command
inline constexpr seconds kAgentSyncTimeout{3};     // one guest-sync-delimited attempt
inline constexpr seconds kHotplugSettleTimeout{60};  // device_add/del to the guest's view settling
inline constexpr seconds kShutdownTimeout{30};     // quit to process exit, before SIGTERM
inline constexpr seconds kMigrationTimeout{300};   // migrate to "completed"

// The factor from CPUHP_TIMEOUT_SCALE (a positive number), read once.
double TimeoutScale();

class Deadline {
 public:
  // A deadline `d` (scaled) from now. Saturates: a duration past the clock's
  // range (a huge timeout times CPUHP_TIMEOUT_SCALE) gives Never(), and a
  // negative one an expired deadline, never an overflowed time point.
  static Deadline After(Clock::duration d);
  // A deadline exactly `d` from now, unscaled: for sub-waits derived from one
  // already scaled. Saturates as After() does.
  static Deadline AfterUnscaled(Clock::duration d);
  static Deadline Never() { return Deadline(Clock::time_point::max()); }

  bool Expired() const { return Clock::now() >= at_; }
  bool IsNever() const { return at_ == Clock::time_point::max(); }
  Clock::duration Remaining() const;
  // Milliseconds for poll(2): -1 for never, 0 when expired, rounded up otherwise.
  int PollTimeoutMs() const;
  // The earlier of the two.
  Deadline Min(Deadline other) const { return other.at_ < at_ ? other : *this; }
  Clock::time_point at() const { return at_; }

 private:
  explicit Deadline(Clock::time_point at) : at_(at) {}
  Clock::time_point at_;
};

// "12.3 s" / "850 ms": for messages and progress lines.
std::string FormatDuration(Clock::duration d);

// Seconds as a double, for reports.
inline double ToSeconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace cpuhp
