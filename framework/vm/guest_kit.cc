#include "vm/guest_kit.h"

#include <cstdlib>
#include <fstream>

#include "util/error.h"
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
  std::filesystem::path env_file = dir / "kit.env";
  std::ifstream in(env_file);
  if (!in) {
    throw Error("no guest kit at " + dir.string() +
                " (kit.env missing): build it with `cmake --build build --target guest-kit` "
                "or `images/build-guest-kit --out DIR`, or set CPUHP_GUEST_KIT");
  }
  GuestKit kit;
  kit.dir = dir;
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq == std::string::npos || line[0] == '#') continue;
    std::string key = line.substr(0, eq);
    std::string value = line.substr(eq + 1);
    // kit.env is shell syntax: values may be single- or double-quoted.
    if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    if (key == "KERNEL") kit.kernel = value;
    else if (key == "INITRD") kit.initrd = value;
    else if (key == "APPEND") kit.append = value;
    else if (key == "KERNEL_VERSION") kit.kernel_version = value;
  }
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

}  // namespace cpuhp
