#include "report/repro.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>

#include "report/artifacts.h"
#include "report/spec_json.h"
#include "util/text.h"
#include "util/error.h"
#include "util/log.h"
#include "util/transcript.h"
#include "vm/boot_template.h"

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

bool HasControl(std::string_view s) {
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return true;
  }
  return false;
}

// One shell word on one line: ShellQuote's form, or bash's $'...' with \xHH
// for control characters, so that a newline in a spec.json value cannot
// start a line of its own.
std::string ScriptWord(const std::string& s) {
  if (!HasControl(s)) return ShellQuote(s);
  std::string out = "$'";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '\\' || c == '\'') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Text for an echo or a comment: one line, nothing a terminal would obey.
std::string EchoText(const std::string& s) { return SingleQuoted(TerminalSafe(s)); }

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
      // Each piece between placeholders quoted on its own, "$dir" between them.
      const std::string& arg = argv[i];
      size_t from = 0;
      for (size_t at; (at = arg.find(kDirPlaceholder, from)) != std::string::npos;) {
        if (at > from) word += ScriptWord(arg.substr(from, at - from));
        word += "\"$dir\"";
        from = at + sizeof kDirPlaceholder - 1;
      }
      if (from < arg.size() || word.empty()) word += ScriptWord(arg.substr(from));
    }
    // Options start a new line: easier to read and to edit.
    if (i > 0) out += (argv[i][0] == '-' ? " \\\n  " : " ");
    out += word;
  }
  return out;
}

