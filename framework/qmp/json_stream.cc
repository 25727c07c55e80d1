#include "qmp/json_stream.h"

#include "util/error.h"

namespace cpuhp {
namespace {

constexpr char kDelimiter = static_cast<char>(0xFF);

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Index one past the end of the object starting at buffer[0] == '{', or npos.
size_t FindObjectEnd(const std::string& buffer) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < buffer.size(); ++i) {
    char c = buffer[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return std::string::npos;
}

std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  return out;
}

}  // namespace

void JsonStream::DiscardUntilDelimiter() { discarding_ = true; }

std::optional<nlohmann::json> JsonStream::Next() {
  for (;;) {
    if (discarding_) {
      size_t pos = buffer_.find(kDelimiter);
      if (pos == std::string::npos) {
        buffer_.clear();
        return std::nullopt;
      }
      buffer_.erase(0, pos + 1);
      discarding_ = false;
    }
    size_t start = 0;
    while (start < buffer_.size() && (IsSpace(buffer_[start]) || buffer_[start] == kDelimiter)) {
      ++start;
    }
    buffer_.erase(0, start);
    if (buffer_.empty()) return std::nullopt;
    if (buffer_[0] != '{') {
      std::string bad = Printable(buffer_);
      buffer_.clear();
      throw ProtocolError("expected a JSON object, got: " + bad);
    }
    size_t end = FindObjectEnd(buffer_);
    if (end == std::string::npos) return std::nullopt;
    std::string text = buffer_.substr(0, end);
    buffer_.erase(0, end);
    try {
      return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw ProtocolError(std::string("malformed JSON (") + e.what() + "): " + Printable(text));
    }
  }
}

}  // namespace cpuhp
