#include "vm/guest_kit.h"

#include <cstdlib>
#include <fstream>

#include "util/error.h"
#include "util/text.h"
#include "vm/kits.h"
#include "vm/machine_spec.h"

#ifndef CPUHP_DEFAULT_GUEST_KIT_DIR
#define CPUHP_DEFAULT_GUEST_KIT_DIR ""
#endif

namespace cpuhp {

std::filesystem::path GuestKit::DefaultDir() {
  if (const char* env = std::getenv("CPUHP_GUEST_KIT"); env != nullptr && *env != '\0') return env;
  return CPUHP_DEFAULT_GUEST_KIT_DIR;
}

GuestKit GuestKit::Load(const std::filesystem::path& dir) {
  auto env = ReadKitEnv(dir / "kit.env", "guest kit",
                        "build it with `cmake --build build --target guest-kit` or "
                        "`images/build-guest-kit --out DIR`, or set CPUHP_GUEST_KIT");
  std::filesystem::path env_file = dir / "kit.env";
  GuestKit kit;
  kit.dir = dir;
  kit.kernel = env["KERNEL"];
  kit.initrd = env["INITRD"];
  kit.append = env["APPEND"];
  kit.kernel_version = env["KERNEL_VERSION"];
  for (const auto& [what, path] : {std::pair{"KERNEL", kit.kernel}, {"INITRD", kit.initrd}}) {
    if (path.empty() || !std::filesystem::exists(path)) {
      throw Error(env_file.string() + ": " + what + " " +
                  (path.empty() ? std::string("is not set") : path.string() + " does not exist") +
                  "; rebuild the kit with images/build-guest-kit");
    }
  }
  return kit;
}

void GuestKit::ApplyTo(MachineSpec& spec) const {
  if (!spec.kernel.empty() || !spec.disk.empty()) return;
  spec.kernel = kernel;
  spec.initrd = initrd;
  if (spec.append.empty()) spec.append = append;
}

std::filesystem::path GuestKit::Find(const std::string& name) {
  std::error_code ec;
  std::filesystem::path dir = KitsDir() / ("guest-kit-" + name);
  if (std::filesystem::exists(dir / "kit.env", ec)) return dir;
  std::string default_version;
  try {
    default_version = Load(DefaultDir()).kernel_version;
  } catch (const Error&) {
  }
  if (VersionMatches(default_version, name)) return DefaultDir();
  std::vector<std::string> kits = ListKits("guest-kit", "kit.env", "KERNEL_VERSION");
  throw Error("no guest kit for Linux " + name + ": no " + dir.string() +
              ", and the default kit's kernel is " +
              (default_version.empty() ? std::string("not built") : default_version) +
              "; kits in " + KitsDir().string() + ": " +
              (kits.empty() ? std::string("none") : Join(kits)) +
              "; build one with `images/build-guest-kit --out " + dir.string() +
              " --suite SUITE` (images/README.md)");
}

}  // namespace cpuhp
