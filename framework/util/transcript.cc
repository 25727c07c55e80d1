#include "util/transcript.h"

#include <cstdio>
#include <ctime>

#include "util/log.h"

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

std::string EscapeTranscriptText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::optional<std::string> UnescapeTranscriptText(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u == 0x7F) return std::nullopt;
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    switch (text[i]) {
      case '\\':
        out += '\\';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'x': {
        if (i + 2 >= text.size()) return std::nullopt;
        int hi = hex(text[i + 1]), lo = hex(text[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

Transcript::Transcript(const std::filesystem::path& path, uint64_t max_bytes)
    : path_(path), out_(path, std::ios::app), max_bytes_(max_bytes) {
  std::error_code ec;
  uint64_t existing = std::filesystem::file_size(path, ec);
  if (!ec) written_ = existing;
}

Transcript::~Transcript() {
  if (dropped_ > 0) {
    LOG(kWarning, "transcript") << path_.string() << ": " << dropped_
                                << " records dropped after the " << max_bytes_ << "-byte cap";
  }
}

uint64_t Transcript::dropped_records() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void Transcript::Record(std::string_view channel, Direction dir, std::string_view text) {
  if (!out_.is_open()) return;
  const char* arrow = dir == Direction::kSent ? "->" : dir == Direction::kReceived ? "<-" : "--";
  double rel = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  char rel_buf[32];
  std::snprintf(rel_buf, sizeof rel_buf, "+%.3f", rel);
  std::string prefix = UtcTimestamp() + ' ' + rel_buf + ' ';
  std::string line = prefix + EscapeTranscriptText(channel) + ' ' + arrow + ' ' +
                     EscapeTranscriptText(text) + '\n';
  std::lock_guard lock(mutex_);
  if (dropped_ > 0) {
    ++dropped_;
    return;
  }
  if (written_ + line.size() > max_bytes_) {
    // Past the cap by this one line at most: the reader must know why the
    // transcript ends here.
    ++dropped_;
    out_ << prefix << "transcript -- transcript truncated: the limit of " << max_bytes_
         << " bytes was reached; later records are dropped\n";
    out_.flush();
    return;
  }
  out_ << line;
  out_.flush();
  written_ += line.size();
}

}  // namespace cpuhp
