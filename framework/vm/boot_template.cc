#include "vm/boot_template.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "util/error.h"
#include "util/fd.h"
#include "util/log.h"
#include "util/transcript.h"
#include "vm/accel_probe.h"
#include "vm/machine.h"
#include "vm/qemu_info.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Saving is stop + migrate ~80 MB to a local file (0.6 s under TCG, on a
// quiet host) + cont.
constexpr seconds kTemplateSaveTimeout{60};
// QEMU start to the restored guest's agent answering: 0.3-0.5 s on a quiet
// host. Past this the restore is given up for a cold boot.
constexpr seconds kRestoreTimeout{30};
// A wrapper script for QEMU (a kit's) larger than this is not read for paths.
constexpr size_t kMaxWrapperBytes = 64 * 1024;
// The migration stream is read for its hash in chunks of this size.
constexpr size_t kHashChunkBytes = 1 << 20;

constexpr char kNameHolder[] = "@name@";

long long StatNs(const struct timespec& t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

// Identity of a file that the guest's configuration depends on: a rebuilt
// kit, an upgraded QEMU gets another size, mtime or inode.
std::optional<json> FileIdentity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return json::array({static_cast<long long>(st.st_size), StatNs(st.st_mtim),
                      static_cast<long long>(st.st_ino)});
}

// Absolute paths in `text` (split at whitespace, quotes, '=', ':' and ',').
std::vector<std::string> AbsolutePathsIn(const std::string& text) {
  std::vector<std::string> out;
  std::string token;
  auto flush = [&] {
    if (token.size() > 1 && token[0] == '/') out.push_back(token);
    token.clear();
  };
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::strchr("\"'=:,;", c)) flush();
    else token += c;
  }
  flush();
  return out;
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

std::string Trim(std::string s, size_t max) { return s.size() > max ? s.substr(0, max) + "..." : s; }

// Reads the header; "" when it parses, else the problem.
std::string ReadHeader(int fd, const std::string& path, TemplateHeader* header) {
  std::string buf(kTemplateHeaderBytes, '\0');
  ssize_t n = ::pread(fd, buf.data(), buf.size(), 0);
  if (n < 0) return "cannot read " + path + ": " + std::strerror(errno);
  const size_t magic_len = std::strlen(kTemplateMagic);
  if (static_cast<size_t>(n) < magic_len || buf.compare(0, magic_len, kTemplateMagic) != 0) {
    return "not a cpuhp boot template (no magic line)";
  }
  if (static_cast<size_t>(n) < kTemplateHeaderBytes) {
    return "truncated: " + std::to_string(n) + " bytes, shorter than its header";
  }
  std::string text = buf.substr(magic_len);
  text = text.substr(0, text.find('\0'));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "corrupt: its header is not JSON";
  try {
    header->format = j.at("format").get<int>();
    header->key = j.at("key").get<std::string>();
    header->material = j.value("material", json());
    header->data_bytes = j.at("data_bytes").get<uint64_t>();
    header->data_hash = j.at("data_hash").get<std::string>();
    header->qemu_version = j.value("qemu_version", "");
    header->created_utc = j.value("created_utc", "");
  } catch (const json::exception& e) {
    return std::string("corrupt: its header lacks a field (") + e.what() + ")";
  }
  return "";
}

fs::path UniqueTempPath(const std::string& key) {
  static std::atomic<unsigned> counter{0};
  return TemplateDir() / (key + ".tmp-" + std::to_string(::getpid()) + "-" +
                          std::to_string(counter.fetch_add(1)));
}

// Writes the header at offset 0 of `fd`.
void WriteHeader(int fd, const TemplateHeader& header) {
  const std::string text = EncodeTemplateHeader(header);
  if (::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    throw SystemError("write the template header", errno);
  }
}

// Hash of everything after the header; *bytes gets its length.
uint64_t HashData(int fd, uint64_t* bytes) {
  std::string buf(kHashChunkBytes, '\0');
  uint64_t h = kHashStart;
  uint64_t total = 0;
  for (off_t at = kTemplateHeaderBytes;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError("read the template", errno);
    if (n == 0) break;
    // Whole chunks (a multiple of 8) until the last: the same as one pass.
    h = HashBytes(buf.data(), static_cast<size_t>(n), h);
    total += static_cast<uint64_t>(n);
    at += n;
  }
  *bytes = total;
  return h;
}

