// Snapshot boot: a guest restored from a booted template instead of booted.
//
// The first boot of a configuration boots cold; once the caller has read
// what it needs of the fresh guest it calls SaveBootTemplate(), which stops
// the guest, migrates it into a template file (QEMU's `migrate` to
// `exec:cat >> FILE`) and lets it go on. Later boots of the same
// configuration start QEMU with the same command line plus `-incoming defer`,
// load it with `migrate-incoming exec:tail -c +N FILE` and `cont` (the guest
// was stopped when saved): the guest's agent answers in a fraction of a
// second instead of after a kernel boot.
//
// The key is a hash of the whole QEMU command line (run-specific paths and
// the VM's name replaced by placeholders, -incoming dropped) plus the
// identity (path, size, mtime, inode) of every file that command line names
// (the QEMU binary, the kernel, the initrd, any firmware) and, for a QEMU that
// is a wrapper script, the script's content. Any option that changes the
// guest changes the command line, so it changes the key without a list of
// spec fields to keep up to date.
//
// A template is one file, <CacheDir()>/templates/<key>.tmpl: a header of
// kTemplateHeaderBytes (magic line + JSON: format, key, what the key was
// made of, data size and hash, QEMU's version, when it was made) and then
// QEMU's migration stream. It is written under a unique temporary name and
// renamed into place, so parallel runs making the same template never see a
// half-written one. A file that is truncated, corrupt (data hash), foreign
// (another key or format) or that QEMU refuses to load means a cold boot and
// one warning, never a failed run.
//
//   BootRecord rec;
//   std::unique_ptr<Vm> vm = BootVm(spec, dir, BootMode::kSnapshot, deadline, &rec);
//   ... read the baseline ...
//   if (rec.save_wanted) SaveBootTemplate(*vm, rec);
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/deadline.h"
#include "vm/machine_spec.h"
#include "vm/vm.h"

namespace cpuhp {

class Machine;


enum class BootMode { kCold, kSnapshot };
const char* BootModeName(BootMode mode);
// "cold" | "snapshot"; false on anything else.
bool ParseBootMode(std::string_view text, BootMode* mode);
// $CPUHP_BOOT when it names a mode (how the vm tests' fixtures pick one),
// else snapshot (docs/design.md, "Snapshot boot", says why).
BootMode DefaultBootMode();

// The header's size: the migration stream starts at this offset.
inline constexpr size_t kTemplateHeaderBytes = 16 * 1024;
// Bumped when the file layout or what a restore does changes.
inline constexpr int kTemplateFormat = 1;
// The first line of every template.
inline constexpr char kTemplateMagic[] = "CPUHP-BOOT-TEMPLATE\n";

// transcript.log notes (channel vm) around what a save or a restore sends:
// a repro script, which boots cold, skips what lies between them.
inline constexpr char kTemplateNoteBegin[] = "boot template: begin ";
inline constexpr char kTemplateNoteEnd[] = "boot template: end ";

struct TemplateKey {
  std::string hash;         // 16 hex digits, the file's name
  nlohmann::json material;  // what was hashed: normalised argv, file identities
};

// `argv` with the socket and log paths of `paths` and the VM's -name replaced
// by placeholders and any -incoming dropped.
std::vector<std::string> NormalizeCommandLine(const std::vector<std::string>& argv,
                                              const MachinePaths& paths);
// The key of the guest `spec` boots under `accel`.
TemplateKey MakeTemplateKey(const MachineSpec& spec, Accel accel);

// Why a spec can never be restored from a template, or "" if it can.
// A disk (snapshot=on keeps its writes in a temporary overlay that a
// migration does not carry) and a spec that is itself a migration
// destination are the two cases.
std::string TemplateIneligibility(const MachineSpec& spec);

// $CPUHP_CACHE_DIR (or XDG, see CacheDir()) / "templates".
std::filesystem::path TemplateDir();
std::filesystem::path TemplatePath(const std::string& key_hash);

struct TemplateHeader {
  int format = 0;
  std::string key;
  nlohmann::json material;
  uint64_t data_bytes = 0;
  std::string data_hash;  // 16 hex digits over the migration stream
  std::string qemu_version;
  std::string created_utc;
  nlohmann::json ToJson() const;
};

// The header as written at the start of a template: the magic line, the
// JSON, NUL padding to kTemplateHeaderBytes. Throws Error if it is longer.
std::string EncodeTemplateHeader(const TemplateHeader& header);

// Reads and checks the template at `path` for `key`: "" and *header filled
// when it may be restored, else what is wrong with it ("truncated: ...",
// "corrupt: ...", "foreign: ...", "not a cpuhp boot template").
std::string ValidateTemplate(const std::filesystem::path& path, const std::string& key,
                             TemplateHeader* header);

// A fast 64-bit hash of a byte range (not cryptographic: it finds damage).
// Streaming: HashBytes(b, n2, HashBytes(a, n1)) equals the hash of a+b
// whenever n1 is a multiple of 8.
inline constexpr uint64_t kHashStart = 0x9E3779B97F4A7C15ULL;
uint64_t HashBytes(const char* data, size_t size, uint64_t state = kHashStart);
std::string HexHash(uint64_t h);

// How one boot went: written into steps.json's boot record and result.json.
struct BootRecord {
  BootMode requested = BootMode::kCold;
  bool restored = false;
  std::string key;                   // "" for a cold boot that makes no template
  std::filesystem::path template_path;
  std::string template_created_utc;  // of the restored template
  std::string cold_reason;           // why a snapshot boot went cold
  bool save_wanted = false;          // the caller should SaveBootTemplate() once ready
  bool saved = false;
  std::string save_error;
  double save_s = 0;
  double guest_clock_behind_s = 0;  // after a restore, before the agent set it
  nlohmann::json ToJson() const;
};

// Launches `spec`: restored from its template when `mode` is kSnapshot and a
// valid one exists, else cold (then record->save_wanted says whether a
// template should be made). A template that QEMU fails to load is removed and
// the guest boots cold, with a warning. A cold boot goes through MakeVm (any
// backend) with `hook` set (Vm::SetBootHook); a scenario with a boot hook
// asks for kCold (EffectiveBootMode). Throws what Vm::Launch throws for the
// cold boot.
std::unique_ptr<Vm> BootVm(const MachineSpec& spec, const std::filesystem::path& artifacts_dir,
                           BootMode mode, const Deadline& deadline, BootRecord* record,
                           BootHook hook = {});

// BootVm for a direct-QEMU spec, as the Machine the tests and benchmarks use
// (its process, command line and sockets).
std::unique_ptr<Machine> BootMachine(const MachineSpec& spec,
                                     const std::filesystem::path& artifacts_dir, BootMode mode,
                                     const Deadline& deadline, BootRecord* record);

// Stops the guest, migrates it into the template file for record.key,
// resumes it. Never throws: a failure is a warning and record.save_error.
void SaveBootTemplate(Vm& vm, BootRecord& record);

// Every template file in TemplateDir(), with its header (or the problem).
struct TemplateEntry {
  std::filesystem::path path;
  uint64_t bytes = 0;
  std::optional<TemplateHeader> header;
  std::string problem;
};
std::vector<TemplateEntry> ListTemplates();
// Removes every template (and leftover temporary file); returns how many files.
int ClearTemplates();

}  // namespace cpuhp
