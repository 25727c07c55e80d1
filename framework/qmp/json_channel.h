// One JSON-over-socket connection: QMP or the guest agent.
//
// Owns the socket, frames messages with JsonStream and records every message
// in the VM's transcript. Knows nothing of either protocol's semantics, beyond
// the {"error": {"class", "desc"}} shape both share.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "qmp/json_stream.h"
#include "util/deadline.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/log.h"
#include "util/transcript.h"

namespace cpuhp {

class JsonChannel {
 public:
  // `name` labels transcript lines and errors ("qmp", "qga", "qmp[dst]").
  JsonChannel(UniqueFd fd, std::string name, Transcript* transcript);

  // Throws TimeoutError, ConnectionError.
  void Send(const nlohmann::json& message, const Deadline& deadline);
  // Several messages in one write (each still one transcript record).
  // qemu-ga 7.2 over virtio-serial stops answering, now and then, when a
  // dozen or more requests arrive as separate writes (docs/known-issues.md);
  // one write of the same bytes does not.
  void SendBatch(const std::vector<nlohmann::json>& messages, const Deadline& deadline);
  void SendRaw(std::string_view bytes, const Deadline& deadline);
  // The next message, or nullopt if none came before the deadline. Throws
  // ConnectionError when the peer closed the socket, ProtocolError on garbage.
  // A message already buffered is returned even after the deadline (callers
  // that loop must check it themselves); the socket is read at most once
  // after the deadline, so a peer that keeps sending bytes that never make a
  // message (whitespace, an endless string) cannot hold the call.
  std::optional<nlohmann::json> Receive(const Deadline& deadline);

  JsonStream& stream() { return stream_; }
  const std::string& name() const { return name_; }
  int fd() const { return fd_.get(); }
  void Note(std::string_view text);

 private:
  UniqueFd fd_;
  std::string name_;
  Transcript* transcript_;
  JsonStream stream_;
  bool eof_ = false;
};

// Whether debug lines are written: peer JSON is dumped for a log line only then
// (a flooding peer must not cost a dump per message for nothing).
inline bool DebugLogEnabled() { return GetLogLevel() <= LogLevel::kDebug; }

// The "execute" of a QMP or agent request, or "?" when it has none.
std::string CommandName(const nlohmann::json& request);

// A peer's {"error": {"class": ..., "desc": ...}}.
struct PeerError {
  std::string error_class;
  std::string desc;
};
// Reads `error` (the value of a reply's "error"). Throws ProtocolError, naming
// `where` (e.g. "qga: reply to guest-file-open"), unless it is an object whose
// "class" and "desc" are strings (either may be absent: "?").
PeerError ParsePeerError(const nlohmann::json& error, std::string_view where);

// Checked access to a field of a peer's object `obj`: nullptr when `key` is
// absent; FieldTypeError (naming `where` and prefix + key) when present but
// `is_type` (e.g. &nlohmann::json::is_string) rejects it.
using JsonTypeCheck = bool (nlohmann::json::*)() const noexcept;
const nlohmann::json* OptionalField(const nlohmann::json& obj, std::string_view key,
                                    JsonTypeCheck is_type, std::string_view expected,
                                    std::string_view where, std::string_view prefix = {});
// The same, but a missing field is a ProtocolError too.
const nlohmann::json& RequiredField(const nlohmann::json& obj, std::string_view key,
                                    JsonTypeCheck is_type, std::string_view expected,
                                    std::string_view where, std::string_view prefix = {});

// The ProtocolError for a peer's field of the wrong type: names where, the
// field, what was expected and (shortened) what came.
ProtocolError FieldTypeError(std::string_view where, std::string_view field,
                             std::string_view expected, const nlohmann::json& got);

}  // namespace cpuhp
