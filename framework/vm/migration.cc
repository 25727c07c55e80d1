// Migrate(): one hop from a running source QEMU to a fresh destination.
#include "vm/migration.h"

#include <algorithm>
#include <optional>

#include "util/log.h"
#include "util/temp_dir.h"
#include "util/wait.h"

namespace cpuhp {
namespace {

using nlohmann::json;

constexpr auto kProgressInterval = std::chrono::seconds(5);
// How long to wait for the next MIGRATION event before looking at timers and
// at whether both QEMUs are still alive.
constexpr auto kFollowSlice = std::chrono::milliseconds(250);
// A destination that died: how long the source may take to notice.
constexpr auto kSourceNoticeTimeout = std::chrono::seconds(30);
// A destination that failed to load the stream exits by itself within a
// fraction of a second; this long for its SHUTDOWN, then for its exit.
constexpr auto kFailedDestinationExitTimeout = std::chrono::seconds(5);
constexpr char kProbeDeviceId[] = "cpuhp-migration-probe";
// QEMU 7.2's final counters come a moment after "completed" (see
// ReadFinalQueryMigrate): they are re-read this often, for at most this long.
constexpr auto kFinalCountersInterval = std::chrono::milliseconds(10);
constexpr auto kFinalCountersTimeout = std::chrono::seconds(2);

bool IsTerminal(const std::string& status) {
  return status == "completed" || status == "failed" || status == "cancelled" ||
         status == "postcopy-paused";
}

std::string RunState(QmpLink& qmp) {
  return qmp.Execute("query-status").value("status", "?");
}

std::string ListLines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += "\n    " + s;
  return out;
}

// The work of one Migrate() call. Holds the destination until it is handed
// over; anything thrown before that destroys it (killing its QEMU).
class MigrationRun {
 public:
  MigrationRun(Machine& source, std::filesystem::path dir, const MigrationOptions& options,
               MigrationResult& result)
      : source_(source),
        dir_(std::move(dir)),
        options_(options),
        result_(result),
        deadline_(Deadline::After(options.timeout)) {}

  std::unique_ptr<Machine> Run() {
    Prepare();
    Start();
    std::string status = Follow();
    ReadFinalQueryMigrate(status);
    if (status == "completed") return Complete();
    if (status == "cancelled") return Cancelled();
    Failed(status);
  }

 private:
  QmpClient& SourceQmp() {
    if (!source_.Running()) SourceDied("");
    return source_.Qmp();
  }

  void Note(Machine& vm, const std::string& text) {
    vm.transcript().Record("migration", Transcript::Direction::kNote, text);
  }

  std::string Hop() const { return source_.name() + " -> " + result_.destination_name; }