// `j[key]` when j is an object holding it, else nullptr: transcript JSON is
// partly the guest's, and nlohmann's value() throws on the wrong type.
const nlohmann::json* Member(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string StringMember(const nlohmann::json& j, const char* key) {
  const nlohmann::json* m = Member(j, key);
  return m && m->is_string() ? m->get<std::string>() : "";
}

// The identifier a QMP event is matched on in the replay: the device id or path.
std::string EventKey(const nlohmann::json& event) {
  const nlohmann::json* data = Member(event, "data");
  if (!data) return "";
  if (StringMember(event, "event") == "ACPI_DEVICE_OST") {
    const nlohmann::json* info = Member(*data, "info");
    return info ? StringMember(*info, "device") : "";
  }
  std::string device = StringMember(*data, "device");
  return device.empty() ? StringMember(*data, "path") : device;
}

// Every device cpuhp plugs is a vCPU ("<model>-x86_64-cpu"); other drivers
// (vfio-pci, usb-host, file-backed storage) open host resources.
bool IsCpuDevice(const nlohmann::json& msg) {
  const nlohmann::json* args = Member(msg, "arguments");
  std::string driver = args ? StringMember(*args, "driver") : "";
  constexpr std::string_view kSuffix = "-cpu";
  return driver.size() > kSuffix.size() && driver.ends_with(kSuffix);
}

// Nesting a replayed command may have: cpuhp's deepest (guest-set-vcpus)
// has 4 levels; deeper is not cpuhp's, and would recurse in dump().
constexpr int kMaxReplayDepth = 16;

struct ReplayRule {
  std::string_view command;
  bool prefix;                             // every command starting with it
  bool (*allowed)(const nlohmann::json&);  // nullptr: any arguments
};
// What a replay sends to QEMU. The script runs on a developer's machine and
// the transcript is partly guest-written, so only what cpuhp itself sends in
// a hotplug run, none of which reaches the host beyond the VM, is replayed.
// Never: human-monitor-command (HMP `migrate exec:` runs a host shell),
// chardev-add, netdev_add, object-add, getfd (host files, sockets, fds),
// screendump and dump-guest-memory (write host files), qom-set, blockdev-*.
constexpr ReplayRule kQmpReplayed[] = {
    {"device_add", false, &IsCpuDevice},  // CPU hotplug, the thing under test
    {"device_del", false, nullptr},       // unplug: by id or QOM path, in the VM only
    {"query-", true, nullptr},            // read-only by QEMU's naming convention
    {"qom-get", false, nullptr},          // read-only
    {"qom-list", false, nullptr},         // read-only
    {"cont", false, nullptr},             // run state of the VM itself
    {"stop", false, nullptr},
    {"system_reset", false, nullptr},
};
// The agent commands cpuhp sends, all acting inside the guest: file reads
// and writes for sysfs, vCPU state, and guest-exec for the guest load.
constexpr ReplayRule kQgaReplayed[] = {
    {"guest-ping", false, nullptr},      {"guest-get-vcpus", false, nullptr},
    {"guest-set-vcpus", false, nullptr}, {"guest-exec", false, nullptr},
};

bool Allowed(std::span<const ReplayRule> rules, const std::string& command,
             const nlohmann::json& msg) {
  for (const auto& r : rules) {
    bool match = r.prefix ? command.starts_with(r.command) : command == r.command;
    if (match) return !r.allowed || r.allowed(msg);
  }
  return false;
}

class ScriptWriter {
 public:
  explicit ScriptWriter(std::ostringstream& out) : out_(out) {}

  // False when the replay has to stop (a migration).
  bool Add(const TranscriptEntry& e) {
    // A boot template's save or restore (vm/boot_template.h): the script
    // boots cold, its guest never stopped, nothing of that is replayed.
    if (e.channel == "vm" && e.arrow == "--") {
      if (e.text.starts_with(kTemplateNoteBegin)) in_template_ = true;
      if (e.text.starts_with(kTemplateNoteEnd)) in_template_ = false;
      return true;
    }
    if (in_template_) return true;
    if (e.channel == "scenario" && e.arrow == "--") {
      out_ << "\necho " << EchoText("### " + e.text) << "\n";
      return true;
    }
    if (e.channel != "qmp" && e.channel != "qga") return true;
    nlohmann::json msg = nlohmann::json::parse(e.text, nullptr, false);
    if (msg.is_discarded()) return true;
    if (e.channel == "qmp") return AddQmp(e, msg);
    AddQga(e, msg);
    return true;
  }

  // Commands left out, by name (counts), for the script's comment and stderr.
  const std::map<std::string, int>& dropped() const { return dropped_; }

 private:
  bool in_template_ = false;
  void Drop(const std::string& command) {
    ++dropped_[command.empty() ? "(not a command)" : command];
  }

  // The command as parsed, not as recorded: a duplicate "execute" key cannot
  // show one command to this filter and another to QEMU.
  static std::string Replayed(const nlohmann::json& msg) {
    return SingleQuoted(msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  // Whether `j` nests at most `levels` deep; it only looks that far, and
  // dump() recurses once per level.
  static bool Shallow(const nlohmann::json& j, int levels) {
    if (!j.is_structured()) return true;
    if (levels == 0) return false;
    for (const auto& v : j) {
      if (!Shallow(v, levels - 1)) return false;
    }
    return true;
  }

  bool AddQmp(const TranscriptEntry& e, const nlohmann::json& msg) {
    if (e.arrow == "<-") {
      std::string name = StringMember(msg, "event");
      if (name == "ACPI_DEVICE_OST" || name == "DEVICE_DELETED") {
        std::string key = EventKey(msg);
        // The id in quotes, so that "cpu-s1" does not match "cpu-s10". A key
        // with control characters could not match the event's JSON text.
        if (HasControl(key)) return true;
        out_ << "qmp_event " << name << " " << SingleQuoted(key.empty() ? "" : "\"" + key + "\"")
             << "\n";
      }
      return true;
    }
    if (e.arrow != "->") return true;
    std::string command = StringMember(msg, "execute");
    if (command == "qmp_capabilities") return true;  // the script's own handshake
    if (command == "quit") return false;
    if (command == "migrate-set-parameters" || command == "migrate-set-capabilities") {
      return true;  // they configure the migration, which is not replayed
    }
    if (command.starts_with("migrate")) {
      out_ << "\necho 'repro: the run migrated the guest here; migration is not replayed'\n";
      return false;
    }
    if (!Allowed(kQmpReplayed, command, msg) || !Shallow(msg, kMaxReplayDepth)) {
      Drop(command);
      return true;
    }
    out_ << "qmp " << Replayed(msg) << "\n";
    return true;
  }

  void AddQga(const TranscriptEntry& e, const nlohmann::json& msg) {
    if (e.arrow == "<-") {
      // The reply to a guest-file-open: the handle later commands refer to.
      const nlohmann::json* ret = Member(msg, "return");
      if (pending_open_ && ret && ret->is_number_integer()) {
        handles_[ret->get<int64_t>()] = *pending_open_;
      }
      pending_open_.reset();
      return;
    }
    if (e.arrow != "->") return;
    // The agent is connected where the run first talked to it (its first sync).
    if (!connected_) {
      out_ << "qga_connect\n";
      connected_ = true;
    }
    std::string command = StringMember(msg, "execute");
    const nlohmann::json* args_member = Member(msg, "arguments");
    const nlohmann::json args =
        args_member && args_member->is_object() ? *args_member : nlohmann::json::object();
    if (command == "guest-sync" || command == "guest-sync-delimited" ||
        command == "guest-exec-status") {
      return;  // resyncs happen by themselves; exec pids differ from run to run
    }
    if (command == "guest-file-read" || command == "guest-file-close" ||
        command == "guest-file-flush" || command == "guest-file-seek") {
      return;  // part of qga_cat / qga_write
    }
    if (command == "guest-file-open") {
      std::string mode = args.contains("mode") ? StringMember(args, "mode") : "r";
      std::string path = StringMember(args, "path");
      // Reads print the file, "w" is how cpuhp writes sysfs: nothing else.
      if ((mode != "r" && mode != "w") || path.empty() || HasControl(path)) {
        Drop(command + " (mode " + mode + ")");
        pending_open_.reset();
        return;
      }
      pending_open_ = OpenFile{path, mode};
      if (mode == "r") out_ << "qga_cat " << SingleQuoted(path) << "\n";
      return;
    }
    if (command == "guest-file-write") {
      const nlohmann::json* handle = Member(args, "handle");
      auto it = handle && handle->is_number_integer() ? handles_.find(handle->get<int64_t>())
                                                      : handles_.end();
      std::string b64 = StringMember(args, "buf-b64");
      if (it == handles_.end() || it->second.mode != "w" ||
          b64.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
              std::string::npos) {
        Drop(command);
        return;
      }
      out_ << "qga_write " << SingleQuoted(it->second.path) << " " << SingleQuoted(b64) << "\n";
      return;
    }
    if (!Allowed(kQgaReplayed, command, msg) || !Shallow(msg, kMaxReplayDepth)) {
      Drop(command);
      return;
    }
    out_ << "qga " << Replayed(msg) << "\n";
  }

  struct OpenFile {
    std::string path;
    std::string mode;
  };
  std::ostringstream& out_;
  bool connected_ = false;
  std::optional<OpenFile> pending_open_;
  std::map<int64_t, OpenFile> handles_;
  std::map<std::string, int> dropped_;
};

// Distinct dropped command names listed, and bytes of each: the names come
// from the transcript, so a hostile one must not make the comment huge.
constexpr size_t kMaxDroppedListed = 20;
constexpr size_t kMaxDroppedNameBytes = 64;

// "human-monitor-command x2, screendump x1": one line, terminal-safe.
std::string DroppedList(const std::map<std::string, int>& dropped) {
  std::string out;
  size_t listed = 0;
  for (const auto& [name, count] : dropped) {
    if (listed == kMaxDroppedListed) {
      out += ", and " + std::to_string(dropped.size() - listed) + " more";
      break;
    }
    std::string shown = TerminalSafe(name.substr(0, kMaxDroppedNameBytes));
    out += (listed++ ? ", " : "") + shown + " x" + std::to_string(count);
  }
  return out;
}

// Is the line "<utc> " with utc exactly as UtcTimestamp() writes it?
bool IsTimestamp(std::string_view t) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (t.size() != kShape.size()) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    bool ok = kShape[i] == 'd' ? (t[i] >= '0' && t[i] <= '9') : t[i] == kShape[i];
    if (!ok) return false;
  }
  return true;
}

// "+1.234": a plus, digits, optionally a point and digits.
std::optional<double> RelativeSeconds(std::string_view t) {
  if (t.size() < 2 || t[0] != '+') return std::nullopt;
  size_t digits = 0, points = 0;
  for (size_t i = 1; i < t.size(); ++i) {
    if (t[i] >= '0' && t[i] <= '9') {
      ++digits;
    } else if (t[i] == '.' && ++points == 1 && i > 1 && i + 1 < t.size()) {
      continue;
    } else {
      return std::nullopt;
    }
  }
  if (digits == 0) return std::nullopt;
  try {
    return std::stod(std::string(t.substr(1)));
  } catch (const std::exception&) {  // out of range
    return std::nullopt;
  }
}

bool IsChannel(std::string_view t) {
  if (t.empty()) return false;
  for (char c : t) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::optional<TranscriptEntry> ParseTranscriptLine(const std::string& line) {
  // <utc> +<rel> <channel> <arrow> <text>, single spaces, the text escaped
  // as Transcript writes it. Anything else is not a record.
  std::string_view rest = line;
  std::string_view fields[4];
  for (auto& f : fields) {
    size_t space = rest.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    f = rest.substr(0, space);
    rest.remove_prefix(space + 1);
  }
  TranscriptEntry e;
  if (!IsTimestamp(fields[0]) || !IsChannel(fields[2])) return std::nullopt;
  auto rel = RelativeSeconds(fields[1]);
  if (!rel) return std::nullopt;
  if (fields[3] != "->" && fields[3] != "<-" && fields[3] != "--") return std::nullopt;
  auto text = UnescapeTranscriptText(rest);
  if (!text) return std::nullopt;
  e.utc = fields[0];
  e.rel_s = *rel;
  e.channel = fields[2];
  e.arrow = fields[3];
  e.text = std::move(*text);
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
  // Pasted into the script as REPRO_ACCEL's default: only the two values a
  // run resolves to.
  std::string accel = StringMember(spec_json, "accel_resolved");
  if (!Member(spec_json, "accel_resolved")) accel = "tcg";
  if (accel != "tcg" && accel != "kvm") {
    throw ProtocolError(spec_path.string() + ": accel_resolved is \"" +
                        TerminalSafe(accel.substr(0, kMaxDroppedNameBytes)) +
                        "\", expected kvm or tcg");
  }
  std::vector<TranscriptEntry> entries = ReadTranscript(run_dir / "transcript.log");
  std::string label = spec.name;
  std::string started;
  if (fs::exists(run_dir / "result.json")) {
    nlohmann::json result = ReadJsonFile(run_dir / "result.json");
    if (!StringMember(result, "label").empty()) label = StringMember(result, "label");
    started = StringMember(result, "started");
  }

  std::ostringstream body;
  ScriptWriter writer(body);
  for (const auto& e : entries) {
    if (!writer.Add(e)) break;
  }
  std::string dropped = DroppedList(writer.dropped());
  if (!dropped.empty()) {
    LOG(kWarning, "repro") << TerminalSafe(run_dir.string())
                           << ": not replayed (not on the replay allowlist): " << dropped;
  }

  std::ostringstream out;
  out << "#!/usr/bin/env bash\n"
      << "# Replays cpuhp run " << TerminalSafe(label)
      << (started.empty() ? "" : " (recorded " + TerminalSafe(started) + ")") << ".\n"
      << "# Standalone: needs bash, socat, base64 and QEMU, not cpuhp. It boots the same\n"
      << "# guest with the same command line, then sends the recorded QMP and guest\n"
      << "# agent commands in order, waiting for each reply and for the hotplug events\n"
      << "# the run waited on, and prints what comes back (guest files as\n"
      << "# \"guest PATH: CONTENT\"). The kernel, initrd or disk named below must exist\n"
      << "# here: copy them along when replaying on another machine.\n"
      << "# Only an allowlist of commands is replayed (hotplug, queries, guest vCPU\n"
      << "# and file commands); review the QEMU command line below before running a\n"
      << "# script made from someone else's run: it runs what spec.json names.\n";
  if (!dropped.empty()) out << "# Not replayed (not on the replay allowlist): " << dropped << "\n";
  out << "#   bash repro.sh                    # replay\n"
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
      << "qmp_connect\n"
      << body.str();
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
