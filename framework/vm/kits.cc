#include "vm/kits.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "util/error.h"
#include "util/text.h"
#include "vm/qemu_info.h"

#ifndef CPUHP_DEFAULT_KITS_DIR
#define CPUHP_DEFAULT_KITS_DIR ""
#endif

namespace cpuhp {

namespace fs = std::filesystem;

fs::path KitsDir() {
  if (const char* env = std::getenv("CPUHP_KITS_DIR"); env != nullptr && *env != '\0') return env;
  return CPUHP_DEFAULT_KITS_DIR;
}

bool IsKitName(std::string_view text) {
  // Digits and dots, starting and ending with a digit: "10.0", "6.12", "7".
  if (text.empty() || text.size() > 32 || text.front() == '.' || text.back() == '.') return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && i > 0 && text[i - 1] == '.') return false;
    if (c != '.' && (c < '0' || c > '9')) return false;
  }
  return true;
}

bool VersionMatches(std::string_view version, std::string_view name) {
  if (name.empty() || version.substr(0, name.size()) != name) return false;
  // The next character must end the component: "6.1" is not "6.12".
  if (version.size() == name.size()) return true;
  char next = version[name.size()];
  return next < '0' || next > '9';
}

std::map<std::string, std::string> ReadKitEnv(const fs::path& file, const std::string& what,
                                              const std::string& how_to_build) {
  std::ifstream in(file);
  if (!in) throw Error("no " + what + " at " + file.parent_path().string() + " (" +
                       file.filename().string() + " missing): " + how_to_build);
  std::map<std::string, std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos || line[0] == '#') continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    out[line.substr(0, eq)] = value;
  }
  return out;
}

std::vector<std::string> ListKits(const std::string& prefix, const std::string& env_file,
                                  const std::string& version_key) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(KitsDir(), ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || !fs::exists(entry.path() / env_file, ec)) continue;
    std::string version;
    try {
      version = ReadKitEnv(entry.path() / env_file, "kit", "").at(version_key);
    } catch (const std::exception&) {
      version = "unreadable";
    }
    out.push_back(name + " (" + version + ")");
  }
  std::sort(out.begin(), out.end());
  return out;
}

QemuKit QemuKit::Load(const fs::path& dir) {
  auto env = ReadKitEnv(dir / "qemu-kit.env", "QEMU kit",
                        "build it with `images/build-qemu-kit --out " + dir.string() +
                            "` (or `cmake --build build --target qemu-kit-10.0`)");
  QemuKit kit;
  kit.dir = dir;
  kit.wrapper = env["QEMU_WRAPPER"];
  kit.version = env["QEMU_VERSION"];
  kit.suite = env["QEMU_SUITE"];
  std::error_code ec;
  if (kit.wrapper.empty() || !fs::exists(kit.wrapper, ec)) {
    throw Error((dir / "qemu-kit.env").string() + ": QEMU_WRAPPER " +
                (kit.wrapper.empty() ? std::string("is not set")
                                     : kit.wrapper.string() + " does not exist") +
                "; rebuild the kit with images/build-qemu-kit");
  }
  return kit;
}

namespace {

// The host's QEMU version, asked once per process (a QEMU start, ~0.1 s).
std::string HostQemuVersion() {
  static std::once_flag once;
  static std::string version;
  std::call_once(once, [] {
    try {
      version = QueryQemuVersion("qemu-system-x86_64", Deadline::After(kQemuQuitTimeout * 2))
                    .ToString();
    } catch (const Error&) {
      version = "";
    }
  });
  return version;
}

}  // namespace

std::string ResolveQemuBinary(const std::string& what) {
  std::error_code ec;
  if (IsKitName(what)) {
    fs::path dir = KitsDir() / ("qemu-kit-" + what);
    if (fs::exists(dir / "qemu-kit.env", ec)) return QemuKit::Load(dir).wrapper.string();
    std::string host = HostQemuVersion();
    if (VersionMatches(host, what)) return "qemu-system-x86_64";
    std::vector<std::string> kits = ListKits("qemu-kit", "qemu-kit.env", "QEMU_VERSION");
    throw Error("no QEMU " + what + ": no kit " + dir.string() + ", and the host's QEMU is " +
                (host.empty() ? std::string("not runnable") : host) + "; kits in " +
                KitsDir().string() + ": " + (kits.empty() ? std::string("none") : Join(kits)) +
                "; build one with `images/build-qemu-kit --out " + dir.string() + "`");
  }
  if (fs::exists(fs::path(what) / "qemu-kit.env", ec)) return QemuKit::Load(what).wrapper.string();
  return what;
}

}  // namespace cpuhp