  void Prepare() {
    result_.destination_name = dir_.filename().string();
    if (result_.destination_name.empty()) result_.destination_name = source_.name() + "-migrated";
    if (std::filesystem::weakly_canonical(dir_) ==
        std::filesystem::weakly_canonical(source_.artifacts_dir())) {
      throw MigrationError("migration of " + source_.name() +
                           ": the destination's artifacts dir is the source's (" + dir_.string() +
                           ")");
    }
    std::string state = RunState(source_.Qmp());
    if (state != "running") {
      throw MigrationError("migration of " + source_.name() + ": the source is " + state +
                           ", not running");
    }
    // A cancelled or failed migration earlier may have left events behind.
    while (source_.Qmp().TryWaitForEvent("MIGRATION", nullptr, Deadline::AfterUnscaled({}))) {
    }

    source_view_before_ = ReadHostView(source_.Qmp());
    if (options_.verify) {
      guest_before_ = ReadGuestSnapshot(source_.Agent(),
                                        Deadline::After(kAgentTimeout * 4).Min(deadline_));
    }
    MachineSpec spec = DestinationSpecFrom(source_.spec(), source_view_before_,
                                           result_.destination_name, options_);
    spec.accel = source_.accel();
    for (const auto& id : options_.omit_cpu_devices) {
      LOG(kWarning, "migration") << Hop() << ": leaving " << id
                                 << " out of the destination on purpose (omit_cpu_devices)";
    }

    destination_ = std::make_unique<Machine>(std::move(spec), dir_);
    try {
      destination_->Launch(Deadline::After(kBootTimeout).Min(deadline_));
    } catch (Error& e) {
      throw MigrationError("migration " + Hop() + ": the destination QEMU did not start: " +
                           e.what());
    }
    result_.destination_args = destination_->command_line();

    json caps = json::array({{{"capability", "events"}, {"state", true}},
                             {{"capability", "return-path"},
                              {"state", options_.return_path || options_.postcopy}},
                             {{"capability", "postcopy-ram"}, {"state", options_.postcopy}}});
    // The destination first: if it refuses (no userfaultfd for post-copy),
    // the source has not been touched.
    SetCapabilities(*destination_, caps, "destination");
    SetCapabilities(source_, caps, "source");

    // Unset options mean QEMU's defaults, which a fresh QEMU still has.
    json defaults = destination_->Qmp().Execute("query-migrate-parameters");
    json params = {
        {"max-bandwidth", options_.max_bandwidth ? json(*options_.max_bandwidth)
                                                 : defaults.at("max-bandwidth")},
        {"downtime-limit", options_.downtime_limit_ms ? json(*options_.downtime_limit_ms)
                                                      : defaults.at("downtime-limit")},
    };
    try {
      source_.Qmp().Execute("migrate-set-parameters", params);
    } catch (const QmpError& e) {
      throw MigrationError("migration " + Hop() + ": the source refused migrate-set-parameters " +
                           params.dump() + ": " + e.desc());
    }

    if (options_.transport == MigrationOptions::Transport::kUnix) {
      // sun_path is 108 bytes; artifact paths can be longer.
      socket_dir_.emplace(std::filesystem::temp_directory_path(), "cpuhp-mig-");
      result_.uri = "unix:" + (socket_dir_->path() / "migrate.sock").string();
      Incoming(result_.uri);
    } else {
      // Port 0: the destination picks a free port and says which.
      Incoming("tcp:127.0.0.1:0");
      json info = destination_->Qmp().Execute("query-migrate");
      auto addrs = info.value("socket-address", json::array());
      if (addrs.empty() || !addrs[0].contains("port")) {
        throw MigrationError("migration " + Hop() +
                             ": the destination did not report its TCP port (query-migrate: " +
                             info.dump() + ")");
      }
      const json& port = addrs[0]["port"];
      result_.uri = "tcp:127.0.0.1:" + (port.is_string() ? port.get<std::string>() : port.dump());
    }
  }

  void SetCapabilities(Machine& vm, const json& caps, const char* side) {
    try {
      vm.Qmp().Execute("migrate-set-capabilities", {{"capabilities", caps}});
    } catch (const QmpError& e) {
      std::string hint = options_.postcopy ? " (post-copy needs userfaultfd on the host)" : "";
      throw MigrationError("migration " + Hop() + ": the " + side + " refused capabilities " +
                           caps.dump() + ": " + e.desc() + hint);
    }
  }

  void Incoming(const std::string& uri) {
    try {
      destination_->Qmp().Execute("migrate-incoming", {{"uri", uri}});
    } catch (const QmpError& e) {
      throw MigrationError("migration " + Hop() + ": migrate-incoming " + uri + " failed: " +
                           e.desc());
    }
  }

  void Start() {
    LOG(kInfo, "migration") << Hop() << ": migrating over " << result_.uri << " ("
                            << destination_->spec().cpu_devices.size()
                            << " hot-plugged CPU device(s) on the destination)";
    Note(source_, "migrate to " + result_.destination_name + " over " + result_.uri);
    Note(*destination_, "incoming migration from " + source_.name() + " over " + result_.uri);
    started_ = Clock::now();
    try {
      SourceQmp().Execute("migrate", {{"uri", result_.uri}});
    } catch (const QmpError& e) {
      // The source could not even connect: the destination died already, say.
      start_error_ = e.desc();
    }
  }