// Turns on MIGRATION events (QEMU sends none without the capability).
void EnableMigrationEvents(QmpLink& qmp) {
  qmp.Execute("migrate-set-capabilities",
              {{"capabilities", json::array({{{"capability", "events"}, {"state", true}}})}});
}

// The final status of the migration under way: completed, failed or cancelled.
std::string WaitForMigrationEnd(QmpLink& qmp, const Deadline& deadline) {
  json ev = qmp.WaitForEvent(
      "MIGRATION",
      [](const json& e) {
        const std::string s = e.value("data", json::object()).value("status", "");
        return s == "completed" || s == "failed" || s == "cancelled";
      },
      deadline);
  return ev["data"].value("status", "");
}

// The events a save or restore caused are not the scenario's.
void DropMigrationEvents(QmpLink& qmp) {
  while (qmp.TryWaitForAnyEvent(
      [](const json& e) {
        const std::string n = e.value("event", "");
        return n == "MIGRATION" || n == "MIGRATION_PASS" || n == "STOP" || n == "RESUME";
      },
      Deadline::AfterUnscaled({}))) {
  }
}

// Guest clock after a restore: the template's, i.e. behind by its age.
void SetGuestClock(Vm& vm, BootRecord* record) {
  try {
    json t = vm.Agent().Execute("guest-get-time");
    const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    if (t.is_number_integer()) record->guest_clock_behind_s = (now_ns - t.get<int64_t>()) / 1e9;
    vm.Agent().Execute("guest-set-time", {{"time", now_ns}});
  } catch (const Error& e) {
    LOG(kWarning, "vm") << vm.name() << ": restored guest's clock could not be set: " << e.what();
  }
}

}  // namespace

const char* BootModeName(BootMode mode) { return mode == BootMode::kCold ? "cold" : "snapshot"; }

bool ParseBootMode(std::string_view text, BootMode* mode) {
  if (text == "cold") *mode = BootMode::kCold;
  else if (text == "snapshot") *mode = BootMode::kSnapshot;
  else return false;
  return true;
}

BootMode DefaultBootMode() {
  BootMode mode = BootMode::kSnapshot;
  if (const char* env = std::getenv("CPUHP_BOOT"); env && *env && !ParseBootMode(env, &mode)) {
    LOG(kWarning, "vm") << "CPUHP_BOOT=" << env << " is neither cold nor snapshot; using snapshot";
  }
  return mode;
}

uint64_t HashBytes(const char* data, size_t size, uint64_t state) {
  uint64_t h = state;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    h = (h ^ w) * 0x100000001B3ULL;
    h ^= h >> 29;
  }
  for (; i < size; ++i) h = (h ^ static_cast<unsigned char>(data[i])) * 0x100000001B3ULL;
  return h;
}

std::string HexHash(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<std::string> NormalizeCommandLine(const std::vector<std::string>& argv,
                                              const MachinePaths& paths) {
  const std::pair<std::string, std::string> holders[] = {
      {paths.qmp_socket.string(), "@qmp@"},
      {paths.agent_socket.string(), "@agent@"},
      {paths.serial_socket.string(), "@serial-socket@"},
      {paths.serial_log.string(), "@serial-log@"}};
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "-incoming") {
      ++i;  // and its value
      continue;
    }
    if (argv[i] == "-name" && i + 1 < argv.size()) {
      // The run's label: "guest=smoke,debug-threads=on" -> "guest=@name@,debug-threads=on".
      std::string value = argv[++i];
      size_t end = value.find(",debug-threads");
      out.insert(out.end(), {"-name", kNameHolder + (end == std::string::npos ? "" : value.substr(end))});
      continue;
    }
    std::string a = argv[i];
    for (const auto& [path, holder] : holders) {
      if (path.empty()) continue;
      a = ReplaceAll(a, path, holder);
      // BuildCommandLine doubles commas inside option values.
      a = ReplaceAll(a, ReplaceAll(path, ",", ",,"), holder);
    }
    out.push_back(std::move(a));
  }
  return out;
}

