#include "vm/libvirt_machine.h"

#include <libvirt/libvirt-qemu.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "util/fd.h"
#include "util/file.h"
#include "util/log.h"
#include "util/text.h"
#include "guest/cpu_snapshot.h"
#include "vm/host_view.h"
#include "vm/migration.h"

namespace cpuhp {
namespace {
namespace fs = std::filesystem;

// libvirt's own unplug wait (qemuDomainWaitForDeviceRemoval, 9.0): 5 s.
constexpr int kLibvirtUnplugTimeoutCode = VIR_ERR_OPERATION_TIMEOUT;
// QEMU has connected its sockets by the time virDomainCreateXML returns:
// the accepts only take what is already queued.
constexpr seconds kAcceptAfterCreateTimeout{10};
constexpr seconds kTeardownShutdownTimeout{5};
// probe_hotplug: how long after the migration call the plug is tried.
constexpr milliseconds kProbeDelay{300};
// How often MigrateTo looks at QEMU's MIGRATION events while libvirt migrates.
constexpr milliseconds kMigrationWatchInterval{20};

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\'': out += "&apos;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// A QEMU option value: commas doubled (as BuildCommandLine does).
std::string OptValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

void AddQemuArgs(std::string& xml, std::initializer_list<std::string> args) {
  for (const auto& a : args) xml += "    <qemu:arg value='" + XmlEscape(a) + "'/>\n";
}
}  // namespace

std::string BuildDomainXml(const MachineSpec& spec, Accel accel, const MachinePaths& paths) {
  if (!spec.disk.empty()) throw LaunchError("vm " + spec.name + ": the libvirt backend boots kernels, not disk images");
  if (spec.kernel.empty()) throw LaunchError("vm " + spec.name + ": no kernel to boot");
  if (spec.machine_type.find(',') != std::string::npos) {
    throw LaunchError("vm " + spec.name + ": machine type options ('" + spec.machine_type +
                      "') have no libvirt domain XML form here");
  }
  std::string problem;
  auto topo = ResolveTopology(spec.smp, &problem);
  if (!topo) throw LaunchError("vm " + spec.name + ": " + problem);
  const int max = topo->maxcpus;
  std::string x = "<domain type='" + std::string(accel == Accel::kKvm ? "kvm" : "qemu") +
                  "' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n";
  x += "  <name>" + XmlEscape(spec.name) + "</name>\n";
  x += "  <memory unit='MiB'>" + std::to_string(spec.memory_mib) + "</memory>\n";
  x += "  <vcpu placement='static' current='" + std::to_string(topo->cpus) + "'>" +
       std::to_string(max) + "</vcpu>\n  <vcpus>\n";
  // Boot vCPUs are libvirt's first ids, enabled and not hot-pluggable (as
  // -smp N makes them); the rest are hot-pluggable slots, disabled.
  for (int i = 0; i < max; ++i) {
    bool boot = i < topo->cpus;
    x += "    <vcpu id='" + std::to_string(i) + "' enabled='" + (boot ? "yes" : "no") +
         "' hotpluggable='" + (boot ? "no" : "yes") + "'" +
         (boot ? " order='" + std::to_string(i + 1) + "'" : "") + "/>\n";
  }
  x += "  </vcpus>\n  <os>\n";
  // <type machine> takes the plain name; libvirt turns q35 into -machine q35 itself.
  x += "    <type arch='x86_64' machine='" + XmlEscape(spec.machine_type) + "'>hvm</type>\n";
  x += "    <kernel>" + XmlEscape(spec.kernel.string()) + "</kernel>\n";
  if (!spec.initrd.empty()) x += "    <initrd>" + XmlEscape(spec.initrd.string()) + "</initrd>\n";
  if (!spec.append.empty()) x += "    <cmdline>" + XmlEscape(spec.append) + "</cmdline>\n";
  x += "  </os>\n  <features><acpi/><apic/></features>\n";
  // Always an explicit topology: without one libvirt writes sockets=N,cores=1,
  // not the layout -smp gives the direct backend.
  // QEMU's "max" and "host" are CPU modes in libvirt, not models.
  std::string cpu = spec.cpu_model == "max"    ? "<cpu mode='maximum' check='none'>"
                    : spec.cpu_model == "host" ? "<cpu mode='host-passthrough' check='none'>"
                                               : "<cpu mode='custom' match='exact' check='none'><model "
                                                 "fallback='forbid'>" + XmlEscape(spec.cpu_model) + "</model>";
  x += "  " + cpu + "<topology sockets='" + std::to_string(topo->sockets) +
       "' dies='" + std::to_string(topo->dies) + "' cores='" + std::to_string(topo->cores) +
       "' threads='" + std::to_string(topo->threads) + "'/></cpu>\n";
  x += "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n"
       "  <on_crash>destroy</on_crash>\n  <devices>\n";
  // libvirt wants a path: a bare name is looked up on cpuhp's PATH.
  x += "    <emulator>" + XmlEscape(FindInPath(spec.qemu_binary).value_or(spec.qemu_binary).string()) +
       "</emulator>\n";
  // The console to cpuhp's socket: the same bounded SerialLogPump as the direct backend.
  x += "    <serial type='unix'><source mode='connect' path='" + XmlEscape(paths.serial_socket.string()) +
       "'/><target port='0'/></serial>\n";
  x += "    <controller type='usb' model='none'/>\n    <controller type='virtio-serial' index='0'/>\n";
  x += "    <memballoon model='none'/>\n  </devices>\n  <qemu:commandline>\n";
  // cpuhp's query-only monitor and its guest agent port (the kit's qemu-ga
  // opens the port named org.qemu.guest_agent.0; libvirt has none of its own).
  AddQemuArgs(x, {"-chardev", "socket,id=cpuhpqmp,path=" + OptValue(paths.qmp_socket.string()),
                  "-mon", "chardev=cpuhpqmp,mode=control",
                  "-chardev", "socket,id=cpuhpqga,path=" + OptValue(paths.agent_socket.string()),
                  // JSON, as libvirt writes its own -device: QEMU creates
                  // the legacy-syntax devices first, before the controller.
                  "-device", R"({"driver":"virtserialport","bus":"virtio-serial0.0","chardev":"cpuhpqga",)"
                             R"("name":"org.qemu.guest_agent.0"})"});
  for (const auto& a : spec.extra_args) AddQemuArgs(x, {a});
  x += "  </qemu:commandline>\n</domain>\n";
  return x;
}

// --- LibvirtHotplug -------------------------------------------------------

std::optional<int> LibvirtHotplug::VcpuIdOf(const CpuProps& props) {
  auto slots = Slots();
  std::sort(slots.begin(), slots.end(), SlotOrderLess);
  for (size_t i = 0; i < slots.size(); ++i) {
    const CpuProps& p = slots[i].props;
    if (p.socket_id == props.socket_id && p.die_id == props.die_id && p.core_id == props.core_id &&
        p.thread_id == props.thread_id) {
      return static_cast<int>(i);
    }
  }
  return std::nullopt;
}

void LibvirtHotplug::SetVcpu(int vcpu, bool enable) {
  const std::string call = "virDomainSetVcpu(" + std::to_string(vcpu) + ", " + (enable ? "enable" : "disable") + ", LIVE)";
  transcript_.Record("libvirt", Transcript::Direction::kSent, call);
  try {
    CheckLibvirt(virDomainSetVcpu(domain_, std::to_string(vcpu).c_str(), enable ? 1 : 0,
                                  VIR_DOMAIN_AFFECT_LIVE),
                 call);
  } catch (const LibvirtError& e) {
    transcript_.Record("libvirt", Transcript::Direction::kReceived, e.what());
    throw;
  }
  transcript_.Record("libvirt", Transcript::Direction::kReceived, "ok");
}

void LibvirtHotplug::Plug(const HotpluggableCpu& slot, const std::string& id, const Deadline& deadline) {
  auto vcpu = VcpuIdOf(slot.props);
  if (!vcpu) throw HotplugError("plug of " + id + ": no slot at " + slot.props.ToDeviceArgs());
  LOG(kInfo, "hotplug") << "plugging " << id << " as libvirt vCPU " << *vcpu;
  SetVcpu(*vcpu, true);
  ids_[id] = *vcpu;
  // libvirt device_adds it under its own id ("vcpuN"): read it back from QEMU.
  std::string qemu_id;
  for (const auto& s : Slots()) {
    if (s.props == slot.props && s.plugged()) qemu_id = PluggedDeviceId(s).value_or(*s.qom_path);
  }
  if (qemu_id.empty()) {
    throw HotplugError("plug of " + id + ": libvirt enabled vCPU " + std::to_string(*vcpu) +
                       " but QEMU shows slot " + slot.props.ToDeviceArgs() + " free");
  }
  qmp_.WaitForEvent("ACPI_DEVICE_OST", MatchData({{"info", {{"device", qemu_id}}}}), deadline);
}

void LibvirtHotplug::DeviceAdd(const std::string&, const std::string& id, const CpuProps& props,
                               const Deadline&) {
  auto vcpu = VcpuIdOf(props);
  if (!vcpu) throw HotplugError("plug of " + id + ": QEMU has no slot at " + props.ToDeviceArgs());
  SetVcpu(*vcpu, true);
  ids_[id] = *vcpu;
}

HotplugDriver::UnplugResult LibvirtHotplug::Unplug(const std::string& target, const Deadline& deadline) {
  auto slots = Slots();
  std::sort(slots.begin(), slots.end(), SlotOrderLess);
  std::optional<int> vcpu;
  if (auto it = ids_.find(target); it != ids_.end()) vcpu = it->second;
  for (size_t i = 0; i < slots.size() && !vcpu; ++i) {
    if (PluggedDeviceId(slots[i]) == target || slots[i].qom_path == target) vcpu = static_cast<int>(i);
  }
  if (!vcpu) throw HotplugError("unplug of " + target + ": no plugged CPU by that id");
  const HotpluggableCpu& slot = slots[*vcpu];
  // What QEMU calls it, for the eject events.
  std::string qemu_id = slot.plugged() ? PluggedDeviceId(slot).value_or(*slot.qom_path) : target;
  std::string acpi_slot = AcpiSlotOf(QueryHotpluggableCpus(qmp_), qemu_id);
  LOG(kInfo, "hotplug") << "unplugging " << target << " (libvirt vCPU " << *vcpu << ", " << qemu_id << ")";
  std::optional<LibvirtError> libvirt_said;
  try {
    SetVcpu(*vcpu, false);
  } catch (const LibvirtError& e) {
    if (e.code() != kLibvirtUnplugTimeoutCode) throw;
    libvirt_said = e;
  }
  UnplugResult result;
  try {
    result = WaitForUnplug(qmp_, qemu_id, std::move(acpi_slot), deadline);
  } catch (Error& e) {
    if (libvirt_said) e.AddContext(std::string("libvirt had answered: ") + libvirt_said->what());
    throw;
  }
  if (libvirt_said) {
    result.backend_disagreement = "libvirt reported \"" + libvirt_said->libvirt_message() + "\" (code " +
                                  std::to_string(libvirt_said->code()) +
                                  ") while the guest ejected the CPU and QEMU freed its slot";
    LOG(kWarning, "hotplug") << target << ": " << result.backend_disagreement;
    transcript_.Record("libvirt", Transcript::Direction::kNote,
                       "disagreement: " + result.backend_disagreement);
  }
  ids_.erase(target);
  return result;
}

// --- LibvirtMachine -------------------------------------------------------

LibvirtMachine::LibvirtMachine(MachineSpec spec, fs::path artifacts_dir)
    : spec_(std::move(spec)), artifacts_dir_(std::move(artifacts_dir)) {}

LibvirtMachine::~LibvirtMachine() { Shutdown(kTeardownShutdownTimeout); }

QmpClient& LibvirtMachine::Qmp() {
  if (!qmp_) throw Error("vm " + name() + ": not launched (no QMP connection)");
  return *qmp_;
}

AgentClient& LibvirtMachine::Agent() {
  if (!agent_) throw Error("vm " + name() + ": not launched (no guest agent connection)");
  return *agent_;
}

LibvirtHotplug& LibvirtMachine::Hotplug() {
  if (!hotplug_) throw Error("vm " + name() + ": not launched (no libvirt domain)");
  return *hotplug_;
}

std::string LibvirtMachine::DomainName() const {
  // A migration destination keeps the source's name.
  if (!domain_name_.empty()) return domain_name_;
  // libvirt refuses '/' in names; the private daemon holds one domain, a
  // shared one may hold others: the pid keeps two cpuhp runs apart.
  std::string n = "cpuhp-" + std::to_string(::getpid()) + "-";
  for (char c : spec_.name) n += (c == '/' || c == ' ') ? '_' : c;
  return n;
}

fs::path LibvirtMachine::QemuLogPath() const {
  if (!daemon_) return {};
  return daemon_->log_dir() / "qemu" / (DomainName() + ".log");
}

bool LibvirtMachine::Running() {
  if (!domain_) return false;
  int active = virDomainIsActive(domain_.get());
  return active == 1;
}

std::string LibvirtMachine::SerialTail(int lines) const {
  return TailOfFile(paths_.serial_log, lines);
}

std::string LibvirtMachine::GuestKernelDiagnosis() const {
  std::error_code absent;
  if (!fs::exists(paths_.serial_log, absent)) return "";
  auto distress = FindKernelDistress(ReadConsoleForDiagnosis(paths_.serial_log));
  return distress ? "\nguest kernel in trouble: " + *distress : "";
}

ConsoleLineWait LibvirtMachine::WaitForConsoleLine(const LinePattern& pattern, const Deadline& deadline) {
  if (!serial_pump_) throw Error("vm " + name() + ": no console to read (not launched, or shut down)");
  ConsoleLineWait wait = serial_pump_->WaitForLine(
      console_matched_, [&](std::string_view line) { return pattern.Matches(line); }, deadline);
  if (wait.line) console_matched_ = wait.line->number;
  return wait;
}

void LibvirtMachine::AddContext(Error& e) {
  std::string state = !domain_ ? "not started" : Running() ? "running under libvirt" : "domain not running";
  std::string ctx = "vm " + name() + " (" + state + ", " + uri_ + "), artifacts in " + artifacts_dir_.string();
  if (fs::path log = QemuLogPath(); !log.empty()) {
    std::string tail = TailOfFile(log, kContextLogLines);
    if (!tail.empty()) ctx += "\nqemu log (last lines):\n" + tail;
  }
  std::string serial = SerialTail(kContextLogLines);
  if (!serial.empty()) ctx += "\nserial.log (last lines):\n" + serial;
  ctx += GuestKernelDiagnosis();
  e.AddContext(ctx);
}

void LibvirtMachine::FailLaunch(const std::string& why) {
  std::string qemu_log = QemuLogPath().empty() ? "" : TailOfFile(QemuLogPath(), kContextLogLines);
  LaunchError e("vm " + name() + " (libvirt): " + why,
                {.command = {"virDomainCreateXML", (artifacts_dir_ / "domain.xml").string()},
                 .qemu_log_tail = qemu_log,
                 .serial_tail = SerialTail(kContextLogLines)});
  AddContext(e);
  Kill();
  throw e;
}

void LibvirtMachine::Prepare(const Deadline& deadline) {
  InitLibvirt();
  AccelChoice accel = ResolveAccel(spec_.accel, spec_.qemu_binary);
  accel_ = accel.accel;
  accel_reason_ = accel.reason;
  MakeDirs(artifacts_dir_);
  transcript_ = std::make_unique<Transcript>(artifacts_dir_ / "transcript.log");
  if (spec_.libvirt_uri.empty()) {
    if (!daemon_) {
      daemon_ = std::make_shared<LibvirtDaemon>(LibvirtDaemonOptions{.log_dir = artifacts_dir_ / "libvirt"},
                                                Deadline::After(kLibvirtdStartTimeout).Min(deadline));
    }
    uri_ = daemon_->uri();
  } else {
    uri_ = spec_.libvirt_uri;
  }
  conn_ = OpenLibvirt(uri_);
  socket_dir_.emplace(fs::temp_directory_path(), "cpuhp-");
  paths_ = {socket_dir_->path() / "qmp.sock", socket_dir_->path() / "qga.sock",
            artifacts_dir_ / "serial.log", socket_dir_->path() / "console.sock"};
  qmp_listen_ = ListenUnix(paths_.qmp_socket);
  agent_listen_ = ListenUnix(paths_.agent_socket);
  serial_listen_ = ListenUnix(paths_.serial_socket);
}

void LibvirtMachine::Connect(const Deadline& boot_deadline) {
  if (LibvirtString live{virDomainGetXMLDesc(domain_.get(), 0)}) {
    std::ofstream out(artifacts_dir_ / "domain-live.xml");
    out << live.get();
  }
  auto accept = [&](int fd, const char* what) {
    UniqueFd c = AcceptWithDeadline(fd, Deadline::After(kAcceptAfterCreateTimeout).Min(boot_deadline));
    if (!c) FailLaunch(std::string("QEMU did not connect its ") + what + " socket");
    return c;
  };
  qmp_ = std::make_unique<QmpClient>(accept(qmp_listen_.get(), "QMP"), "qmp", transcript_.get());
  serial_pump_ = std::make_unique<SerialLogPump>(accept(serial_listen_.get(), "serial console"), paths_.serial_log);
  agent_ = std::make_unique<AgentClient>(accept(agent_listen_.get(), "guest agent"), "qga", transcript_.get());
  qmp_listen_.reset();
  agent_listen_.reset();
  serial_listen_.reset();
  try {
    qmp_->Handshake(boot_deadline);
  } catch (Error& e) {
    FailLaunch(std::string("QMP handshake failed: ") + e.what());
  }
  hotplug_ = std::make_unique<LibvirtHotplug>(domain_.get(), *qmp_, *transcript_);
  try {
    agent_->Sync(boot_deadline);
  } catch (const Error& e) {
    FailLaunch(std::string("the guest agent did not answer: ") + e.what() + ": " +
               ExplainBootFailure(ReadConsoleForDiagnosis(paths_.serial_log)));
  }
  boot_time_ = Clock::now() - started_;
  LOG(kInfo, "vm") << name() << ": guest agent answered after " << FormatDuration(boot_time_);
}

void LibvirtMachine::Launch(const Deadline& boot_deadline) {
  if (domain_) throw Error("vm " + name() + ": already launched");
  Prepare(boot_deadline);
  MachineSpec named = spec_;
  named.name = DomainName();
  std::string xml = BuildDomainXml(named, accel_, paths_);
  {
    std::ofstream out(artifacts_dir_ / "domain.xml");
    out << xml;
  }
  transcript_->Record("libvirt", Transcript::Direction::kSent, "virDomainCreateXML on " + uri_);
  LOG(kInfo, "vm") << name() << ": starting a libvirt domain (" << AccelName(accel_) << ", " << uri_ << ")";
  started_ = Clock::now();
  // A domain on someone else's daemon dies with this connection
  // (AUTODESTROY), so that it keeps no guest of a cpuhp that died; a private
  // daemon dies with cpuhp anyway, and its domains must be able to migrate,
  // which AUTODESTROY forbids.
  virDomainPtr d = virDomainCreateXML(conn_.get(), xml.c_str(),
                                      spec_.libvirt_uri.empty() ? 0 : VIR_DOMAIN_START_AUTODESTROY);
  if (!d) FailLaunch(LastLibvirtError("virDomainCreateXML").what());
  domain_.reset(d);
  Connect(boot_deadline);
}

std::unique_ptr<Vm> LibvirtMachine::MigrateTo(const fs::path& destination_artifacts,
                                              const MigrationOptions& options, MigrationResult* result) {
  if (options.fault != MigrationOptions::Fault::kNone) {
    throw MigrationError("vm " + name() + ": fault injection is not implemented for libvirt migration");
  }
  if (!daemon_) throw MigrationError("vm " + name() + ": libvirt migration runs between cpuhp's private daemons (no --libvirt-uri)");
  MigrationResult r;
  r.destination_name = destination_artifacts.filename().string();
  HostView before = ReadHostView(Qmp());
  GuestSnapshot guest_before = ReadGuestSnapshot(Agent());
  MachineSpec dspec = spec_;
  dspec.name = r.destination_name;
  auto dest = std::make_unique<LibvirtMachine>(dspec, destination_artifacts);
  dest->domain_name_ = DomainName();
  dest->daemon_ = return_daemon_;  // back where the guest came from, if it came
  dest->Prepare(Deadline::After(kBootTimeout));
  // The destination XML: the source's migratable XML with cpuhp's sockets
  // (QMP, agent, console) moved to the destination's.
  LibvirtString source_xml = CheckLibvirt(virDomainGetXMLDesc(domain_.get(), VIR_DOMAIN_XML_MIGRATABLE),
                                          "virDomainGetXMLDesc(MIGRATABLE)");
  std::string xml = source_xml.get();
  for (auto [from, to] : {std::pair{paths_.qmp_socket, dest->paths_.qmp_socket},
                          std::pair{paths_.agent_socket, dest->paths_.agent_socket},
                          std::pair{paths_.serial_socket, dest->paths_.serial_socket}}) {
    for (size_t at; (at = xml.find(from.string())) != std::string::npos;) xml.replace(at, from.string().size(), to.string());
  }
  // Wrong on purpose: the destination XML says these plugged vCPUs are not
  // enabled; libvirt's ABI check must refuse it before anything starts.
  for (const auto& id : options.omit_cpu_devices) {
    auto it = hotplug_->ids().find(id);
    if (it == hotplug_->ids().end()) throw MigrationError("omit_cpu_devices: no vCPU " + id + " was plugged through libvirt");
    const std::string tag = "<vcpu id='" + std::to_string(it->second) + "' enabled='yes'";
    if (size_t at = xml.find(tag); at != std::string::npos) xml.replace(at, tag.size(), "<vcpu id='" + std::to_string(it->second) + "' enabled='no'");
  }
  {
    std::ofstream out(destination_artifacts / "domain.xml");
    out << xml;
  }
  TempDir stream_dir(fs::temp_directory_path(), "cpuhp-mig-");
  const bool tcp = options.transport == MigrationOptions::Transport::kTcp;
  // tcp: no port, so the destination libvirtd takes one from its
  // migration_port range; the listen address keeps it off the network.
  r.uri = tcp ? "tcp://127.0.0.1" : "unix://" + (stream_dir.path() / "migrate.sock").string();
  virTypedParameterPtr params = nullptr;
  int n = 0, max = 0;
  virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_URI, r.uri.c_str());
  if (tcp) virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_LISTEN_ADDRESS, "127.0.0.1");
  virTypedParamsAddString(&params, &n, &max, VIR_MIGRATE_PARAM_DEST_XML, xml.c_str());
  if (options.max_bandwidth) {
    virTypedParamsAddULLong(&params, &n, &max, VIR_MIGRATE_PARAM_BANDWIDTH, *options.max_bandwidth >> 20);
  }
  unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER;
  if (options.postcopy) flags |= VIR_MIGRATE_POSTCOPY;
  const std::string call = "virDomainMigrateToURI3(" + dest->uri_ + ", LIVE|PEER2PEER" +
                           (options.postcopy ? "|POSTCOPY" : "") + ", " + r.uri + ")";
  transcript_->Record("libvirt", Transcript::Direction::kSent, call);
  LOG(kInfo, "migration") << name() << " -> " << r.destination_name << " through libvirt ("
                          << dest->uri_ << ")";
  Clock::time_point t0 = Clock::now();
  dest->started_ = t0;
  // The call blocks until the migration ends, so it runs on a thread of its
  // own while this one watches QEMU's MIGRATION events on cpuhp's monitor,
  // switches to postcopy, probes and aborts the job (virDomainAbortJob)
  // when the time comes.
  int rc = 0;
  std::optional<LibvirtError> migrate_error;
  bool aborted = false;
  std::optional<std::string> postcopy_error;
  {
    std::mutex m;
    std::condition_variable ended_cv;
    bool ended = false;
    std::thread migrate([&] {
      int result_rc = virDomainMigrateToURI3(domain_.get(), dest->uri_.c_str(), params, n, flags);
      std::optional<LibvirtError> error;
      if (result_rc < 0) error = LastLibvirtError(call);  // libvirt's last error is per thread
      std::lock_guard lock(m);
      rc = result_rc;
      migrate_error = std::move(error);
      ended = true;
      ended_cv.notify_all();
    });
    if (options.probe_hotplug) {
      // A vCPU plug while libvirt migrates: libvirt's answer, whatever it
      // is (it queues behind the migration job), is the probe's record.
      std::optional<int> vcpu;
      auto free = hotplug_->FreeSlots();
      if (!free.empty()) vcpu = hotplug_->VcpuIdOf(free.front().props);
      if (vcpu) {
        std::this_thread::sleep_for(kProbeDelay);  // into the job, not before it
        QmpProbe probe{"virDomainSetVcpu", {{"vcpu", *vcpu}, {"enable", true}}, false, "", ""};
        Clock::time_point p0 = Clock::now();
        if (virDomainSetVcpu(domain_.get(), std::to_string(*vcpu).c_str(), 1, VIR_DOMAIN_AFFECT_LIVE) == 0) {
          probe.accepted = true;
        } else {
          LibvirtError e = LastLibvirtError("virDomainSetVcpu during migration");
          probe.error_class = "libvirt code " + std::to_string(e.code());
          probe.desc = e.libvirt_message();
        }
        probe.desc += (probe.desc.empty() ? "" : "; ") + std::string("answered after ") + FormatDuration(Clock::now() - p0);
        transcript_->Record("libvirt", Transcript::Direction::kNote,
                            "during migration: virDomainSetVcpu(" + std::to_string(*vcpu) + ", enable): " +
                                (probe.accepted ? "accepted" : probe.error_class + ": " + probe.desc));
        r.probes.push_back(std::move(probe));
      }
    }
    Clock::time_point abort_at = options.cancel_after ? t0 + *options.cancel_after : Clock::time_point::max();
    bool watching = true;     // cpuhp's monitor on the source still answers
    bool switched = false;    // virDomainMigrateStartPostCopy called
    for (;;) {
      {
        std::unique_lock lock(m);
        if (ended_cv.wait_for(lock, kMigrationWatchInterval, [&] { return ended; })) break;
      }
      if (watching) {
        try {
          // libvirt turns QEMU's "events" capability on: every monitor gets
          // the MIGRATION events, cpuhp's query-only one included.
          while (auto ev = qmp_->TryWaitForEvent("MIGRATION", nullptr, Deadline::AfterUnscaled({}))) {
            std::string status = (*ev)["data"].value("status", "");
            r.statuses.push_back(status);
            if (status == "active" && options.postcopy && !switched) {
              switched = true;
              transcript_->Record("libvirt", Transcript::Direction::kSent, "virDomainMigrateStartPostCopy");
              if (virDomainMigrateStartPostCopy(domain_.get(), 0) < 0) {
                postcopy_error = LastLibvirtError("virDomainMigrateStartPostCopy").what();
                transcript_->Record("libvirt", Transcript::Direction::kReceived, *postcopy_error);
              }
            }
          }
        } catch (const Error&) {
          watching = false;  // the source QEMU ended (peer-to-peer: libvirt kills it)
        }
      }
      if (Clock::now() >= abort_at) {
        abort_at = Clock::time_point::max();
        transcript_->Record("libvirt", Transcript::Direction::kSent, "virDomainAbortJob");
        aborted = virDomainAbortJob(domain_.get()) == 0;
        if (!aborted) LOG(kInfo, "migration") << LastLibvirtError("virDomainAbortJob").what();
      }
    }
    migrate.join();
  }
  virTypedParamsFree(params, n);
  if (rc < 0 && aborted) {
    transcript_->Record("libvirt", Transcript::Direction::kReceived, migrate_error->what());
    r.status = "cancelled";
    r.wall_time = Clock::now() - t0;
    if (result) *result = r;
    return nullptr;  // the source runs on; `dest` goes (and a daemon nobody else holds)
  }
  if (rc < 0) {
    LibvirtError e = *migrate_error;
    transcript_->Record("libvirt", Transcript::Direction::kReceived, e.what());
    r.status = "failed";
    r.wall_time = Clock::now() - t0;
    if (result) *result = r;
    MigrationError m(std::string("vm ") + name() + ": migration through libvirt failed: " + e.what() +
                     (postcopy_error ? "; " + *postcopy_error : ""));
    AddContext(m);
    throw m;
  }
  transcript_->Record("libvirt", Transcript::Direction::kReceived, "ok");
  dest->domain_.reset(CheckLibvirt(virDomainLookupByName(dest->conn_.get(), dest->domain_name_.c_str()),
                                   "virDomainLookupByName on the destination").release());
  dest->Connect(Deadline::After(kBootTimeout));
  r.wall_time = Clock::now() - t0;
  r.status = "completed";
  // The completed job's statistics, kept by the destination.
  int type = 0, nstats = 0;
  virTypedParameterPtr stats = nullptr;
  if (virDomainGetJobStats(dest->domain_.get(), &type, &stats, &nstats, VIR_DOMAIN_JOB_STATS_COMPLETED) == 0) {
    unsigned long long v = 0;
    if (virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_JOB_TIME_ELAPSED, &v) == 1) r.total_time_ms = static_cast<int64_t>(v);
    if (virTypedParamsGetULLong(stats, nstats, VIR_DOMAIN_JOB_DOWNTIME, &v) == 1) r.downtime_ms = static_cast<int64_t>(v);
    virTypedParamsFree(stats, nstats);
  }
  dest->hotplug_->AdoptIds(hotplug_->ids());
  dest->return_daemon_ = daemon_;
  if (options.verify) {
    r.source_view = before;
    r.destination_view = ReadHostView(dest->Qmp());
    r.differences = CompareHostViews(before, *r.destination_view);
    for (auto& d : CompareGuestSnapshots(guest_before, ReadGuestSnapshot(dest->Agent()))) r.differences.push_back(d);
  }
  // Peer-to-peer: libvirt has already ended the source QEMU.
  Shutdown();
  if (result) *result = r;
  if (options.postcopy && std::find(r.statuses.begin(), r.statuses.end(), "postcopy-active") == r.statuses.end()) {
    MigrationError m("vm " + name() + ": postcopy was asked for but the migration completed without entering "
                     "postcopy-active (statuses: " + Join(r.statuses, ", ") + ")" +
                     (postcopy_error ? "; " + *postcopy_error : ""));
    throw m;
  }
  if (!r.differences.empty()) {
    throw MigrationCheckFailure("migration through libvirt changed the vCPU views: " + r.differences.front(),
                                r.differences);
  }
  return dest;
}

