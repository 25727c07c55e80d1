// A VM's transcript: every QMP and guest agent message, in order, timestamped.
//
// One file per VM (run dir/transcript.log) shared by its QMP and agent
// clients; it is what a kernel developer reads after a failure, and what the
// repro script generator replays. Lines look like:
//
//   2026-11-23T09:10:00.123Z +1.234 qmp  -> {"execute":"device_add",...}
//   2026-11-23T09:10:00.200Z +1.311 qmp  <- {"return":{}}
//
// Thread-safe; a Transcript with no path discards everything.
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string_view>

namespace cpuhp {

class Transcript {
 public:
  enum class Direction { kSent, kReceived, kNote };

  Transcript() = default;
  explicit Transcript(const std::filesystem::path& path);

  void Record(std::string_view channel, Direction dir, std::string_view text);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::mutex mutex_;
  std::filesystem::path path_;
  std::ofstream out_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// "2026-11-23T09:10:00.123Z" for the current time.
std::string UtcTimestamp();

}  // namespace cpuhp
