// Reproduction scripts: a run's QEMU command line and its QMP and guest agent
// traffic, replayed by a standalone bash script (bash, socat, base64, QEMU;
// no cpuhp), so that a kernel developer can replay a failure on their own.
//
// The script starts QEMU with the run's exact command line (sockets in a
// mktemp directory, QEMU listening), sends qmp_capabilities and then every
// recorded QMP command in order, waiting for each reply and for the hotplug
// events the run waited on (ACPI_DEVICE_OST, DEVICE_DELETED); it syncs with
// the guest agent before the first agent command and replays guest-set-vcpus,
// guest-exec and file reads (printed as "guest PATH: CONTENT"). It cleans up
// with a trap. Migration is not replayed: the script stops before it.
//
//   WriteReproScript(run_dir);   // run_dir/repro.sh
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cpuhp {

// One transcript.log line: "<utc> +<rel> <channel> <arrow> <text>".
struct TranscriptEntry {
  std::string utc;
  double rel_s = 0;
  std::string channel;  // "qmp", "qga", "vm", "scenario"
  std::string arrow;    // "->" sent, "<-" received, "--" note
  std::string text;
};
// nullopt for a line that is not in that shape.
std::optional<TranscriptEntry> ParseTranscriptLine(const std::string& line);
std::vector<TranscriptEntry> ReadTranscript(const std::filesystem::path& path);

// The script's text for the run recorded in `run_dir` (spec.json and
// transcript.log). Throws Error naming what is missing.
std::string GenerateReproScript(const std::filesystem::path& run_dir);
// Writes it to `out` (default run_dir/repro.sh), executable; returns the path.
std::filesystem::path WriteReproScript(const std::filesystem::path& run_dir,
                                       const std::filesystem::path& out = {});

}  // namespace cpuhp