LibvirtView LibvirtMachine::ReadLibvirtView() {
  if (!domain_) throw Error("vm " + name() + ": not launched (no libvirt domain)");
  LibvirtString xml = CheckLibvirt(virDomainGetXMLDesc(domain_.get(), 0), "virDomainGetXMLDesc");
  LibvirtView view = ParseLibvirtVcpus(xml.get());
  view.live_count = CheckLibvirt(virDomainGetVcpusFlags(domain_.get(), VIR_DOMAIN_AFFECT_LIVE),
                                 "virDomainGetVcpusFlags(LIVE)");
  view.maximum_count = CheckLibvirt(
      virDomainGetVcpusFlags(domain_.get(), unsigned{VIR_DOMAIN_AFFECT_LIVE} | VIR_DOMAIN_VCPU_MAXIMUM),
      "virDomainGetVcpusFlags(LIVE|MAXIMUM)");
  return view;
}

void LibvirtMachine::Shutdown(Clock::duration) noexcept {
  // The guest kit has no ACPI power-off handling worth waiting for: destroy
  // (SIGTERM, then SIGKILL, by libvirt) is the quit.
  if (domain_ && transcript_) {
    transcript_->Record("libvirt", Transcript::Direction::kNote, "virDomainDestroy");
  }
  Kill();
}

void LibvirtMachine::Kill() noexcept {
  if (domain_) {
    if (virDomainIsActive(domain_.get()) == 1) virDomainDestroy(domain_.get());
    LOG(kInfo, "vm") << name() << ": libvirt domain destroyed";
  }
  hotplug_.reset();
  domain_.reset();
  conn_.reset();
  qmp_listen_.reset();
  agent_listen_.reset();
  serial_listen_.reset();
  serial_pump_.reset();
  qmp_.reset();
  agent_.reset();
  // The daemons go with their last owner (a destination may still hold one).
  daemon_.reset();
  return_daemon_.reset();
  socket_dir_.reset();
}

}  // namespace cpuhp
