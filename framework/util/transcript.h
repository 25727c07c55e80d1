// A VM's transcript: every QMP and guest agent message, in order, timestamped.
//
// One file per VM (run dir/transcript.log) shared by its QMP and agent
// clients; it is what a kernel developer reads after a failure, and what the
// repro script generator replays. Lines look like:
//
//   2026-11-23T09:10:00.123Z +1.234 qmp -> {"execute":"device_add",...}
//   2026-11-23T09:10:00.200Z +1.311 qmp <- {"return":{}}
//
// One record is always one line: the text is escaped (EscapeTranscriptText)
// so that guest text with newlines (an agent's error desc, a console tail in
// a note) cannot forge records of its own. The file stops growing at
// max_bytes: one "-- transcript truncated" note says so, later records are
// counted and dropped.
//
// Thread-safe; a Transcript with no path discards everything.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace cpuhp {

// A run's real traffic is a few MiB (a 1000-iteration hotplug stress is
// ~10 MiB); a flooding guest wrote 108 MB in 7 s (review.md 3). 64 MiB keeps
// every honest run whole and bounds what a hostile one costs the disk.
inline constexpr uint64_t kMaxTranscriptBytes = 64ull << 20;

class Transcript {
 public:
  enum class Direction { kSent, kReceived, kNote };

  Transcript() = default;
  explicit Transcript(const std::filesystem::path& path,
                      uint64_t max_bytes = kMaxTranscriptBytes);
  // Logs a warning with the count when records were dropped.
  ~Transcript();

  void Record(std::string_view channel, Direction dir, std::string_view text);
  const std::filesystem::path& path() const { return path_; }
  // Records dropped after the cap was reached.
  uint64_t dropped_records() const;

 private:
  mutable std::mutex mutex_;
  std::filesystem::path path_;
  std::ofstream out_;
  uint64_t max_bytes_ = kMaxTranscriptBytes;
  uint64_t written_ = 0;
  uint64_t dropped_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// A record's text as one line: backslash as \\, newline \n, CR \r, tab \t,
// every other byte below 0x20 and DEL as \xHH. Other bytes stay as they are.
std::string EscapeTranscriptText(std::string_view text);
// The inverse; nullopt for a raw control character, an unknown escape or a
// truncated one (a line Transcript did not write).
std::optional<std::string> UnescapeTranscriptText(std::string_view text);

// "2026-11-23T09:10:00.123Z" for the current time.
std::string UtcTimestamp();

}  // namespace cpuhp