  std::string Follow() {
    if (start_error_) return "failed";
    // Timers not (or no longer) armed sit at kNever.
    constexpr Clock::time_point kNever = Clock::time_point::max();
    Clock::time_point cancel_at = kNever, fault_at = kNever;
    std::optional<Clock::time_point> destination_dead_since;
    if (options_.cancel_after) cancel_at = started_ + *options_.cancel_after;
    bool active_seen = false;
    Clock::time_point next_progress = Clock::now() + kProgressInterval;
    std::string last = "setup";
    for (;;) {
      Clock::time_point wake = std::min({Clock::now() + kFollowSlice, cancel_at, fault_at});
      std::optional<json> event;
      try {
        event = SourceQmp().TryWaitForEvent(
            "MIGRATION", nullptr, Deadline::AfterUnscaled(wake - Clock::now()).Min(deadline_));
      } catch (const ConnectionError&) {
        SourceDied(last);
      }
      if (event) {
        last = (*event)["data"].value("status", "?");
        result_.statuses.push_back(last);
        LOG(kInfo, "migration") << Hop() << ": " << last << " after "
                                << FormatDuration(Clock::now() - started_);
        if (last == "active" && !active_seen) {
          active_seen = true;
          OnActive();
          if (options_.fault != MigrationOptions::Fault::kNone) {
            fault_at = Clock::now() + options_.fault_after;
          }
        }
        if (IsTerminal(last)) return last;
        continue;
      }
      Clock::time_point now = Clock::now();
      if (now >= cancel_at) {
        cancel_at = kNever;
        LOG(kInfo, "migration") << Hop() << ": migrate_cancel after " << FormatDuration(now - started_);
        Note(source_, "migrate_cancel");
        SourceQmp().Execute("migrate_cancel");
      }
      if (now >= fault_at) {
        fault_at = kNever;
        InjectFault();
      }
      if (!source_.Running()) SourceDied(last);
      if (!destination_->Running()) {
        // The source notices a dead destination when its next write fails;
        // give it a bounded while to say "failed".
        if (!destination_dead_since) destination_dead_since = now;
        if (now - *destination_dead_since > kSourceNoticeTimeout) return "failed";
      }
      if (deadline_.Expired()) TimedOut(last);
      if (now >= next_progress) {
        next_progress = now + kProgressInterval;
        LogProgress();
      }
    }
  }

  void OnActive() {
    if (options_.probe_hotplug) ProbeHotplug();
    if (options_.postcopy) {
      try {
        SourceQmp().Execute("migrate-start-postcopy");
      } catch (const QmpError& e) {
        throw MigrationError("migration " + Hop() + ": migrate-start-postcopy failed: " + e.desc());
      }
    }
    if (options_.on_active) options_.on_active(source_, *destination_);
  }

  void Probe(const std::string& command, const json& args) {
    QmpProbe probe;
    probe.command = command;
    probe.arguments = args;
    try {
      SourceQmp().Execute(command, args);
      probe.accepted = true;
      LOG(kWarning, "migration") << Hop() << ": QEMU accepted " << command
                                 << " while migrating";
    } catch (const QmpError& e) {
      probe.error_class = e.error_class();
      probe.desc = e.desc();
      LOG(kInfo, "migration") << Hop() << ": " << command << " while migrating: " << e.error_class()
                              << ": " << e.desc();
    }
    result_.probes.push_back(std::move(probe));
  }

  void ProbeHotplug() {
    HostView view = ReadHostView(SourceQmp());
    for (const auto& slot : view.slots) {
      if (slot.plugged()) continue;
      json args = slot.props.ToJson();
      args.erase("node-id");
      args["driver"] = slot.type;
      args["id"] = kProbeDeviceId;
      Probe("device_add", args);
      break;
    }
    for (const auto& slot : view.slots) {
      if (auto id = PluggedDeviceId(slot)) {
        Probe("device_del", {{"id", *id}});
        break;
      }
    }
  }

  void InjectFault() {
    bool destination = options_.fault == MigrationOptions::Fault::kKillDestination;
    LOG(kInfo, "migration") << Hop() << ": test fault: killing the "
                            << (destination ? "destination" : "source") << " QEMU";
    Note(destination ? *destination_ : source_, "test fault: SIGKILL");
    if (destination) {
      destination_->Kill();
    } else {
      source_.Kill();
    }
  }

