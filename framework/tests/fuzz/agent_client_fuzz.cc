// AgentClient (guest/agent_client.h) against a peer that sends the fuzz
// input, as a hostile or broken guest agent might: sync answers, file
// contents, guest-get-vcpus, errors, garbage.
//
// The agent has no ids: replies are taken in order, so the input is the
// sequence of everything the agent says. The sync id is random per attempt;
// the peer reads the client's first guest-sync-delimited and writes its id
// wherever the input says @ID@, so inputs can get past the handshake. Then
// the client goes through what the checker does (ping, vcpus, pipelined and
// single file reads, set-vcpus, a write, a whole guest snapshot), each with a
// short deadline; the peer's EOF ends every wait. Only cpuhp::Error may come
// out; other exceptions, crashes and hangs are findings.
#include <poll.h>
#include <sys/socket.h>

#include <thread>

#include "fuzz_common.h"
#include "fuzz_peer.h"
#include "guest/agent_client.h"
#include "guest/cpu_snapshot.h"

namespace cpuhp::fuzz {
namespace {

constexpr std::chrono::seconds kCallTimeout{2};
// Where the input wants the id of the client's first sync.
constexpr std::string_view kIdToken = "@ID@";

// The peer: waits for the client's first line (0xFF, then the sync request),
// puts its id into the input, sends it all and shuts down its sending side.
class SyncingPeer {
 public:
  explicit SyncingPeer(std::string bytes) : bytes_(std::move(bytes)) {
    auto [client, peer] = SocketPair();
    client_ = std::move(client);
    peer_ = std::move(peer);
    thread_ = std::thread([this] {
      Deadline deadline = Deadline::AfterUnscaled(kPeerWriteTimeout);
      try {
        std::string id = SyncId(FirstLine(deadline));
        for (size_t at = 0; (at = bytes_.find(kIdToken, at)) != std::string::npos;) {
          bytes_.replace(at, kIdToken.size(), id);
          at += id.size();
        }
        WriteAll(peer_.get(), bytes_, deadline);
      } catch (const Error&) {
        // The client gave up and closed its end: what it saw is the test.
      }
      ::shutdown(peer_.get(), SHUT_WR);
    });
  }
  ~SyncingPeer() { thread_.join(); }
  SyncingPeer(const SyncingPeer&) = delete;
  SyncingPeer& operator=(const SyncingPeer&) = delete;

  UniqueFd TakeClientFd() { return std::move(client_); }

 private:
  std::string FirstLine(const Deadline& deadline) {
    std::string line;
    char c;
    while (PollOne(peer_.get(), POLLIN, deadline) != 0 && ::recv(peer_.get(), &c, 1, 0) == 1) {
      if (c == '\n') break;
      line += c;
    }
    return line;
  }
  static std::string SyncId(const std::string& request) {
    size_t at = request.find("\"id\":");
    if (at == std::string::npos) return "0";
    at += 5;
    size_t end = request.find_first_not_of("0123456789", at);
    return request.substr(at, end - at);
  }

  std::string bytes_;
  UniqueFd client_;
  UniqueFd peer_;
  std::thread thread_;
};

}  // namespace
}  // namespace cpuhp::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpuhp;
  using fuzz::OnlyCpuhpErrors;
  fuzz::SyncingPeer peer(std::string(fuzz::AsText(data, size)));
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  auto deadline = [] { return Deadline::AfterUnscaled(fuzz::kCallTimeout); };
  const std::string cpu = kSysCpu;
  OnlyCpuhpErrors("Sync", [&] { agent.Sync(deadline()); });
  OnlyCpuhpErrors("Ping", [&] { agent.Ping(deadline()); });
  OnlyCpuhpErrors("GetVcpus", [&] { agent.GetVcpus(deadline()); });
  OnlyCpuhpErrors("TryReadFiles", [&] {
    agent.TryReadFiles({cpu + "/online", cpu + "/cpu1/online"}, deadline());
  });
  OnlyCpuhpErrors("ReadFile", [&] { agent.ReadFile(cpu + "/present", deadline()); });
  OnlyCpuhpErrors("TryReadFile", [&] { agent.TryReadFile(cpu + "/cpu2/online", deadline()); });
  OnlyCpuhpErrors("SetVcpus", [&] {
    agent.SetVcpus({{1, true, true}, {2, false, true}}, deadline());
  });
  OnlyCpuhpErrors("WriteFile", [&] { agent.WriteFile(cpu + "/cpu1/online", "1", deadline()); });
  OnlyCpuhpErrors("ReadGuestSnapshot", [&] { ReadGuestSnapshot(agent, deadline()); });
  return 0;
}
