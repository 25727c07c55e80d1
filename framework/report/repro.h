// Reproduction scripts: a run's QEMU command line and its QMP and guest agent
// traffic, replayed by a standalone bash script (bash, socat, base64, QEMU;
// no cpuhp), so that a kernel developer can replay a failure on their own.
//
// The script starts QEMU with the run's exact command line (sockets in a
// mktemp directory, QEMU listening), sends qmp_capabilities and then the
// recorded QMP commands on an allowlist (CPU device_add, device_del,
// query-*, qom-get/list, cont, stop, system_reset) in order, waiting for
// each reply and for the hotplug events the run waited on (ACPI_DEVICE_OST,
// DEVICE_DELETED); it syncs with the guest agent before the first agent
// command and replays guest-set-vcpus, guest-get-vcpus, guest-ping,
// guest-exec and file reads/writes (reads printed as "guest PATH: CONTENT").
// Everything else is left out and listed, per command, in the script's
// header and on stderr: the transcript is partly guest-written, and the
// script runs on a developer's machine. Values from spec.json and
// result.json are quoted to stay on their line. It cleans up with a trap.
// Migration is not replayed: the script stops before it.
//
//   WriteReproScript(run_dir);   // run_dir/repro.sh
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cpuhp {

// One transcript.log line: "<utc> +<rel> <channel> <arrow> <text>", single
// spaces, the text escaped as Transcript writes it (util/transcript.h).
struct TranscriptEntry {
  std::string utc;
  double rel_s = 0;
  std::string channel;  // "qmp", "qga", "vm", "scenario"
  std::string arrow;    // "->" sent, "<-" received, "--" note
  std::string text;
};
// `text` unescaped; nullopt for a line that is not exactly in that shape (a
// malformed timestamp or offset, extra spaces, a raw control character, a
// bad escape).
std::optional<TranscriptEntry> ParseTranscriptLine(const std::string& line);
std::vector<TranscriptEntry> ReadTranscript(const std::filesystem::path& path);

// The script's text for the run recorded in `run_dir` (spec.json and
// transcript.log). Throws Error naming what is missing, ProtocolError for a
// spec.json whose accel_resolved is not kvm or tcg.
std::string GenerateReproScript(const std::filesystem::path& run_dir);
// Writes it to `out` (default run_dir/repro.sh), executable; returns the path.
std::filesystem::path WriteReproScript(const std::filesystem::path& run_dir,
                                       const std::filesystem::path& out = {});

}  // namespace cpuhp
