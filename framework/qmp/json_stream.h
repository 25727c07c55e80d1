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
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace cpuhp {

class JsonStream {
 public:
  void Feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete object, or nullopt if more bytes are needed. Throws
  // ProtocolError on bytes that cannot start or form a JSON object.
  std::optional<nlohmann::json> Next();
  // Drop everything until (and including) the next 0xFF byte, now and in
  // bytes fed later.
  void DiscardUntilDelimiter();
  bool discarding() const { return discarding_; }
  size_t buffered() const { return buffer_.size(); }

 private:
  std::string buffer_;
  bool discarding_ = false;
};

}  // namespace cpuhp
