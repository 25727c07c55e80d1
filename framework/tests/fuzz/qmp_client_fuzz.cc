// QmpClient (qmp/qmp_client.h) against a peer that sends the fuzz input: the
// greeting, replies and events, as a hostile or broken QEMU might.
//
// The client goes through what a run does: the handshake, commands (ids
// cpuhp-1, cpuhp-2, ...), event waits and polls, each with a short deadline.
// The peer's EOF ends every wait, so nothing waits out a deadline. Only
// cpuhp::Error may come out (QmpError, ProtocolError, ConnectionError,
// TimeoutError); other exceptions, crashes and hangs are findings.
#include "fuzz_common.h"
#include "fuzz_peer.h"
#include "qmp/qmp_client.h"

namespace {
// Bounds each call should the peer's EOF not end it; libFuzzer's -timeout is
// well above the sum, so a call that overruns it is a hang, not slowness.
constexpr std::chrono::seconds kCallTimeout{2};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpuhp;
  using nlohmann::json;
  fuzz::ScriptedPeer peer(std::string(fuzz::AsText(data, size)));
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  auto deadline = [] { return Deadline::AfterUnscaled(kCallTimeout); };
  fuzz::OnlyCpuhpErrors("Handshake", [&] { qmp.Handshake(deadline()); });
  fuzz::OnlyCpuhpErrors("Execute", [&] { qmp.Execute("query-hotpluggable-cpus", nullptr, deadline()); });
  fuzz::OnlyCpuhpErrors("Execute", [&] {
    qmp.Execute("device_add",
                {{"driver", "qemu64-x86_64-cpu"}, {"id", "cpu1"}, {"socket-id", 1}, {"core-id", 0},
                 {"thread-id", 0}},
                deadline());
  });
  fuzz::OnlyCpuhpErrors("WaitForEvent", [&] {
    qmp.WaitForEvent("ACPI_DEVICE_OST", MatchData({{"info", {{"device", "cpu1"}}}}), deadline());
  });
  fuzz::OnlyCpuhpErrors("TryWaitForEvent", [&] {
    qmp.TryWaitForEvent("DEVICE_DELETED", nullptr, deadline());
  });
  fuzz::OnlyCpuhpErrors("TryWaitForAnyEvent", [&] {
    qmp.TryWaitForAnyEvent([](const json& ev) { return ev.contains("data"); }, deadline());
  });
  fuzz::OnlyCpuhpErrors("PollEvents", [&] { qmp.PollEvents(); });
  fuzz::OnlyCpuhpErrors("TakeEvents", [&] { qmp.TakeEvents(); });
  return 0;
}
