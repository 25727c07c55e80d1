#include "qmp/json_stream.h"

#include <cstdio>

#include "util/error.h"
#include "util/text.h"

namespace cpuhp {
namespace {

constexpr char kDelimiter = static_cast<char>(0xFF);
// Where a run of garbage ends: the start of an object, a line end (QMP and QGA
// messages are one per line), or the agent's resync byte.
constexpr char kResyncBytes[] = "{\n\xFF";

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

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
  if (s.size() > 80) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

// `s` with each byte that is not part of valid UTF-8 replaced by U+FFFD.
std::string ReplaceInvalidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    if (size_t n = DecodeUtf8(s, i, &cp)) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string DumpJsonShort(const nlohmann::json& value, size_t max_bytes) {
  std::string text = DumpJson(value);
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "... (" + std::to_string(text.size()) + " bytes)";
}

void JsonStream::Feed(std::string_view bytes) {
  // Consumed bytes go in bulk, so each byte is moved O(1) times on average.
  if (head_ == buffer_.size()) {
    buffer_.clear();
    head_ = 0;
  } else if (head_ > buffer_.size() / 2) {
    buffer_.erase(0, head_);
    head_ = 0;
  }
  buffer_.append(bytes);
}

void JsonStream::DiscardUntilDelimiter() { discarding_ = true; }

void JsonStream::ResetScan() {
  scanned_ = 0;
  depth_ = 0;
  in_string_ = false;
  escaped_ = false;
  high_bytes_ = false;
}

void JsonStream::Fail(const std::string& what) { throw ProtocolError(name_ + ": " + what); }

std::optional<nlohmann::json> JsonStream::TakeObject(size_t end) {
  std::string_view text(buffer_.data() + head_, end - head_);
  std::string fixed;
  if (high_bytes_) {
    fixed = ReplaceInvalidUtf8(text);
    text = fixed;
  }
  head_ = end;
  state_ = State::kBetween;
  ResetScan();
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    Fail(std::string("malformed JSON (") + e.what() + "): " + Printable(text));
  }
}

std::optional<nlohmann::json> JsonStream::Next() {
  for (;;) {
    const size_t size = buffer_.size();
    if (discarding_) {
      size_t pos = buffer_.find(kDelimiter, head_);
      if (pos == std::string::npos) {
        head_ = size;
        return std::nullopt;
      }
      head_ = pos + 1;
      discarding_ = false;
      state_ = State::kBetween;
      ResetScan();
    }
    switch (state_) {
      case State::kBetween: {
        while (head_ < size && (IsSpace(buffer_[head_]) || buffer_[head_] == kDelimiter)) ++head_;
        if (head_ == size) return std::nullopt;
        if (buffer_[head_] == '{') {
          state_ = State::kObject;
          ResetScan();
          continue;
        }
        size_t end = buffer_.find_first_of(kResyncBytes, head_ + 1, sizeof kResyncBytes - 1);
        std::string bad = Printable(std::string_view(buffer_).substr(head_, end - head_));
        head_ = end == std::string::npos ? size : end;
        // A run still going on at the end of the buffer is not reported again.
        state_ = end == std::string::npos ? State::kGarbage : State::kBetween;
        Fail("expected a JSON object, got: " + bad);
      }
      case State::kGarbage: {
        size_t end = buffer_.find_first_of(kResyncBytes, head_, sizeof kResyncBytes - 1);
        if (end == std::string::npos) {
          head_ = size;
          return std::nullopt;
        }
        head_ = end;
        state_ = State::kBetween;
        continue;
      }
      case State::kObject:
      case State::kSkipping: {
        size_t end = std::string::npos;
        for (size_t i = head_ + scanned_; i < size; ++i) {
          unsigned char c = static_cast<unsigned char>(buffer_[i]);
          if (c >= 0x80) high_bytes_ = true;
          if (in_string_) {
            if (escaped_) escaped_ = false;
            else if (c == '\\') escaped_ = true;
            else if (c == '"') in_string_ = false;
            continue;
          }
          if (c == '"') {
            in_string_ = true;
          } else if (c == '{' || c == '[') {
            if (++depth_ > kMaxDepth && state_ == State::kObject) {
              size_t at = i - head_;
              head_ = i + 1;
              scanned_ = 0;
              state_ = State::kSkipping;
              Fail("JSON message nested " + std::to_string(depth_) + " levels deep at byte " +
                   std::to_string(at) + "; the limit is " + std::to_string(kMaxDepth) +
                   " (JsonStream::kMaxDepth)");
            }
          } else if (c == '}' || c == ']') {
            if (--depth_ == 0) {
              end = i + 1;
              break;
            }
          }
        }
        if (state_ == State::kSkipping) {
          head_ = end == std::string::npos ? size : end;
          if (end == std::string::npos) return std::nullopt;
          state_ = State::kBetween;
          ResetScan();
          continue;
        }
        size_t length = (end == std::string::npos ? size : end) - head_;
        if (length > kMaxMessageBytes) {
          head_ += length;
          if (end == std::string::npos) {
            scanned_ = 0;
            state_ = State::kSkipping;
          } else {
            state_ = State::kBetween;
            ResetScan();
          }
          Fail("JSON message of " + std::string(end == std::string::npos ? "at least " : "") +
               std::to_string(length) + " bytes; the limit is " +
               std::to_string(kMaxMessageBytes) + " (JsonStream::kMaxMessageBytes)");
        }
        if (end == std::string::npos) {
          scanned_ = length;
          return std::nullopt;
        }
        return TakeObject(end);
      }
    }
  }
}

}  // namespace cpuhp