  void LogProgress() {
    try {
      json info = SourceQmp().Execute("query-migrate");
      last_query_migrate_ = info;
      const json ram = info.value("ram", json::object());
      LOG(kInfo, "migration") << Hop() << ": " << info.value("status", "?") << ", "
                              << ram.value("transferred", int64_t{0}) / (1 << 20) << " MiB sent, "
                              << ram.value("remaining", int64_t{0}) / (1 << 20)
                              << " MiB remaining, dirty rate " << ram.value("dirty-pages-rate", int64_t{0})
                              << " pages/s";
    } catch (const QmpError&) {
    }
  }

  [[noreturn]] void SourceDied(const std::string& last) {
    std::optional<ExitStatus> how = source_.exit_status();
    source_.Kill();  // reaps it and removes its sockets
    std::string why = how ? how->Describe() : "its QMP connection closed";
    if (destination_) destination_->Kill();
    MigrationError e("migration " + Hop() + ": the source QEMU died mid-migration (" + why +
                     (last.empty() ? "" : ", last status " + last) +
                     "); the destination, left waiting for the rest of the stream, was "
                     "stopped; nothing is left running");
    source_.AddContext(e);
    if (destination_) destination_->AddContext(e);
    throw e;
  }

  [[noreturn]] void TimedOut(const std::string& last) {
    LogProgress();
    std::string detail = last_query_migrate_.is_null() ? "" : " (query-migrate: " +
                                                                  last_query_migrate_.dump() + ")";
    // Leave the source as it was: cancel, and wait for it to say so.
    try {
      SourceQmp().Execute("migrate_cancel", nullptr, Deadline::After(kQmpTimeout));
      SourceQmp().TryWaitForEvent("MIGRATION", MatchData({{"status", "cancelled"}}),
                                  Deadline::After(kQmpTimeout));
    } catch (const Error& e) {
      LOG(kWarning, "migration") << Hop() << ": cancelling after the timeout: " << e.what();
    }
    destination_->Kill();
    MigrationError e("migration " + Hop() + " did not complete within " +
                     FormatDuration(std::chrono::duration_cast<Clock::duration>(options_.timeout *
                                                                     TimeoutScale())) +
                     ", last status " + last + detail +
                     ". A guest that dirties memory faster than it is sent never converges: "
                     "raise max_bandwidth or downtime_limit_ms, or use postcopy. The migration "
                     "was cancelled; the source keeps running");
    source_.AddContext(e);
    throw e;
  }

  void ReadFinalQueryMigrate(const std::string& status) {
    result_.status = status;
    if (!source_.Running()) return;
    try {
      result_.query_migrate = SourceQmp().Execute("query-migrate");
      // QEMU before 9.0 (7.2 here) sends "completed" before it computes
      // total-time and downtime: a query-migrate in between reads 0 for both
      // (fixed upstream by "migration: Fix qmp_query_migrate mbps value";
      // docs/known-issues.md). Nothing announces the final counters, so
      // they are re-read, briefly; a real migration never takes 0 ms.
      if (status == "completed") {
        WaitUntil(Deadline::After(kFinalCountersTimeout), kFinalCountersInterval, [&] {
          if (result_.query_migrate.value("total-time", int64_t{-1}) != 0) return true;
          result_.query_migrate = SourceQmp().Execute("query-migrate");
          return false;
        });
      }
    } catch (const QmpError&) {
      return;
    }
    if (auto it = result_.query_migrate.find("total-time"); it != result_.query_migrate.end()) {
      result_.total_time_ms = it->get<int64_t>();
    }
    if (auto it = result_.query_migrate.find("downtime"); it != result_.query_migrate.end()) {
      result_.downtime_ms = it->get<int64_t>();
    }
  }

  // Waits until `vm` runs: QEMU resumes a source after a failed or cancelled
  // migration, and starts the destination after loading the stream (RESUME).
  bool WaitForRunning(Machine& vm, const Deadline& deadline) {
    for (;;) {
      if (RunState(vm.Qmp()) == "running") return true;
      if (!vm.Qmp().TryWaitForEvent("RESUME", nullptr, deadline)) {
        return RunState(vm.Qmp()) == "running";
      }
    }
  }

