// cpuhp doctor: what this host can run, one PASS/WARN/FAIL line per part
// (in the spirit of virt-host-validate). CI logs print it first, so that a
// failure on a strange host reads against what the host could do.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "report/invocation.h"
#include "util/file.h"
#include "util/text.h"
#include "vm/accel_probe.h"
#include "vm/guest_kit.h"
#include "vm/kits.h"
#include "vm/machine_spec.h"
#include "vm/qemu_info.h"
#include "vm/vm.h"

namespace cpuhp {
namespace {

constexpr char kDoctorUsage[] = R"(usage: cpuhp doctor [--qemu PATH|VERSION]... [--kit DIR|VERSION]... [--cached] [--json]
Says what this host can run: the QEMU binaries and their versions, KVM (a
probe guest must take a timer interrupt, not just open /dev/kvm), TCG, the
guest kits and their kernels, the other QEMU and guest kits --target can
name (--qemu 10.0, --kit 6.12 check one), socat (for repro scripts). One line per part:
PASS, WARN (cpuhp runs, with less) or FAIL (cpuhp cannot run scenarios).
The KVM probe runs afresh and refreshes the cache that runs use; with
--cached it answers from that cache where it is valid (same boot, same
kvm module, same QEMU binary).
Exit code 0 when scenarios can run here, 3 when not.
)";

enum class Status { kPass, kWarn, kFail };
const char* StatusName(Status s) {
  switch (s) {
    case Status::kPass: return "PASS";
    case Status::kWarn: return "WARN";
    case Status::kFail: return "FAIL";
  }
  return "?";
}

struct HostCheck {
  std::string part;
  Status status;
  std::string detail;
};

bool InPath(const std::string& program) { return FindInPath(program).has_value(); }

// One QEMU binary: its version, then what it can accelerate with.
void CheckQemu(const std::string& binary, bool cached, std::vector<HostCheck>* out) {
  const std::string part = "qemu " + binary;
  try {
    QemuVersion v = QueryQemuVersion(binary, Deadline::AfterUnscaled(kQemuVersionTimeout));
    out->push_back({part, Status::kPass,
                    "QEMU " + v.ToString() + (v.package.empty() ? "" : " (" + v.package + ")")});
  } catch (const Error& e) {
    out->push_back({part, Status::kFail, e.what()});
    return;
  }
  KvmProbeResult kvm = ProbeKvm(binary, /*fresh=*/!cached);
  std::string took = kvm.cached ? " (from the cache)" : " (probe took " + FormatDuration(kvm.took) + ")";
  out->push_back({"kvm", kvm.verdict.usable ? Status::kPass : Status::kWarn,
                  kvm.verdict.reason + (kvm.verdict.usable ? "" : "; accel auto uses TCG") +
                      (kvm.cached || kvm.took.count() ? took : "")});
  ProbeObservation tcg = RunProbeGuest(binary, Accel::kTcg, kAccelProbeTimeout);
  ProbeVerdict t = DecideTcg(tcg, kAccelProbeTimeout);
  out->push_back({"tcg", t.usable ? Status::kPass : Status::kFail, t.reason});
}

void CheckKit(const std::filesystem::path& dir, std::vector<HostCheck>* out) {
  const std::string part = "guest kit " + dir.string();
  try {
    GuestKit kit = GuestKit::Load(dir);
    for (const auto& f : {kit.kernel, kit.initrd}) {
      if (!std::filesystem::exists(f)) {
        out->push_back({part, Status::kFail, f.string() + " is missing (rebuild: ci/build)"});
        return;
      }
    }
    out->push_back({part, Status::kPass, "Linux " + kit.kernel_version});
  } catch (const Error& e) {
    out->push_back({part, Status::kFail, e.what()});
  }
}

}  // namespace

int RunDoctorCommand(const std::vector<std::string>& argv) {
  CliArgs args;
  try {
    args = ParseCliArgs(argv, {"qemu", "kit"}, {"json", "cached", "help", "h"});
  } catch (const UsageError& e) {
    std::cerr << "cpuhp doctor: " << e.what() << "\n\n" << kDoctorUsage;
    return kExitUsage;
  }
  if (args.Has("help") || args.Has("h")) {
    std::cout << kDoctorUsage;
    return kExitPassed;
  }
  std::vector<std::string> qemus = args.Values("qemu");
  if (qemus.empty()) qemus.push_back(MachineSpec().qemu_binary);
  std::vector<std::string> kits = args.Values("kit");
  if (kits.empty()) kits.push_back(GuestKit::DefaultDir().string());

  std::vector<HostCheck> findings;
  for (const auto& q : qemus) {
    // A version (--qemu 10.0) names a kit, as in scenarios and --target.
    std::string binary = q;
    try {
      binary = ResolveQemuBinary(q);
    } catch (const Error& e) {
      findings.push_back({"qemu " + q, Status::kFail, e.what()});
      continue;
    }
    CheckQemu(binary, args.Has("cached"), &findings);
  }
  for (const auto& k : kits) {
    std::string dir = k;
    if (IsKitName(k)) {
      try {
        dir = GuestKit::Find(k).string();
      } catch (const Error& e) {
        findings.push_back({"guest kit " + k, Status::kFail, e.what()});
        continue;
      }
    }
    CheckKit(dir, &findings);
  }
  // What --target can name here.
  std::vector<std::string> other = ListKits("qemu-kit", "qemu-kit.env", "QEMU_VERSION");
  for (const auto& g : ListKits("guest-kit-", "kit.env", "KERNEL_VERSION")) other.push_back(g);
  findings.push_back({"kits in " + KitsDir().string(), Status::kPass,
                      other.empty() ? std::string("no other QEMU or guest kits (cmake --build "
                                                  "build --target qemu-kit-10.0 guest-kit-6.12)")
                                    : Join(other)});
  findings.push_back({"socat", InPath("socat") ? Status::kPass : Status::kWarn,
                      InPath("socat") ? "found (repro scripts drive QMP with it)"
                                      : "not found: generated repro scripts need it (apt-get install socat)"});
  const std::string libvirt = BackendUnavailableReason("libvirt");
  findings.push_back({"libvirt backend", libvirt.empty() ? Status::kPass : Status::kWarn,
                      libvirt.empty() ? "a private libvirtd can run (machine.backend: libvirt)"
                                      : libvirt + ": machine.backend libvirt cannot run here"});

  bool ok = true;
  for (const auto& f : findings) ok = ok && f.status != Status::kFail;
  if (args.Has("json")) {
    nlohmann::json j = {{"ok", ok}, {"checks", nlohmann::json::array()}};
    for (const auto& f : findings) {
      j["checks"].push_back({{"part", f.part}, {"status", StatusName(f.status)}, {"detail", f.detail}});
    }
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    for (const auto& f : findings) {
      std::string detail = f.detail;
      for (size_t at = 0; (at = detail.find('\n', at)) != std::string::npos; at += 2) {
        detail.replace(at, 1, "\n      ");
      }
      std::cout << StatusName(f.status) << "  " << f.part << ": " << detail << "\n";
    }
    std::cout << (ok ? "cpuhp can run scenarios on this host\n"
                     : "cpuhp cannot run scenarios on this host (see FAIL above)\n");
  }
  return ok ? kExitPassed : kExitSetup;
}

}  // namespace cpuhp
