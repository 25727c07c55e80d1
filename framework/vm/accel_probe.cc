#include "vm/accel_probe.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <vector>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/fd.h"
#include "util/file.h"
#include "util/log.h"
#include "util/process.h"
#include "util/temp_dir.h"
#include "vm/qemu_info.h"

#include <csignal>

namespace cpuhp {
namespace {

// Bump when the firmware or the decision changes: old disk entries then miss.
constexpr int kProbeVersion = 1;
// What the probe keeps of its console: it prints two bytes when it works.
constexpr size_t kMaxProbeConsole = 256;
// The firmware is mapped below 1 MiB at 0xF0000; QEMU wants a multiple of 64 KiB.
constexpr size_t kFirmwareSize = 64 * 1024;
constexpr size_t kResetVectorOffset = 0xFFF0;
constexpr size_t kFirmwareBase = 0xF0000;

// Real-mode code at F000:0000, hand-assembled (no assembler is a build
// dependency). It does what SeaBIOS does before its first wait for the timer
// (a broken KVM host halts SeaBIOS right there): software-enable the local
// APIC and route LINT0 as ExtINT, so that the 8259's IRQ 0 from the PIT wakes
// the vCPU from HLT. The APIC's registers lie at 0xFEE00000, beyond real
// mode's 64 KiB segments: a flat data segment is loaded through a moment in
// protected mode ("unreal mode").
std::string ProbeFirmware() {
  using Bytes = std::vector<unsigned char>;
  Bytes code;
  auto emit = [&code](Bytes b) { code.insert(code.end(), b.begin(), b.end()); };
  auto patch16 = [&code](size_t at, size_t value) {
    code[at] = static_cast<unsigned char>(value & 0xFF);
    code[at + 1] = static_cast<unsigned char>((value >> 8) & 0xFF);
  };
  emit({0xFA,                        // cli
        0x31, 0xC0,                  // xor ax, ax
        0x8E, 0xD0,                  // mov ss, ax
        0xBC, 0x00, 0x70,            // mov sp, 0x7000
        0x8E, 0xD8,                  // mov ds, ax
        0xBA, 0xF8, 0x03,            // mov dx, 0x3F8 (COM1)
        0xB0, 'R', 0xEE});           // out dx, 'R': the vCPU runs real-mode code
  emit({0x2E, 0x0F, 0x01, 0x16});    // lgdt [cs:gdt_descriptor]
  const size_t lgdt_operand = code.size();
  emit({0x00, 0x00,
        0x0F, 0x20, 0xC0,            // mov eax, cr0
        0x0C, 0x01,                  // or al, 1 (PE)
        0x0F, 0x22, 0xC0,            // mov cr0, eax
        0xBB, 0x08, 0x00,            // mov bx, 8 (the flat data segment)
        0x8E, 0xDB,                  // mov ds, bx: a 4 GiB limit
        0x24, 0xFE,                  // and al, ~1
        0x0F, 0x22, 0xC0,            // mov cr0, eax: real mode again, limit kept
        0x31, 0xDB,                  // xor bx, bx
        0x8E, 0xDB});                // mov ds, bx: base 0
  emit({0x66, 0xBB, 0xF0, 0x00, 0xE0, 0xFE,                    // mov ebx, 0xFEE000F0 (SVR)
        0x67, 0x66, 0xC7, 0x03, 0xFF, 0x01, 0x00, 0x00,        // mov dword [ebx], 0x1FF: enabled
        0x66, 0xBB, 0x50, 0x03, 0xE0, 0xFE,                    // mov ebx, 0xFEE00350 (LVT LINT0)
        0x67, 0x66, 0xC7, 0x03, 0x00, 0x07, 0x00, 0x00});      // mov dword [ebx], 0x700: ExtINT
  emit({0xC7, 0x06, 0x20, 0x00});    // mov word [0x20], handler
  const size_t handler_operand = code.size();
  emit({0x00, 0x00,
        0xC7, 0x06, 0x22, 0x00, 0x00, 0xF0,  // mov word [0x22], 0xF000: IVT[8] = F000:handler
        0xB0, 0x11, 0xE6, 0x20,      // PIC: ICW1 (edge, cascade, ICW4 follows)
        0xB0, 0x08, 0xE6, 0x21,      //      ICW2: IRQ 0 is vector 8
        0xB0, 0x04, 0xE6, 0x21,      //      ICW3: slave on IRQ 2
        0xB0, 0x01, 0xE6, 0x21,      //      ICW4: 8086 mode
        0xB0, 0xFE, 0xE6, 0x21,      //      OCW1: only IRQ 0 unmasked
        0xB0, 0x34, 0xE6, 0x43,      // PIT: channel 0, lo/hi byte, mode 2 (rate generator)
        0xB0, 0xA9, 0xE6, 0x40,      //      divisor 0x04A9 = 1193: a 1 ms tick
        0xB0, 0x04, 0xE6, 0x40,
        0xBA, 0xF8, 0x03,            // mov dx, 0x3F8 (COM1)
        0xB0, 'B', 0xEE,             // out dx, 'B': through protected mode and back
        0xFB,                        // sti
        0xF4,                        // loop: hlt
        0xEB, 0xFD});                //       jmp loop
  patch16(handler_operand, code.size());
  emit({0xB0, 0x20, 0xE6, 0x20,      // handler: EOI
        0xBA, 0xF8, 0x03,            // mov dx, 0x3F8
        0xB0, 'T', 0xEE,             // out dx, 'T': the timer woke it from HLT
        0xCF});                      // iret
  while (code.size() % 8) code.push_back(0xF4);
  const size_t gdt = code.size();
  emit({0, 0, 0, 0, 0, 0, 0, 0,                            // null
        0xFF, 0xFF, 0x00, 0x00, 0x00, 0x92, 0xCF, 0x00});  // data: base 0, 4 GiB, writable
  patch16(lgdt_operand, code.size());
  const size_t gdt_linear = kFirmwareBase + gdt;
  emit({15, 0,                       // limit: two entries
        static_cast<unsigned char>(gdt_linear & 0xFF), static_cast<unsigned char>((gdt_linear >> 8) & 0xFF),
        static_cast<unsigned char>((gdt_linear >> 16) & 0xFF), 0x00});
  std::string image(kFirmwareSize, '\xF4');  // hlt everywhere else
  std::memcpy(image.data(), code.data(), code.size());
  const unsigned char reset[] = {0xEA, 0x00, 0x00, 0x00, 0xF0};  // jmp far F000:0000
  std::memcpy(image.data() + kResetVectorOffset, reset, sizeof(reset));
  return image;
}

std::string Milliseconds(Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > 200 ? line.substr(0, 200) + "..." : line;
}

// A probe guest's story, shared by the KVM and TCG verdicts.
ProbeVerdict DecideGuest(const char* what, const ProbeObservation& o, Clock::duration timeout) {
  if (!o.spawned) return {false, std::string("cannot run QEMU: ") + o.spawn_error};
  if (o.console.find('T') != std::string::npos) {
    return {true, std::string("a ") + what + " guest took its timer interrupt in " +
                      Milliseconds(o.elapsed)};
  }
  const std::string secs = FormatDuration(timeout);
  if (o.exited) {
    std::string why = std::string("QEMU exited (") + o.exited->Describe() + ") before a " + what +
                      " guest ran";
    if (!o.qemu_log.empty()) why += ": " + FirstLine(o.qemu_log);
    return {false, why};
  }
  if (o.console.find('B') != std::string::npos) {
    return {false, std::string("a ") + what + " guest ran but its timer interrupt never woke it in " +
                       secs};
  }
  if (o.console.find('R') != std::string::npos) {
    return {false, std::string("a ") + what + " guest stalled entering protected mode (it printed from "
                       "real mode, then nothing in " + secs + ")"};
  }
  return {false, std::string("a ") + what + " guest printed nothing in " + secs};
}

long long StatNs(const struct timespec& t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

// Everything whose change must invalidate a disk entry: the boot (a reboot
// can bring another kernel or module parameters), the kvm module (reloading
// it recreates /dev/kvm), the QEMU binary (an upgrade replaces the file).
nlohmann::json CacheKey(const std::string& binary) {
  nlohmann::json key = {{"probe_version", kProbeVersion}, {"uid", ::geteuid()}};
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  std::getline(boot, boot_id);
  key["boot_id"] = boot_id;
  key["qemu"] = binary;
  struct stat st {};
  if (::stat(binary.c_str(), &st) == 0) {
    key["qemu_stat"] = {st.st_dev, st.st_ino, st.st_size, StatNs(st.st_mtim)};
  }
  if (::stat("/dev/kvm", &st) == 0) key["kvm_stat"] = {st.st_ino, st.st_rdev, StatNs(st.st_ctim)};
  return key;
}

std::filesystem::path CacheFile(const std::string& binary) {
  // FNV-1a of the path: one small file per QEMU binary.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : binary) h = (h ^ c) * 1099511628211ULL;
  char name[64];
  std::snprintf(name, sizeof(name), "kvm-probe-%016llx.json", static_cast<unsigned long long>(h));
  return CacheDir() / name;
}

std::optional<ProbeVerdict> ReadCache(const std::string& binary, const nlohmann::json& key) {
  std::ifstream in(CacheFile(binary));
  if (!in) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("key", nlohmann::json()) != key) return std::nullopt;
  auto usable = j.find("usable");
  auto reason = j.find("reason");
  if (usable == j.end() || !usable->is_boolean() || reason == j.end() || !reason->is_string()) {
    return std::nullopt;
  }
  return ProbeVerdict{usable->get<bool>(), reason->get<std::string>()};
}

void WriteCache(const std::string& binary, const nlohmann::json& key, const ProbeVerdict& v) {
  // Best effort: a read-only home only costs the next process a probe.
  try {
    auto file = CacheFile(binary);
    std::filesystem::create_directories(file.parent_path());
    auto tmp = file;
    tmp += ".tmp." + std::to_string(::getpid());
    {
      std::ofstream out(tmp);
      out << nlohmann::json{{"key", key}, {"usable", v.usable}, {"reason", v.reason}}.dump(2);
      if (!out) return;
    }
    std::filesystem::rename(tmp, file);
  } catch (const std::exception& e) {
    LOG(kDebug, "accel") << "cannot write the KVM probe cache: " << e.what();
  }
}

}  // namespace

std::string CanonicalOrSelf(const std::string& binary) {
  std::string path = FindInPath(binary).value_or(binary).string();
  std::error_code ec;
  auto canonical = std::filesystem::canonical(path, ec);
  return ec ? path : canonical.string();
}

std::filesystem::path CacheDir() {
  if (const char* d = std::getenv("CPUHP_CACHE_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::filesystem::path(d) / "cpuhp";
  if (const char* d = std::getenv("HOME"); d && *d) return std::filesystem::path(d) / ".cache" / "cpuhp";
  return std::filesystem::temp_directory_path() / "cpuhp-cache";
}

KvmDevice OpenKvmDevice() {
  KvmDevice d;
  UniqueFd fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!fd) {
    d.open_errno = errno;
    return d;
  }
  constexpr unsigned long kKvmGetApiVersion = 0xAE00;  // _IO(KVMIO, 0x00)
  d.api_version = ::ioctl(fd.get(), kKvmGetApiVersion, 0);
  return d;
}

ProbeVerdict DecideKvm(const KvmDevice& device, const std::optional<ProbeObservation>& observation,
                       Clock::duration timeout) {
  if (device.open_errno == ENOENT) {
    return {false, "there is no /dev/kvm (no kvm module loaded, or no virtualization extensions)"};
  }
  if (device.open_errno == EACCES || device.open_errno == EPERM) {
    return {false, "permission denied opening /dev/kvm (run as root or join the group that owns it)"};
  }
  if (device.open_errno != 0) {
    return {false, std::string("cannot open /dev/kvm: ") + std::strerror(device.open_errno)};
  }
  if (device.api_version != 12) {
    return {false, "/dev/kvm answered KVM_GET_API_VERSION with " + std::to_string(device.api_version) +
                       " (12 expected)"};
  }
  if (!observation) return {false, "/dev/kvm opens, but no KVM guest was tried"};
  ProbeVerdict v = DecideGuest("KVM", *observation, timeout);
  if (!v.usable && observation->spawned) v.reason = "/dev/kvm opens but " + v.reason;
  return v;
}

ProbeVerdict DecideTcg(const ProbeObservation& observation, Clock::duration timeout) {
  return DecideGuest("TCG", observation, timeout);
}

ProbeObservation RunProbeGuest(const std::string& qemu_binary, Accel accel,
                               Clock::duration timeout) {
  ProbeObservation o;
  const Deadline deadline = Deadline::AfterUnscaled(timeout);
  TempDir dir(std::filesystem::temp_directory_path(), "cpuhp-probe-");
  const auto firmware = dir.path() / "probe.bin";
  {
    std::ofstream out(firmware, std::ios::binary);
    out << ProbeFirmware();
  }
  const auto socket = dir.path() / "console.sock";
  UniqueFd listen = ListenUnix(socket);
  std::vector<std::string> argv = {
      qemu_binary, "-machine", "pc", "-accel", AccelName(accel), "-m", "16",
      "-nodefaults", "-no-user-config", "-display", "none", "-bios", firmware.string(),
      "-chardev", "socket,id=console,path=" + socket.string(), "-serial", "chardev:console"};
  const Clock::time_point t0 = Clock::now();
  std::optional<Process> qemu;
  try {
    qemu.emplace(Process::Spawn({.argv = argv, .output = dir.path() / "qemu.log"}));
  } catch (const Error& e) {
    o.spawned = false;
    o.spawn_error = e.what();
    return o;
  }
  UniqueFd console = AcceptFromQemu(listen.get(), *qemu, deadline);
  if (qemu->status()) o.exited = qemu->status();
  while (console && o.console.find('T') == std::string::npos && !o.exited) {
    pollfd fds[2] = {{console.get(), POLLIN, 0}, {qemu->pidfd(), POLLIN, 0}};
    int rc = ::poll(fds, 2, deadline.PollTimeoutMs());
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) throw SystemError("poll", errno);
    if (rc == 0) break;  // the deadline
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[64];
      ssize_t n = ::read(console.get(), buf, sizeof(buf));
      if (n > 0 && o.console.size() < kMaxProbeConsole) o.console.append(buf, static_cast<size_t>(n));
      if (n <= 0 && !(fds[1].revents & POLLIN)) {
        // QEMU closed the console: its exit follows at once.
        o.exited = qemu->Wait(Deadline::AfterUnscaled(kQemuQuitTimeout));
        break;
      }
    }
    if (fds[1].revents & POLLIN) o.exited = qemu->Wait(Deadline::AfterUnscaled(kQemuQuitTimeout));
  }
  o.elapsed = Clock::now() - t0;
  if (o.exited) o.qemu_log = TailOfFile(dir.path() / "qemu.log", 5);
  if (!o.exited) {
    qemu->SignalGroup(SIGKILL);
    qemu->Wait(Deadline::AfterUnscaled(kQemuQuitTimeout));
  }
  return o;
}