TemplateKey MakeTemplateKey(const MachineSpec& spec, Accel accel) {
  MachineSpec s = spec;
  s.incoming.reset();
  const MachinePaths paths{"/@qmp@", "/@agent@", "/@serial-log@", "/@serial-socket@"};
  std::vector<std::string> argv = NormalizeCommandLine(BuildCommandLine(s, accel, paths), paths);
  json files = json::object();
  auto add_file = [&files](const std::string& path) {
    if (files.contains(path)) return;
    if (auto id = FileIdentity(path)) files[path] = *id;
  };
  const std::string binary = CanonicalOrSelf(spec.qemu_binary);
  add_file(binary);
  // A kit's QEMU is a wrapper script: what it runs is named inside it.
  if (auto id = FileIdentity(binary); id && id->at(0).get<long long>() <= static_cast<long long>(kMaxWrapperBytes)) {
    std::ifstream in(binary, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.rfind("#!", 0) == 0) {
      for (const auto& p : AbsolutePathsIn(text)) add_file(p);
    }
  }
  for (const auto& a : argv) {
    for (const auto& p : AbsolutePathsIn(a)) add_file(p);
  }
  TemplateKey key;
  key.material = {{"format", kTemplateFormat}, {"argv", argv}, {"files", files}};
  const std::string text = key.material.dump();
  key.hash = HexHash(HashBytes(text.data(), text.size()));
  return key;
}

std::string TemplateIneligibility(const MachineSpec& spec) {
  if (spec.backend != "qemu") {
    // libvirtd starts QEMU (and owns its migration): a template would boot
    // the guest as direct QEMU instead, behind libvirt's back.
    return "the " + spec.backend + " backend starts its own QEMU";
  }
  if (!spec.disk.empty()) {
    return "it boots a disk (snapshot=on keeps the disk's writes in an overlay that a template "
           "does not carry)";
  }
  if (spec.incoming) return "it is a migration destination";
  return "";
}

fs::path TemplateDir() { return CacheDir() / "templates"; }

fs::path TemplatePath(const std::string& key_hash) { return TemplateDir() / (key_hash + ".tmpl"); }

std::string EncodeTemplateHeader(const TemplateHeader& header) {
  std::string text = kTemplateMagic + header.ToJson().dump() + "\n";
  if (text.size() > kTemplateHeaderBytes) {
    throw Error("the template header (" + std::to_string(text.size()) + " bytes) exceeds " +
                std::to_string(kTemplateHeaderBytes) + " bytes: the command line is too long");
  }
  text.resize(kTemplateHeaderBytes, '\0');
  return text;
}

json TemplateHeader::ToJson() const {
  return {{"format", format},         {"key", key},
          {"material", material},     {"data_bytes", data_bytes},
          {"data_hash", data_hash},   {"qemu_version", qemu_version},
          {"created_utc", created_utc}};
}

std::string ValidateTemplate(const fs::path& path, const std::string& key, TemplateHeader* header) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "cannot open " + path.string() + ": " + std::strerror(errno);
  std::string problem = ReadHeader(fd.get(), path.string(), header);
  if (!problem.empty()) return problem;
  if (header->format != kTemplateFormat) {
    return "foreign: format " + std::to_string(header->format) + ", this cpuhp reads " +
           std::to_string(kTemplateFormat);
  }
  if (header->key != key) return "foreign: made for key " + Trim(header->key, 40) + ", not " + key;
  uint64_t bytes = 0;
  const uint64_t h = HashData(fd.get(), &bytes);
  if (bytes != header->data_bytes) {
    return "truncated: " + std::to_string(bytes) + " bytes of migration stream, its header says " +
           std::to_string(header->data_bytes);
  }
  if (HexHash(h) != header->data_hash) {
    return "corrupt: the migration stream hashes to " + HexHash(h) + ", its header says " +
           Trim(header->data_hash, 40);
  }
  return "";
}

