#include "scenario/targets.h"

#include "scenario/matrix.h"
#include "util/error.h"
#include "util/text.h"
#include "vm/guest_kit.h"
#include "vm/kits.h"

namespace cpuhp {

std::vector<ScenarioRun> ApplyTargets(const std::vector<ScenarioRun>& runs,
                                      const std::vector<TargetAxis>& axes) {
  if (axes.empty()) return runs;
  // Each name is resolved once: a QEMU name may start the host's QEMU to
  // learn its version.
  std::map<std::string, std::string> qemu_binaries;
  std::map<std::string, GuestKit> kits;
  for (const auto& axis : axes) {
    for (const auto& value : axis.values) {
      if (axis.name == "qemu" && !qemu_binaries.count(value)) {
        qemu_binaries[value] = ResolveQemuBinary(value);
      } else if (axis.name == "masquerade") {
        MachineSpec probe;
        if (!ApplyMasquerade(value, probe)) {
          throw Error("--target masquerade=" + value + ": not one of none, vmware");
        }
      } else if (axis.name == "kernel" && !kits.count(value)) {
        kits.emplace(value, GuestKit::Load(IsKitName(value) ? GuestKit::Find(value) : std::filesystem::path(value)));
      }
    }
  }
  std::vector<size_t> sizes;
  for (const auto& axis : axes) sizes.push_back(axis.values.size());
  const std::vector<std::vector<size_t>> combos = Combinations(sizes);
  std::vector<ScenarioRun> out;
  for (const auto& run : runs) {
    for (const auto& combo : combos) {
      ScenarioRun r = run;
      std::string suffix;
      for (size_t a = 0; a < axes.size(); ++a) {
        const std::string& name = axes[a].name;
        const std::string& value = axes[a].values[combo[a]];
        if (name == "qemu") {
          if (run.machine.qemu_given) {
            throw Error(run.file.string() + ": run " + run.label +
                        " names its own QEMU (machine.qemu), so --target qemu cannot move it");
          }
          r.machine.spec.qemu_binary = qemu_binaries.at(value);
        } else if (name == "masquerade") {
          if (run.machine.masquerade != "none") {
            throw Error(run.file.string() + ": run " + run.label + " names its own masquerade (" +
                        run.machine.masquerade + "), so --target masquerade cannot change it");
          }
          ApplyMasquerade(value, r.machine.spec);
          r.machine.masquerade = value;
        } else {
          if (run.machine.kernel_given) {
            throw Error(run.file.string() + ": run " + run.label +
                        " names its own kernel (machine.kernel, disk or kit), so --target "
                        "kernel cannot move it");
          }
          const GuestKit& kit = kits.at(value);
          r.machine.kit = kit.dir;
          r.machine.spec.kernel.clear();
          r.machine.spec.initrd.clear();
          r.machine.spec.append = run.machine.own_append;
          kit.ApplyTo(r.machine.spec);
        }
        r.target.emplace_back(name, value);
        suffix += (suffix.empty() ? "" : ",") + name + "=" + value;
      }
      r.label = run.label + "@" + suffix;
      r.machine.spec.name = r.DirName();
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace cpuhp
