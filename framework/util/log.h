// One small logger, one component name per call site ("qmp", "agent", "vm").
//
//   LOG(kInfo, "vm") << "booted " << name << " in " << FormatDuration(t);
//
// Lifecycle goes at info; every protocol message at debug (and always to the
// VM's transcript file, whatever the level). Output is one line per message on
// stderr, safe from several threads.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace cpuhp {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug|info|warning|error|off".
bool ParseLogLevel(std::string_view text, LogLevel* level);

class LogLine {
 public:
  LogLine(LogLevel level, std::string_view component);
  ~LogLine();
  template <typename T>
  LogLine& operator<<(const T& v) {
    if (enabled_) stream_ << v;
    return *this;
  }

 private:
  bool enabled_;
  LogLevel level_;
  std::string component_;
  std::ostringstream stream_;
};

}  // namespace cpuhp

#define LOG(level, component) ::cpuhp::LogLine(::cpuhp::LogLevel::level, component)