json BootRecord::ToJson() const {
  json j = {{"mode", BootModeName(requested)}, {"restored", restored}};
  if (!key.empty()) j["template_key"] = key;
  if (!template_path.empty()) j["template"] = template_path.string();
  if (!template_created_utc.empty()) j["template_created_utc"] = template_created_utc;
  if (!cold_reason.empty()) j["cold_reason"] = cold_reason;
  if (restored) j["guest_clock_behind_s"] = guest_clock_behind_s;
  if (saved || !save_error.empty()) {
    j["template_saved"] = saved;
    j["template_save_s"] = save_s;
  }
  if (!save_error.empty()) j["template_save_error"] = save_error;
  return j;
}

std::unique_ptr<Vm> BootVm(const MachineSpec& spec, const fs::path& artifacts_dir, BootMode mode,
                           const Deadline& deadline, BootRecord* record, BootHook hook) {
  *record = BootRecord{};
  record->requested = mode;
  if (mode == BootMode::kSnapshot) {
    std::string ineligible = TemplateIneligibility(spec);
    if (!ineligible.empty()) record->cold_reason = "no template: " + ineligible;
  }
  if (mode == BootMode::kSnapshot && record->cold_reason.empty()) {
    // The accel the cold boot would resolve to: a KVM template is not a TCG one.
    const AccelChoice accel = ResolveAccel(spec.accel, spec.qemu_binary);
    const TemplateKey key = MakeTemplateKey(spec, accel.accel);
    record->key = key.hash;
    record->template_path = TemplatePath(key.hash);
    TemplateHeader header;
    std::error_code ec;
    const bool exists = fs::exists(record->template_path, ec);
    std::string problem = exists ? ValidateTemplate(record->template_path, key.hash, &header)
                                 : "none yet for this configuration";
    if (exists && !problem.empty()) {
      LOG(kWarning, "vm") << spec.name << ": boot template " << record->template_path.string()
                          << " is unusable (" << problem << "); booting cold";
    }
    if (problem.empty()) {
      // -incoming defer, then migrate-incoming: MIGRATION events can be
      // turned on before the stream is read.
      MachineSpec restore = spec;
      restore.incoming = "defer";
      auto vm = std::make_unique<Machine>(restore, artifacts_dir);
      try {
        const Deadline restore_deadline = Deadline::After(kRestoreTimeout).Min(deadline);
        vm->Launch(restore_deadline);
        vm->transcript().Record("vm", Transcript::Direction::kNote,
                                kTemplateNoteBegin + std::string("restore from ") +
                                    record->template_path.string());
        QmpClient& qmp = vm->Qmp();
        EnableMigrationEvents(qmp);
        qmp.Execute("migrate-incoming",
                    {{"uri", "exec:tail -c +" + std::to_string(kTemplateHeaderBytes + 1) + " " +
                                 ShellQuote(record->template_path.string())}});
        const std::string status = WaitForMigrationEnd(qmp, restore_deadline);
        if (status != "completed") throw Error("loading the template ended " + status);
        // The template's guest was stopped when it was saved: it stays paused.
        qmp.Execute("cont");
        DropMigrationEvents(qmp);
        vm->WaitForAgent(restore_deadline);
        SetGuestClock(*vm, record);
        vm->transcript().Record("vm", Transcript::Direction::kNote,
                                kTemplateNoteEnd + std::string("restored"));
        record->restored = true;
        record->template_created_utc = header.created_utc;
        return vm;
      } catch (const Error& e) {
        problem = std::string("QEMU could not restore it: ") + Trim(e.what(), 400);
        LOG(kWarning, "vm") << spec.name << ": boot template " << record->template_path.string()
                            << " did not restore (" << problem << "); removing it, booting cold";
        vm.reset();
        std::error_code rm;
        fs::copy_file(artifacts_dir / "qemu.log", artifacts_dir / "restore-qemu.log",
                      fs::copy_options::overwrite_existing, rm);
        fs::remove(record->template_path, rm);
      }
    }
    record->cold_reason = problem;
    record->save_wanted = true;
  }
  std::unique_ptr<Vm> vm = MakeVm(spec, artifacts_dir);
  if (hook) vm->SetBootHook(std::move(hook));
  vm->Launch(deadline);
  return vm;
}

