#include "report/repro.h"

#include <sys/stat.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "report/artifacts.h"
#include "report/spec_json.h"
#include "util/error.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

constexpr char kDirPlaceholder[] = "@REPRO_DIR@";

// The script's fixed part: connection helpers. Kept in one raw string so the
// generated file reads top to bottom.
constexpr char kHelpers[] = R"BASH(
REPRO_TIMEOUT=${REPRO_TIMEOUT:-120}   # seconds to wait for each reply or event
REPRO_ACCEL=${REPRO_ACCEL:-@ACCEL@}
command -v socat >/dev/null || { echo "repro: socat is needed (apt-get install socat)" >&2; exit 2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/cpuhp-repro.XXXXXX")
qemu_pid=
cleanup() {
  exec 3>&- 4<&- 5>&- 6<&- 2>/dev/null
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null
    wait "$qemu_pid" 2>/dev/null
  fi
  jobs -p | xargs -r kill 2>/dev/null
  if [ -n "${REPRO_KEEP:-}" ]; then echo "repro: logs kept in $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "repro: $*" >&2
  echo "--- serial log (last lines)" >&2
  tail -n 30 "$dir/serial.log" >&2 2>/dev/null
  echo "--- qemu.log" >&2
  cat "$dir/qemu.log" >&2 2>/dev/null
  exit 1
}

wait_for_socket() {
  local i
  for ((i = 0; i < REPRO_TIMEOUT * 10; i++)); do
    [ -S "$1" ] && return 0
    kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited before creating $1"
    sleep 0.1
  done
  fail "QEMU did not create $1"
}

# A line from fd $1 into $line, CR stripped. Fails when QEMU exits or after
# REPRO_TIMEOUT; reads in 1 s slices (bash keeps a partial line on timeout).
read_line() {
  local chunk waited=0
  line=
  while :; do
    if IFS= read -r -t 1 chunk <&"$1"; then
      line+=$chunk
      line=${line%$'\r'}
      return 0
    fi
    (($? > 128)) || fail "connection closed ($2)"
    line+=$chunk
    kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited ($2)"
    ((++waited < REPRO_TIMEOUT)) || fail "no answer within ${REPRO_TIMEOUT}s ($2)"
  done
}

# QMP: one connection for the whole replay (QEMU sends events to it only).
events=()
qmp_connect() {
  wait_for_socket "$dir/qmp.sock"
  mkfifo "$dir/qmp.in" "$dir/qmp.out"
  socat - "UNIX-CONNECT:$dir/qmp.sock" <"$dir/qmp.in" >"$dir/qmp.out" &
  exec 3>"$dir/qmp.in" 4<"$dir/qmp.out"
  read_line 4 "QMP greeting"
  echo "qmp <- $line"
  qmp '{"execute":"qmp_capabilities"}'
}

# Sends one command and prints its reply (in $reply); events read meanwhile are queued.
qmp() {
  echo "qmp -> $1"
  printf '%s\n' "$1" >&3
  while :; do
    read_line 4 "reply to $1"
    if [[ $line == '{"timestamp"'* ]]; then
      events+=("$line")
      echo "qmp <- $line"
      continue
    fi
    reply=$line
    echo "qmp <- $reply"
    return 0
  done
}

# Waits for event $1 whose text contains $2: from the queue first, then as it arrives.
qmp_event() {
  local i
  for i in "${!events[@]}"; do
    if [[ ${events[$i]} == *"\"event\": \"$1\""* && ${events[$i]} == *"$2"* ]]; then
      unset 'events[i]'
      return 0
    fi
  done
  while IFS= read -r -t "$REPRO_TIMEOUT" line <&4; do
    line=${line%$'\r'}
    echo "qmp <- $line"
    if [[ $line == *"\"event\": \"$1\""* && $line == *"$2"* ]]; then return 0; fi
    events+=("$line")
  done
  echo "repro: warning: no $1 event for $2 within ${REPRO_TIMEOUT}s (the original run saw one)" >&2
}

# The guest agent: resynchronise with guest-sync and a fresh id until it answers.
qga_connect() {
  wait_for_socket "$dir/qga.sock"
  mkfifo "$dir/qga.in" "$dir/qga.out"
  socat - "UNIX-CONNECT:$dir/qga.sock" <"$dir/qga.in" >"$dir/qga.out" &
  exec 5>"$dir/qga.in" 6<"$dir/qga.out"
  local id=$((RANDOM * 32768 + RANDOM)) end=$((SECONDS + REPRO_TIMEOUT))
  echo "qga: waiting for the guest agent"
  while ((SECONDS < end)); do
    kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited while the guest was booting"
    # 0xFF resets the agent's parser. Attempts made before the agent ran are
    # all answered once it starts, in order, each with a parse error for its
    # 0xFF: a fresh id per attempt makes the answer to the last one the end
    # of everything stale.
    id=$((id + 1))
    printf '\xff{"execute":"guest-sync","arguments":{"id":%s}}\n' "$id" >&5
    while IFS= read -r -t 3 line <&6; do
      if [[ $line =~ \"return\":\ *$id\} ]]; then
        echo "qga: the guest agent answered"
        return 0
      fi
    done
  done
  fail "the guest agent did not answer"
}

qga_quiet() {
  printf '%s\n' "$1" >&5
  read_line 6 "guest agent reply to $1"
  reply=$line
}

qga() {
  echo "qga -> $1"
  qga_quiet "$1"
  echo "qga <- $reply"
}

# Reads a guest file through guest-file-open/read/close and prints it.
qga_cat() {
  local handle content="" b64
  qga_quiet "{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"$1\",\"mode\":\"r\"}}"
  if [[ ! $reply =~ \"return\":\ *([0-9]+) ]]; then
    echo "guest $1: (cannot open: $reply)"
    return 0
  fi
  handle=${BASH_REMATCH[1]}
  while :; do
    qga_quiet "{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":$handle,\"count\":65536}}"
    b64=$(sed -n 's/.*"buf-b64": *"\([^"]*\)".*/\1/p' <<<"$reply")
    content+=$(printf '%s' "$b64" | base64 -d 2>/dev/null)
    [[ $reply == *'"eof": true'* || $reply == *'"count": 0'* || -z $b64 ]] && break
  done
  qga_quiet "{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":$handle}}"
  if [[ $content == *$'\n'* ]]; then
    printf 'guest %s:\n%s\n' "$1" "$content" | sed '2,$s/^/    /'
  else
    echo "guest $1: $content"
  fi
}

# Writes base64 $2 to guest file $1.
qga_write() {
  local handle
  qga_quiet "{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"$1\",\"mode\":\"w\"}}"
  if [[ ! $reply =~ \"return\":\ *([0-9]+) ]]; then
    echo "guest write $1: (cannot open: $reply)"
    return 0
  fi
  handle=${BASH_REMATCH[1]}
  qga "{\"execute\":\"guest-file-write\",\"arguments\":{\"handle\":$handle,\"buf-b64\":\"$2\"}}"
  qga "{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":$handle}}"
}
)BASH";

std::string SingleQuoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// The QEMU command line as shell words, with the socket directory and accel
// left to the script's variables.
std::string QemuCommand(const MachineSpec& spec) {
  MachinePaths paths{fs::path(kDirPlaceholder) / "qmp.sock", fs::path(kDirPlaceholder) / "qga.sock",
                     fs::path(kDirPlaceholder) / "serial.log"};
  std::vector<std::string> argv =
      BuildCommandLine(spec, Accel::kTcg, paths, SocketMode::kQemuListens);
  std::string out;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string word;
    if (i > 0 && argv[i - 1] == "-accel") {
      word = "\"$REPRO_ACCEL\"";
    } else {
      word = ShellQuote(argv[i]);
      bool quoted = !word.empty() && word[0] == '\'';
      std::string replacement = quoted ? "'\"$dir\"'" : "\"$dir\"";
      for (size_t at; (at = word.find(kDirPlaceholder)) != std::string::npos;) {
        word.replace(at, sizeof kDirPlaceholder - 1, replacement);
      }
    }
    // Options start a new line: easier to read and to edit.
    if (i > 0) out += (argv[i][0] == '-' ? " \\\n  " : " ");
    out += word;
  }
  return out;
}

// The identifier a QMP event is matched on in the replay: the device id or path.
std::string EventKey(const nlohmann::json& event) {
  const auto& data = event.value("data", nlohmann::json::object());
  if (event.value("event", "") == "ACPI_DEVICE_OST") {
    const auto& info = data.value("info", nlohmann::json::object());
    if (info.contains("device") && info["device"].is_string()) return info["device"];
    return "";
  }
  if (data.contains("device") && data["device"].is_string()) return data["device"];
  if (data.contains("path") && data["path"].is_string()) return data["path"];
  return "";
}

class ScriptWriter {
 public:
  explicit ScriptWriter(std::ostringstream& out) : out_(out) {}

  // False when the replay has to stop (a migration).
  bool Add(const TranscriptEntry& e) {
    if (e.channel == "scenario" && e.arrow == "--") {
      out_ << "\necho " << SingleQuoted("### " + e.text) << "\n";
      return true;
    }
    if (e.channel != "qmp" && e.channel != "qga") return true;
    nlohmann::json msg = nlohmann::json::parse(e.text, nullptr, false);
    if (msg.is_discarded()) return true;
    if (e.channel == "qmp") return AddQmp(e, msg);
    AddQga(e, msg);
    return true;
  }

 private:
  bool AddQmp(const TranscriptEntry& e, const nlohmann::json& msg) {
    if (e.arrow == "<-") {
      std::string name = msg.value("event", "");
      if (name == "ACPI_DEVICE_OST" || name == "DEVICE_DELETED") {
        std::string key = EventKey(msg);
        // The id in quotes, so that "cpu-s1" does not match "cpu-s10".
        out_ << "qmp_event " << name << " " << SingleQuoted(key.empty() ? "" : "\"" + key + "\"")
             << "\n";
      }
      return true;
    }
    if (e.arrow != "->") return true;
    std::string command = msg.value("execute", "");
    if (command == "qmp_capabilities") return true;
    if (command == "quit") return false;
    if (command.rfind("migrate", 0) == 0 && command != "migrate-set-parameters" &&
        command != "migrate-set-capabilities") {
      out_ << "\necho 'repro: the run migrated the guest here; migration is not replayed'\n";
      return false;
    }
    out_ << "qmp " << SingleQuoted(e.text) << "\n";
    return true;
  }

  void AddQga(const TranscriptEntry& e, const nlohmann::json& msg) {
    if (e.arrow == "<-") {
      // The reply to a guest-file-open: the handle later commands refer to.
      if (pending_open_ && msg.contains("return") && msg["return"].is_number_integer()) {
        handles_[msg["return"].get<int64_t>()] = *pending_open_;
      }
      pending_open_.reset();
      return;
    }
    if (e.arrow != "->") return;
    if (!connected_) {
      out_ << "qga_connect\n";
      connected_ = true;
    }
    std::string command = msg.value("execute", "");
    const auto& args = msg.value("arguments", nlohmann::json::object());
    if (command == "guest-sync" || command == "guest-sync-delimited" ||
        command == "guest-exec-status") {
      return;  // resyncs happen by themselves; exec pids differ from run to run
    }
    if (command == "guest-file-open") {
      pending_open_ = OpenFile{args.value("path", ""), args.value("mode", "r")};
      if (pending_open_->mode == "r")
        out_ << "qga_cat " << SingleQuoted(pending_open_->path) << "\n";
      return;
    }
    if (command == "guest-file-read" || command == "guest-file-close" ||
        command == "guest-file-flush" || command == "guest-file-seek") {
      return;  // part of qga_cat / qga_write
    }
    if (command == "guest-file-write") {
      auto it = handles_.find(args.value("handle", int64_t{-1}));
      std::string path = it == handles_.end() ? "?" : it->second.path;
      out_ << "qga_write " << SingleQuoted(path) << " " << SingleQuoted(args.value("buf-b64", ""))
           << "\n";
      return;
    }
    out_ << "qga " << SingleQuoted(e.text) << "\n";
  }

  struct OpenFile {
    std::string path;
    std::string mode;
  };
  std::ostringstream& out_;
  bool connected_ = false;
  std::optional<OpenFile> pending_open_;
  std::map<int64_t, OpenFile> handles_;
};

}  // namespace