  std::unique_ptr<Machine> Complete() {
    // Without the return path the source says "completed" once it has sent
    // everything, whether or not the destination could load it.
    Deadline wait = Deadline::After(kQmpTimeout).Min(deadline_);
    for (;;) {
      if (!destination_->Running()) {
        DestinationRejected();
      }
      std::optional<json> ev;
      try {
        ev = destination_->Qmp().TryWaitForEvent(
            "MIGRATION", MatchData({{"status", "completed"}}),
            Deadline::AfterUnscaled(kFollowSlice).Min(wait));
      } catch (const ConnectionError&) {
        DestinationRejected();
      }
      if (ev) break;
      if (wait.Expired()) {
        MigrationError e("migration " + Hop() + ": the source reported completed but the "
                         "destination never did");
        destination_->AddContext(e);
        throw e;
      }
    }
    if (!WaitForRunning(*destination_, Deadline::After(kQmpTimeout).Min(deadline_))) {
      MigrationError e("migration " + Hop() + ": the destination loaded the stream but is " +
                       RunState(destination_->Qmp()) + ", not running");
      destination_->AddContext(e);
      throw e;
    }
    destination_->WaitForAgent(Deadline::After(kBootTimeout).Min(deadline_));
    result_.wall_time = Clock::now() - started_;
    LOG(kInfo, "migration") << Hop() << ": completed; total-time "
                            << (result_.total_time_ms ? std::to_string(*result_.total_time_ms) : "?")
                            << " ms, downtime "
                            << (result_.downtime_ms ? std::to_string(*result_.downtime_ms) : "?")
                            << " ms, guest agent answering after " << FormatDuration(result_.wall_time);

    // The source is paused in postmigrate: what it says now is its state at the switch.
    result_.source_view = ReadHostView(source_.Qmp());
    result_.destination_view = ReadHostView(destination_->Qmp());
    if (options_.verify) {
      result_.differences = CompareHostViews(*result_.source_view, *result_.destination_view);
      GuestSnapshot after = ReadGuestSnapshot(destination_->Agent(),
                                              Deadline::After(kAgentTimeout * 4).Min(deadline_));
      for (auto& d : CompareGuestSnapshots(*guest_before_, after)) {
        result_.differences.push_back(std::move(d));
      }
    }
    Note(source_, "migration completed; retiring the source");
    Note(*destination_, "migration completed; this VM now runs the guest");
    source_.Shutdown();
    if (!result_.differences.empty()) {
      MigrationCheckFailure e("migration " + Hop() +
                                  " completed but the two sides disagree about the vCPUs:" +
                                  ListLines(result_.differences),
                              result_.differences);
      destination_->AddContext(e);
      throw e;
    }
    return std::move(destination_);
  }

  [[noreturn]] void DestinationRejected() {
    std::optional<ExitStatus> how;
    destination_->Kill();
    how = destination_->exit_status();
    MigrationError e("migration " + Hop() + ": the source reported completed, but the "
                     "destination QEMU exited (" + (how ? how->Describe() : "?") +
                     ") instead of running the guest: it could not load the stream (qemu.log "
                     "below). The source is paused in postmigrate and cannot take the guest back");
    destination_->AddContext(e);
    throw e;
  }

  std::unique_ptr<Machine> Cancelled() {
    // The destination sees its stream end; it has nothing to run.
    destination_->Kill();
    if (!WaitForRunning(source_, Deadline::After(kQmpTimeout).Min(deadline_))) {
      MigrationError e("migration " + Hop() + " was cancelled but the source is " +
                       RunState(source_.Qmp()) + ", not running");
      source_.AddContext(e);
      throw e;
    }
    source_.Agent().Ping(Deadline::After(kAgentTimeout).Min(deadline_));
    result_.wall_time = Clock::now() - started_;
    LOG(kInfo, "migration") << Hop() << ": cancelled; the source keeps running";
    Note(source_, "migration cancelled; this VM keeps running the guest");
    result_.source_view = ReadHostView(source_.Qmp());
    if (options_.verify) {
      result_.differences = CompareHostViews(source_view_before_, *result_.source_view);
      GuestSnapshot after = ReadGuestSnapshot(source_.Agent(),
                                              Deadline::After(kAgentTimeout * 4).Min(deadline_));
      for (auto& d : CompareGuestSnapshots(*guest_before_, after)) {
        result_.differences.push_back(std::move(d));
      }
      if (!result_.differences.empty()) {
        throw MigrationCheckFailure("migration " + Hop() +
                                        " was cancelled but the source changed:" +
                                        ListLines(result_.differences),
                                    result_.differences);
      }
    }
    return nullptr;
  }