std::unique_ptr<Machine> BootMachine(const MachineSpec& spec, const fs::path& artifacts_dir,
                                     BootMode mode, const Deadline& deadline, BootRecord* record) {
  std::unique_ptr<Vm> vm = BootVm(spec, artifacts_dir, mode, deadline, record);
  auto* machine = dynamic_cast<Machine*>(vm.get());
  if (!machine) throw Error("BootMachine: " + spec.name + " is not a direct-QEMU VM");
  vm.release();
  return std::unique_ptr<Machine>(machine);
}

void SaveBootTemplate(Vm& vm, BootRecord& record) {
  const Clock::time_point t0 = Clock::now();
  const Deadline deadline = Deadline::After(kTemplateSaveTimeout);
  record.save_wanted = false;
  fs::path tmp;
  bool stopped = false;
  vm.transcript().Record("vm", Transcript::Direction::kNote,
                         kTemplateNoteBegin + std::string("save to ") + record.template_path.string());
  try {
    if (record.key.empty()) throw Error("no template key");
    std::error_code ec;
    fs::create_directories(TemplateDir(), ec);
    tmp = UniqueTempPath(record.key);
    UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) throw SystemError("create " + tmp.string(), errno);
    TemplateHeader header;
    header.format = kTemplateFormat;
    header.key = record.key;
    header.material = MakeTemplateKey(vm.spec(), vm.accel()).material;
    header.qemu_version = ParseQueryVersion(vm.Qmp().Execute("query-version"), vm.name()).ToString();
    header.created_utc = UtcTimestamp();
    WriteHeader(fd.get(), header);  // a placeholder: QEMU appends after it
    QmpLink& qmp = vm.Qmp();
    EnableMigrationEvents(qmp);
    qmp.Execute("stop");
    stopped = true;
    qmp.Execute("migrate", {{"uri", "exec:cat >> " + ShellQuote(tmp.string())}});
    const std::string status = WaitForMigrationEnd(qmp, deadline);
    if (status != "completed") throw Error("the migration into the template ended " + status);
    uint64_t bytes = 0;
    header.data_hash = HexHash(HashData(fd.get(), &bytes));
    header.data_bytes = bytes;
    WriteHeader(fd.get(), header);
    fd.reset();
    // Another run may have made the same template meanwhile: either is whole.
    fs::rename(tmp, record.template_path);
    tmp.clear();
    record.saved = true;
  } catch (const std::exception& e) {
    record.save_error = e.what();
    LOG(kWarning, "vm") << vm.name() << ": could not save a boot template: " << e.what();
  }
  if (!tmp.empty()) {
    std::error_code ec;
    fs::remove(tmp, ec);
  }
  if (stopped) {
    try {
      vm.Qmp().Execute("cont");
    } catch (const Error& e) {
      record.save_error += std::string(record.save_error.empty() ? "" : "; ") + "cont: " + e.what();
      LOG(kError, "vm") << vm.name() << ": cont after saving the template: " << e.what();
    }
  }
  try {
    DropMigrationEvents(vm.Qmp());
  } catch (const Error&) {
  }
  record.save_s = ToSeconds(Clock::now() - t0);
  vm.transcript().Record("vm", Transcript::Direction::kNote,
                         kTemplateNoteEnd + std::string(record.saved ? "saved" : "not saved"));
}

std::vector<TemplateEntry> ListTemplates() {
  std::vector<TemplateEntry> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(TemplateDir(), ec)) {
    if (e.path().extension() != ".tmpl") continue;
    TemplateEntry t;
    t.path = e.path();
    t.bytes = e.file_size(ec);
    UniqueFd fd(::open(t.path.c_str(), O_RDONLY | O_CLOEXEC));
    TemplateHeader h;
    t.problem = fd ? ReadHeader(fd.get(), t.path.string(), &h) : std::strerror(errno);
    if (t.problem.empty()) t.header = h;
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

int ClearTemplates() {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(TemplateDir(), ec)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() == ".tmpl" || name.find(".tmp-") != std::string::npos) {
      if (fs::remove(e.path(), ec)) ++n;
    }
  }
  return n;
}

}  // namespace cpuhp
