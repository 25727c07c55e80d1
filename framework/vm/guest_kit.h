// The guest boot kit built by images/build-guest-kit: a kernel, an initramfs
// running qemu-ga, and the command line they want.
#pragma once

#include <filesystem>
#include <string>

namespace cpuhp {

struct MachineSpec;

struct GuestKit {
  std::filesystem::path dir;
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  std::string append;
  std::string kernel_version;

  // Reads DIR/kit.env. Throws Error saying how to build the kit if it is missing.
  static GuestKit Load(const std::filesystem::path& dir);
  // $CPUHP_GUEST_KIT, else the build tree's kit (set at configure time).
  static std::filesystem::path DefaultDir();
  // The kit a kernel name selects ("6.12"): KitsDir()/guest-kit-6.12, else
  // the default kit when its kernel is 6.12.x. Throws Error listing the kits.
  static std::filesystem::path Find(const std::string& name);
  // Fills spec's kernel/initrd/append when the spec names neither a kernel nor a disk.
  void ApplyTo(MachineSpec& spec) const;
};

}  // namespace cpuhp
