// One JSON-over-socket connection: QMP or the guest agent.
//
// Owns the socket, frames messages with JsonStream and records every message
// in the VM's transcript. Knows nothing of either protocol's semantics.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "qmp/json_stream.h"
#include "util/deadline.h"
#include "util/fd.h"
#include "util/transcript.h"

namespace cpuhp {

class JsonChannel {
 public:
  // `name` labels transcript lines and errors ("qmp", "qga", "qmp[dst]").
  JsonChannel(UniqueFd fd, std::string name, Transcript* transcript);

  // Throws TimeoutError, ConnectionError.
  void Send(const nlohmann::json& message, const Deadline& deadline);
  void SendRaw(std::string_view bytes, const Deadline& deadline);
  // The next message, or nullopt if none came before the deadline. Throws
  // ConnectionError when the peer closed the socket, ProtocolError on garbage.
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

}  // namespace cpuhp