std::optional<TranscriptEntry> ParseTranscriptLine(const std::string& line) {
  // <utc> +<rel> <channel> <arrow> <text>
  std::istringstream in(line);
  TranscriptEntry e;
  std::string rel;
  if (!(in >> e.utc >> rel >> e.channel >> e.arrow)) return std::nullopt;
  if (rel.size() < 2 || rel[0] != '+') return std::nullopt;
  if (e.arrow != "->" && e.arrow != "<-" && e.arrow != "--") return std::nullopt;
  try {
    e.rel_s = std::stod(rel.substr(1));
  } catch (...) {
    return std::nullopt;
  }
  std::getline(in, e.text);
  if (!e.text.empty() && e.text[0] == ' ') e.text.erase(0, 1);
  return e;
}

std::vector<TranscriptEntry> ReadTranscript(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("no transcript at " + path.string());
  std::vector<TranscriptEntry> out;
  for (std::string line; std::getline(in, line);) {
    if (auto e = ParseTranscriptLine(line)) out.push_back(std::move(*e));
  }
  return out;
}

std::string GenerateReproScript(const fs::path& run_dir) {
  fs::path spec_path = run_dir / "spec.json";
  if (!fs::exists(spec_path)) {
    throw Error(run_dir.string() +
                " is not a cpuhp run directory (no spec.json; did the run boot?)");
  }
  nlohmann::json spec_json = ReadJsonFile(spec_path);
  MachineSpec spec = SpecFromJson(spec_json);
  std::string accel = spec_json.value("accel_resolved", "tcg");
  std::vector<TranscriptEntry> entries = ReadTranscript(run_dir / "transcript.log");
  std::string label = spec.name;
  std::string started;
  if (fs::exists(run_dir / "result.json")) {
    nlohmann::json result = ReadJsonFile(run_dir / "result.json");
    label = result.value("label", label);
    started = result.value("started", "");
  }

  std::ostringstream out;
  out << "#!/usr/bin/env bash\n"
      << "# Replays cpuhp run " << label << (started.empty() ? "" : " (recorded " + started + ")")
      << ".\n"
      << "# Standalone: needs bash, socat, base64 and QEMU, not cpuhp. It boots the same\n"
      << "# guest with the same command line, then sends the recorded QMP and guest\n"
      << "# agent commands in order, waiting for each reply and for the hotplug events\n"
      << "# the run waited on, and prints what comes back (guest files as\n"
      << "# \"guest PATH: CONTENT\"). The kernel, initrd or disk named below must exist\n"
      << "# here: copy them along when replaying on another machine.\n"
      << "#   bash repro.sh                    # replay\n"
      << "#   REPRO_ACCEL=kvm bash repro.sh    # on a KVM host (recorded: " << accel << ")\n"
      << "#   REPRO_KEEP=1 bash repro.sh       # keep serial.log and qemu.log\n"
      << "set -u\n";
  std::string helpers = kHelpers;
  helpers.replace(helpers.find("@ACCEL@"), 7, accel);
  out << helpers;
  out << "\n# The run's QEMU, with its sockets in $dir and QEMU listening on them.\n"
      << QemuCommand(spec) << " \\\n  </dev/null >\"$dir/qemu.log\" 2>&1 &\n"
      << "qemu_pid=$!\n"
      << "echo \"repro: QEMU started (pid $qemu_pid), logs in $dir\"\n"
      << "qmp_connect\n";
  ScriptWriter writer(out);
  for (const auto& e : entries) {
    if (!writer.Add(e)) break;
  }
  out << "\necho '### replay done'\n"
      << "echo '--- serial log (last lines)'\n"
      << "tail -n 20 \"$dir/serial.log\"\n"
      << "printf '%s\\n' '{\"execute\":\"quit\"}' >&3\n"
      << "wait \"$qemu_pid\" 2>/dev/null\n"
      << "qemu_pid=\n";
  return out.str();
}

fs::path WriteReproScript(const fs::path& run_dir, const fs::path& out) {
  fs::path path = out.empty() ? run_dir / "repro.sh" : out;
  WriteTextFile(path, GenerateReproScript(run_dir));
  ::chmod(path.c_str(), 0755);
  return path;
}

}  // namespace cpuhp
