// cpuhp run: validate every scenario, then run them and report.
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <set>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "report/artifacts.h"
#include "report/invocation.h"
#include "report/json_report.h"
#include "report/junit.h"
#include "report/progress.h"
#include "report/summary.h"
#include "scenario/scenario_loader.h"
#include "scenario/scheduler.h"
#include "util/log.h"
#include "util/temp_dir.h"
#include "util/transcript.h"
#include "scenario/targets.h"
#include "vm/accel_probe.h"
#include "vm/vm.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

constexpr char kRunUsage[] = R"(usage: cpuhp run [options] [<file|dir>...]   (default: scenarios/)

Validates every scenario first (no VM starts if one is bad), then runs them.
  --accel auto|kvm|tcg  override the accel of every scenario
  --backend qemu|libvirt
                        who runs QEMU for every scenario: cpuhp itself
                        (qemu, the default) or libvirt (a private libvirtd
                        of cpuhp's unless --libvirt-uri is given)
  --libvirt-uri URI     the libvirtd for the libvirt backend, e.g.
                        qemu+unix:///system?socket=/run/libvirt/libvirt-sock
                        or qemu+ssh://host/system (implies --backend libvirt)
  --target AXIS=V[,V..] run every scenario on every combination of the
                        targets (repeatable; axes qemu and kernel), e.g.
                        --target qemu=7.2,10.0 --target kernel=6.1,6.12; a
                        value is a kit name (build/qemu-kit-10.0,
                        build/guest-kit-6.12; 7.2 is the host's QEMU) or a
                        path; labels end in @qemu=10.0,kernel=6.12
  --qemu V, --kernel V  the same for one value: --target qemu=V
  --filter PATTERN      only runs whose label matches: a substring, or a glob
                        with * ? [..] (repeatable; a run matching any is run)
  --jobs N|auto         run up to N VMs in parallel (default 1); auto: one per
                        core, fewer if free memory holds fewer guests; with
                        more than one job the longest runs start first
  --boot snapshot|cold  snapshot: restore each guest from a boot template of
                        its configuration (made by its first cold boot);
                        cold: boot every guest. Default: the scenario's
                        machine.boot, else $CPUHP_BOOT, else snapshot; a
                        scenario that needs a cold boot always gets one
  --seed N              the times of machine.boot_plugs' plugs (default: the
                        scenario's boot_plugs.seed, else a fresh one, printed)
  --artifacts DIR       put run directories in DIR
                        (default ./cpuhp-artifacts/<UTC timestamp>)
  --junit FILE          also write JUnit XML to FILE
  --json FILE           also write the JSON report to FILE
  --keep-going          start the remaining runs after a failure
  --emit-repro          write repro.sh into every run directory
  --verbose             debug logging: every QMP and guest agent message
Exit codes: 0 all passed, 1 a run failed, 2 bad usage or scenario,
3 infrastructure error (QEMU/kit missing, no boot), 130 interrupted.
)";

std::string TimestampDirName() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

fs::path DefaultArtifactsRoot() {
  fs::path base = "cpuhp-artifacts";
  fs::path dir = base / TimestampDirName();
  for (int n = 2; fs::exists(dir); ++n) dir = base / (TimestampDirName() + "-" + std::to_string(n));
  return dir;
}

std::string Hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

int RunRunCommand(const std::vector<std::string>& argv) {
  CliArgs args;
  std::optional<Accel> accel;
  std::optional<std::string> backend;
  std::vector<TargetAxis> targets;
  int jobs = 1;
  bool auto_jobs = false;
  std::optional<uint64_t> seed;
  std::optional<BootMode> boot;
  try {
    args = ParseCliArgs(argv,
                        {"accel", "filter", "jobs", "j", "artifacts", "junit", "json", "target",
                         "qemu", "kernel", "boot", "seed", "backend", "libvirt-uri"},
                        {"keep-going", "verbose", "v", "emit-repro", "help", "h"});
    if (args.Has("help") || args.Has("h")) {
      std::cout << kRunUsage;
      return kExitPassed;
    }
    if (auto a = args.Value("accel")) {
      Accel parsed;
      if (!ParseAccel(*a, &parsed)) throw UsageError("--accel takes auto, kvm or tcg, not " + *a);
      accel = parsed;
    }
    backend = args.Value("backend");
    if (backend && !BackendBuilt(*backend)) {
      throw UsageError("--backend takes qemu or libvirt (in a build with CPUHP_WITH_LIBVIRT), not " + *backend);
    }
    if (args.Value("libvirt-uri")) {
      if (backend && *backend != "libvirt") throw UsageError("--libvirt-uri needs --backend libvirt");
      backend = "libvirt";
    }
    targets = TargetArgs(args);
    for (const char* flag : {"jobs", "j"}) {
      if (args.Value(flag) == "auto") {
        auto_jobs = true;
      } else if (auto j = args.IntValue(flag)) {
        jobs = *j;
        auto_jobs = false;
      }
    }
    if (auto b = args.Value("boot")) {
      BootMode parsed;
      if (!ParseBootMode(*b, &parsed)) throw UsageError("--boot takes snapshot or cold, not " + *b);
      boot = parsed;
    }
    if (auto s = args.IntValue("seed")) {
      if (*s < 0) throw UsageError("--seed takes a number from 0, not " + std::to_string(*s));
      seed = static_cast<uint64_t>(*s);
    }
  } catch (const UsageError& e) {
    std::cerr << "cpuhp run: " << e.what() << "\n\n" << kRunUsage;
    return kExitUsage;
  }
  bool verbose = args.Has("verbose") || args.Has("v");
  if (verbose) {
    SetLogLevel(LogLevel::kDebug);
  } else if (!std::getenv("CPUHP_LOG")) {
    // Progress lines say what happens; lifecycle logs stay in the run directories.
    SetLogLevel(LogLevel::kWarning);
  }

  std::vector<FileRuns> files;
  if (!LoadScenarioFiles(args.positional, &files)) {
    std::cerr << "cpuhp run: invalid scenarios; no VM was started\n";
    return kExitUsage;
  }
  std::vector<ScenarioRun> runs;
  const auto& filters = args.Values("filter");
  for (auto& f : files) {
    for (auto& run : f.runs) {
      bool selected = filters.empty();
      for (const auto& pattern : filters) selected = selected || MatchesFilter(run.label, pattern);
      if (selected) runs.push_back(std::move(run));
    }
  }
  try {
    runs = ApplyTargets(runs, targets);
  } catch (const Error& e) {
    std::cerr << "cpuhp run: --target: " << e.what() << "\n";
    return kExitUsage;
  }
  for (auto& run : runs) {
    if (backend) run.machine.backend = run.machine.spec.backend = *backend;
    if (auto uri = args.Value("libvirt-uri")) run.machine.spec.libvirt_uri = *uri;
  }
  if (runs.empty()) {
    std::cerr << "cpuhp run: no run matches"
              << (filters.empty() ? "" : " the filter (see cpuhp list)") << "\n";
    return kExitUsage;
  }

  if (accel == Accel::kKvm) {
    // Said once, before any VM, instead of once per run at its boot.
    std::set<std::string> binaries;
    for (const auto& run : runs) binaries.insert(run.machine.spec.qemu_binary);
    for (const auto& binary : binaries) {
      try {
        ResolveAccel(Accel::kKvm, binary);
      } catch (const LaunchError& e) {
        std::cerr << "cpuhp run: " << e.what() << "\n";
        return kExitSetup;
      }
    }
  }

  Invocation inv;
  inv.started_utc = UtcTimestamp();
  inv.hostname = Hostname();
  bool default_root = !args.Value("artifacts");
  inv.artifacts_root = default_root ? DefaultArtifactsRoot() : fs::path(*args.Value("artifacts"));
  try {
    MakeDirs(inv.artifacts_root);
    if (default_root) {
      // cpuhp-artifacts/latest -> the newest invocation.
      fs::path latest = inv.artifacts_root.parent_path() / "latest";
      std::error_code ec;
      fs::remove(latest, ec);
      fs::create_directory_symlink(inv.artifacts_root.filename(), latest, ec);
    }
  } catch (const Error& e) {
    std::cerr << "cpuhp run: " << e.what() << "\n";
    return kExitSetup;
  }

  if (auto_jobs) {
    jobs = AutoJobCount(HostCores(), HostAvailableMib(), runs);
    std::cerr << "cpuhp run: --jobs auto: " << jobs << " (" << HostCores() << " cores, "
              << HostAvailableMib() << " MiB available)\n";
  }
  Clock::time_point start = Clock::now();
  {
    InterruptHandler interrupt;
    std::unique_ptr<RunObserver> progress = MakeProgress(stderr, static_cast<int>(runs.size()));
    ScheduleOptions options;
    options.jobs = jobs;
    options.keep_going = args.Has("keep-going");
    options.longest_first = jobs > 1;
    options.run.boot = boot;
    options.run.artifacts_root = inv.artifacts_root;
    options.run.accel_override = accel;
    options.run.emit_repro = args.Has("emit-repro");
    options.run.seed = seed;
    options.run.cancel = interrupt.cancel_flag();
    inv.runs = RunAll(runs, options, progress.get());
  }
  inv.duration = Clock::now() - start;

  int code = inv.ExitCode();
  try {
    std::string xml = JunitXml(inv);
    nlohmann::json report = ReportJson(inv);
    WriteTextFile(inv.artifacts_root / "junit.xml", xml);
    WriteJsonFile(inv.artifacts_root / "report.json", report);
    if (auto junit = args.Value("junit")) WriteTextFile(*junit, xml);
    if (auto json = args.Value("json")) WriteJsonFile(*json, report);
  } catch (const Error& e) {
    std::cerr << "cpuhp run: writing reports: " << e.what() << "\n";
    if (code == kExitPassed) code = kExitSetup;
  }
  std::cout << SummaryText(inv, IsTerminal(stdout));
  std::cout.flush();
  return code;
}

}  // namespace cpuhp
