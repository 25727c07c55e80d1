// Splits a byte stream into JSON objects: the framing shared by QMP and the
// guest agent.
//
// Neither protocol promises one message per read(2): a read may end in the
// middle of a message or carry several. JsonStream buffers bytes and hands out
// whole top-level objects, finding their end by brace depth (string- and
// escape-aware) rather than by newline, so a message split anywhere, or
// several glued together, come out intact. The guest agent's resync byte
// 0xFF is understood: in DiscardUntilDelimiter() mode everything up to and
// including the next 0xFF is dropped, which is how a client discards a stale
// reply after a timeout.
//
// The peer is not trusted. Every message is bounded in size and nesting depth
// while it is still arriving (before nlohmann parses or dumps it), so an
// endless string or a deep [[[[ fails with a ProtocolError instead of eating
// memory or the stack; the rest of that message is then skipped as it comes.
// Bytes that cannot start an object are reported once and skipped up to the
// next '{', newline or 0xFF (as QEMU's own parser recovers), so valid messages
// after them in the same read survive. Invalid UTF-8 inside a message becomes
// U+FFFD rather than failing the whole message. Each byte is scanned once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace cpuhp {

class JsonStream {
 public:
  // Largest message, from its '{' to its '}'. The biggest real ones are
  // query-qmp-schema (~200 KiB) and a 64 KiB guest-file-read chunk in base64
  // (~88 KiB); 16 MiB is far above both and still cheap to hold.
  static constexpr size_t kMaxMessageBytes = size_t{16} << 20;
  // Deepest nesting of objects and arrays together. QEMU's own JSON parser
  // stops at the same MAX_NESTING (1024), so nothing QEMU accepts is refused;
  // real QMP/QGA replies are under 10 deep; and nlohmann's recursive dump,
  // copy and compare need well under 1 MiB of stack at this depth.
  static constexpr int kMaxDepth = 1024;

  // `name` ("qmp", "qga") prefixes every error.
  explicit JsonStream(std::string name = "json") : name_(std::move(name)) {}

  void Feed(std::string_view bytes);
  // The next complete object, or nullopt if more bytes are needed. Throws
  // ProtocolError on bytes that cannot start or form a JSON object, or on a
  // message over kMaxMessageBytes or kMaxDepth; each such error is thrown once
  // and the stream goes on with what follows.
  std::optional<nlohmann::json> Next();
  // Drop everything until (and including) the next 0xFF byte, now and in
  // bytes fed later.
  void DiscardUntilDelimiter();
  bool discarding() const { return discarding_; }
  size_t buffered() const { return buffer_.size() - head_; }

 private:
  enum class State {
    kBetween,   // before the next message
    kObject,    // inside the object starting at head_
    kSkipping,  // inside an object that broke a limit: its bytes are dropped as scanned
    kGarbage,   // inside a run of garbage already reported
  };
  void ResetScan();
  [[noreturn]] void Fail(const std::string& what);
  std::optional<nlohmann::json> TakeObject(size_t end);

  std::string name_;
  std::string buffer_;
  size_t head_ = 0;  // buffer_[0, head_) is consumed
  State state_ = State::kBetween;
  // Scan state of the current object: bytes [head_, head_ + scanned_) are scanned.
  size_t scanned_ = 0;
  int64_t depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  bool high_bytes_ = false;  // a byte >= 0x80 was seen: UTF-8 needs checking
  bool discarding_ = false;
};

// One line of peer JSON for errors, logs and the transcript: invalid UTF-8
// becomes U+FFFD instead of throwing nlohmann::type_error.
std::string DumpJson(const nlohmann::json& value);
// The same, cut to `max_bytes` (with "...") for error messages.
std::string DumpJsonShort(const nlohmann::json& value, size_t max_bytes = 300);

}  // namespace cpuhp
