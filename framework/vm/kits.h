// The kits cpuhp boots: guest kits (a kernel and an initramfs, built by
// images/build-guest-kit) and QEMU kits (a QEMU unpacked from another Debian
// suite, built by images/build-qemu-kit). They live side by side in one
// directory, the build tree by default:
//
//   build/guest-kit          the default guest kit (the host suite's kernel)
//   build/guest-kit-6.12     a guest kit named by its kernel version
//   build/qemu-kit-10.0      a QEMU kit named by its QEMU version
//
// so that a scenario, --qemu/--kernel and --target name a stack by version.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cpuhp {

// $CPUHP_KITS_DIR, else the build tree (set at configure time).
std::filesystem::path KitsDir();

// True if `text` is a version-shaped kit name ("10.0", "6.12"), not a path.
bool IsKitName(std::string_view text);

// True if `version` is `name` or continues it by components: "6.12" matches
// "6.12.95+deb12-amd64" and "6.12", not "6.1.0-28-amd64" nor "6.120".
bool VersionMatches(std::string_view version, std::string_view name);

// KEY='value' lines of a kit's env file (shell syntax, as the kit scripts
// write it; single or double quotes stripped). Throws Error when it cannot
// be read, with `how_to_build` appended.
std::map<std::string, std::string> ReadKitEnv(const std::filesystem::path& file,
                                              const std::string& what,
                                              const std::string& how_to_build);

// The kits of `prefix` ("guest-kit", "qemu-kit") in KitsDir(): "name (version)"
// for each, for the error that says what there is.
std::vector<std::string> ListKits(const std::string& prefix, const std::string& env_file,
                                  const std::string& version_key);

struct QemuKit {
  std::filesystem::path dir;
  // Runs the kit's QEMU with its module dir and firmware path set (exec, so
  // the pid is QEMU's): anything that takes a QEMU binary takes it.
  std::filesystem::path wrapper;
  std::string version;  // "10.0.2"
  std::string suite;    // "bookworm-backports"

  // Reads DIR/qemu-kit.env. Throws Error saying how to build the kit.
  static QemuKit Load(const std::filesystem::path& dir);
};

// The binary machine.qemu, --qemu or --target qemu=X selects:
//   "10.0"            the kit KitsDir()/qemu-kit-10.0, else the host's QEMU
//                     when its version is 10.0.x (so "7.2" is Debian 12's own);
//   a kit directory   (one with qemu-kit.env) its wrapper;
//   anything else     a binary path or a name looked up in $PATH, as given.
// Throws Error for a version no kit or host QEMU has, listing what there is.
std::string ResolveQemuBinary(const std::string& what);

}  // namespace cpuhp