KvmProbeResult ProbeKvm(const std::string& qemu_binary, bool fresh) {
  static std::mutex mu;
  static std::map<std::string, ProbeVerdict> memory;
  KvmDevice device = OpenKvmDevice();
  // A device that does not open is cheap to see and changes without a reboot
  // (permissions, modprobe): it is never cached.
  if (device.open_errno != 0 || device.api_version != 12) return {DecideKvm(device, std::nullopt), {}, false};

  const std::string binary = CanonicalOrSelf(qemu_binary);
  std::lock_guard lock(mu);  // parallel runs wait for one probe, not start their own
  if (!fresh) {
    if (auto it = memory.find(binary); it != memory.end()) return {it->second, {}, true};
  }
  const nlohmann::json key = CacheKey(binary);
  if (!fresh) {
    if (auto cached = ReadCache(binary, key)) {
      memory[binary] = *cached;
      return {*cached, {}, true};
    }
  }
  const Clock::time_point t0 = Clock::now();
  ProbeObservation o = RunProbeGuest(binary, Accel::kKvm, kAccelProbeTimeout);
  KvmProbeResult result{DecideKvm(device, o), Clock::now() - t0, false};
  memory[binary] = result.verdict;
  WriteCache(binary, key, result.verdict);
  return result;
}

AccelChoice ResolveAccel(Accel requested, const std::string& qemu_binary) {
  if (requested == Accel::kTcg) return {Accel::kTcg, "accel tcg was requested"};
  static std::mutex mu;
  static std::map<std::string, bool> warned;
  KvmProbeResult probe = ProbeKvm(qemu_binary);
  if (probe.verdict.usable) return {Accel::kKvm, probe.verdict.reason};
  if (requested == Accel::kKvm) {
    throw LaunchError("accel kvm was requested but " + probe.verdict.reason +
                      " (use --accel tcg, or accel: auto to fall back to TCG; `cpuhp doctor` shows "
                      "what this host can run)");
  }
  {
    std::lock_guard lock(mu);
    if (!warned[qemu_binary]) {
      warned[qemu_binary] = true;
      LOG(kWarning, "accel") << "accel auto: " << probe.verdict.reason << "; using TCG";
    }
  }
  return {Accel::kTcg, probe.verdict.reason + "; accel auto chose TCG"};
}

}  // namespace cpuhp
