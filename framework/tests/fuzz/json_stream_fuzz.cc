// JsonStream (qmp/json_stream.h), the framing under both QMP and the guest
// agent, fed the same bytes in arbitrary pieces.
//
// Input: the stream, then (FuzzedDataProvider takes these from the end, last
// byte first) a flag to start in DiscardUntilDelimiter mode, a flag to resync
// with DiscardUntilDelimiter after each ProtocolError as a client would, a
// piece count (up to kMaxPieces) and that many 2-byte piece lengths; the
// stream is fed in those pieces, the rest in one. Properties: only
// ProtocolError is thrown; every message is an object; and when no
// ProtocolError came, the messages and what stays buffered do not depend on
// where the reads were split (the peer decides the splits, not us).
#include <fuzzer/FuzzedDataProvider.h>

#include <vector>

#include "fuzz_common.h"
#include "qmp/json_stream.h"

namespace cpuhp {
namespace {

// More pieces than a message is ever split into by the kernel in practice.
constexpr size_t kMaxPieces = 64;
// Long enough to split inside strings and escapes, short enough that a
// 4 KiB input can be cut in many places.
constexpr size_t kMaxPieceLength = 256;

struct Outcome {
  std::vector<nlohmann::json> messages;
  bool protocol_error = false;
  size_t left_buffered = 0;
};

Outcome Run(const std::vector<std::string_view>& pieces, bool start_discarding,
            bool resync_on_error) {
  Outcome out;
  JsonStream stream;
  if (start_discarding) stream.DiscardUntilDelimiter();
  for (std::string_view piece : pieces) {
    stream.Feed(piece);
    for (;;) {
      try {
        auto msg = stream.Next();
        if (!msg) break;
        CPUHP_FUZZ_CHECK(msg->is_object(), "Next() returned a non-object: %s",
                         msg->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        out.messages.push_back(std::move(*msg));
      } catch (const ProtocolError&) {
        out.protocol_error = true;
        if (resync_on_error) stream.DiscardUntilDelimiter();
      }
    }
  }
  out.left_buffered = stream.buffered();
  return out;
}

}  // namespace
}  // namespace cpuhp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpuhp;
  FuzzedDataProvider in(data, size);
  bool start_discarding = in.ConsumeBool();
  bool resync_on_error = in.ConsumeBool();
  std::vector<size_t> lengths(in.ConsumeIntegralInRange<size_t>(0, kMaxPieces));
  for (auto& n : lengths) n = in.ConsumeIntegralInRange<size_t>(0, kMaxPieceLength);
  std::string bytes = in.ConsumeRemainingBytesAsString();

  std::vector<std::string_view> pieces;
  std::string_view rest = bytes;
  for (size_t n : lengths) {
    n = std::min(n, rest.size());
    pieces.push_back(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  pieces.push_back(rest);

  fuzz::OnlyCpuhpErrors("JsonStream", [&] {
    Outcome split = Run(pieces, start_discarding, resync_on_error);
    Outcome whole = Run({bytes}, start_discarding, resync_on_error);
    if (!split.protocol_error && !whole.protocol_error) {
      CPUHP_FUZZ_CHECK(split.messages == whole.messages,
                       "%zu messages read in %zu pieces, %zu read whole", split.messages.size(),
                       pieces.size(), whole.messages.size());
      CPUHP_FUZZ_CHECK(split.left_buffered == whole.left_buffered,
                       "%zu bytes left buffered in pieces, %zu whole", split.left_buffered,
                       whole.left_buffered);
    }
  });
  return 0;
}
