#include "util/transcript.h"

#include <cstdio>
#include <ctime>

namespace cpuhp {

std::string UtcTimestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

Transcript::Transcript(const std::filesystem::path& path)
    : path_(path), out_(path, std::ios::app) {}

void Transcript::Record(std::string_view channel, Direction dir, std::string_view text) {
  if (!out_.is_open()) return;
  const char* arrow = dir == Direction::kSent ? "->" : dir == Direction::kReceived ? "<-" : "--";
  double rel = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  char rel_buf[32];
  std::snprintf(rel_buf, sizeof rel_buf, "+%.3f", rel);
  std::lock_guard lock(mutex_);
  out_ << UtcTimestamp() << ' ' << rel_buf << ' ' << channel << ' ' << arrow << ' ' << text
       << '\n';
  out_.flush();
}

}  // namespace cpuhp
