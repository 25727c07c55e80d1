#include "util/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace cpuhp {
namespace {

LogLevel InitialLevel() {
  LogLevel level = LogLevel::kInfo;
  if (const char* env = std::getenv("CPUHP_LOG")) ParseLogLevel(env, &level);
  return level;
}

std::atomic<LogLevel>& Level() {
  static std::atomic<LogLevel> level{InitialLevel()};
  return level;
}

std::mutex& OutputMutex() {
  static std::mutex m;
  return m;
}

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
    default: return "";
  }
}

}  // namespace

void SetLogLevel(LogLevel level) { Level() = level; }
LogLevel GetLogLevel() { return Level(); }

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  if (text == "debug") *level = LogLevel::kDebug;
  else if (text == "info") *level = LogLevel::kInfo;
  else if (text == "warning" || text == "warn") *level = LogLevel::kWarning;
  else if (text == "error") *level = LogLevel::kError;
  else if (text == "off") *level = LogLevel::kOff;
  else return false;
  return true;
}

LogLine::LogLine(LogLevel level, std::string_view component)
    : enabled_(level >= Level().load()), level_(level), component_(component) {}

LogLine::~LogLine() {
  if (!enabled_) return;
  using namespace std::chrono;
  static const auto start = steady_clock::now();
  double t = duration<double>(steady_clock::now() - start).count();
  std::lock_guard lock(OutputMutex());
  std::fprintf(stderr, "[%8.3f] %-7s %-8s %s\n", t, LevelName(level_), component_.c_str(),
               stream_.str().c_str());
}

}  // namespace cpuhp