  [[noreturn]] void Failed(const std::string& status) {
    std::string reason = start_error_ ? "migrate: " + *start_error_
                                      : result_.query_migrate.value("error-desc", "");
    // A destination that failed to load the stream exits by itself; let it
    // finish writing why (to qemu.log) before stopping it.
    if (destination_->Running()) {
      bool ending = false;
      try {
        ending = destination_->Qmp()
                     .TryWaitForEvent("SHUTDOWN", nullptr, Deadline::After(kFailedDestinationExitTimeout))
                     .has_value();
      } catch (const Error&) {
        ending = true;  // ConnectionError: QEMU closed QMP on its way out
      }
      // Reap it, so that what the error says about the destination is what happened.
      if (ending) destination_->WaitForExit(Deadline::After(kFailedDestinationExitTimeout));
    }
    std::optional<ExitStatus> destination_end = destination_->exit_status();
    bool destination_was_running = destination_->Running();
    destination_->Kill();

    std::string source_state;
    if (status == "postcopy-paused") {
      source_state = "the source is paused in postcopy-paused: the guest's memory is split "
                     "between the two QEMUs and neither can run it";
    } else if (WaitForRunning(source_, Deadline::After(kQmpTimeout).Min(deadline_))) {
      source_state = "the source keeps running the guest";
    } else {
      source_state = "the source is " + RunState(source_.Qmp()) + ", not running";
    }
    std::string destination_state =
        destination_end ? "the destination QEMU exited (" + destination_end->Describe() + ")"
        : destination_was_running ? "the destination QEMU was still waiting and was stopped"
                                  : "the destination QEMU is gone";
    MigrationError e("migration " + Hop() + " over " + result_.uri + " " + status +
                     (reason.empty() ? "" : " (" + reason + ")") + "; " + destination_state +
                     "; " + source_state);
    destination_->AddContext(e);
    throw e;
  }

  Machine& source_;
  std::filesystem::path dir_;
  const MigrationOptions& options_;
  MigrationResult& result_;
  Deadline deadline_;
  std::unique_ptr<Machine> destination_;
  std::optional<TempDir> socket_dir_;
  HostView source_view_before_;
  std::optional<GuestSnapshot> guest_before_;
  Clock::time_point started_;
  std::optional<std::string> start_error_;
  json last_query_migrate_;
};

}  // namespace

nlohmann::json MigrationResult::ToJson() const {
  json j = {{"status", status},
            {"destination", destination_name},
            {"uri", uri},
            {"wall_time_s", ToSeconds(wall_time)},
            {"statuses", statuses},
            {"destination_args", destination_args},
            {"differences", differences},
            {"query_migrate", query_migrate}};
  j["total_time_ms"] = total_time_ms ? json(*total_time_ms) : json(nullptr);
  j["downtime_ms"] = downtime_ms ? json(*downtime_ms) : json(nullptr);
  json probes_json = json::array();
  for (const auto& p : probes) {
    json pj = {{"command", p.command}, {"arguments", p.arguments}, {"accepted", p.accepted}};
    if (!p.accepted) pj["error"] = {{"class", p.error_class}, {"desc", p.desc}};
    probes_json.push_back(std::move(pj));
  }
  j["probes"] = std::move(probes_json);
  if (source_view) j["source_view"] = cpuhp::ToJson(*source_view);
  if (destination_view) j["destination_view"] = cpuhp::ToJson(*destination_view);
  return j;
}

std::unique_ptr<Machine> Migrate(Machine& source, const std::filesystem::path& destination_artifacts,
                                 const MigrationOptions& options, MigrationResult* result) {
  MigrationResult local;
  MigrationResult& r = result ? *result : local;
  r = MigrationResult{};
  return MigrationRun(source, destination_artifacts, options, r).Run();
}

}  // namespace cpuhp
