// Kit names (--target, --qemu, machine.qemu, machine.kit) over kits written
// into a temporary CPUHP_KITS_DIR, and ApplyTargets over them.
#include "vm/kits.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "scenario/targets.h"
#include "util/error.h"
#include "util/temp_dir.h"
#include "vm/guest_kit.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

class KitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* old = std::getenv("CPUHP_KITS_DIR")) old_ = old;
    ::setenv("CPUHP_KITS_DIR", dir_.path().c_str(), 1);
    fs::create_directories(dir_.path() / "qemu-kit-10.0");
    std::ofstream(dir_.path() / "qemu-kit-10.0/qemu-system-x86_64") << "#!/bin/sh\n";
    std::ofstream(dir_.path() / "qemu-kit-10.0/qemu-kit.env")
        << "# comment\nQEMU_WRAPPER='" << (dir_.path() / "qemu-kit-10.0/qemu-system-x86_64").string()
        << "'\nQEMU_VERSION='10.0.2'\nQEMU_SUITE='bookworm-backports'\n";
    fs::create_directories(dir_.path() / "guest-kit-6.12");
    for (const char* f : {"vmlinux", "initramfs.img"}) {
      std::ofstream(dir_.path() / "guest-kit-6.12" / f) << "";
    }
    std::ofstream(dir_.path() / "guest-kit-6.12/kit.env")
        << "KERNEL='" << (dir_.path() / "guest-kit-6.12/vmlinux").string() << "'\nINITRD='"
        << (dir_.path() / "guest-kit-6.12/initramfs.img").string()
        << "'\nAPPEND='console=ttyS0'\nKERNEL_VERSION='6.12.95+deb12-amd64'\n";
  }
  void TearDown() override {
    if (old_.empty())
      ::unsetenv("CPUHP_KITS_DIR");
    else
      ::setenv("CPUHP_KITS_DIR", old_.c_str(), 1);
  }
  std::string ErrorOf(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  TempDir dir_{fs::temp_directory_path(), "cpuhp-kits-test-"};
  std::string old_;
};

TEST(KitNameTest, VersionShapedNamesOnly) {
  for (const char* name : {"10.0", "6.12", "7", "6.1.0"}) EXPECT_TRUE(IsKitName(name)) << name;
  for (const char* name : {"", ".", "6.", ".6", "6..1", "kit", "qemu-system-x86_64", "./10.0",
                           "/usr/bin/qemu", "10.0-rc1"}) {
    EXPECT_FALSE(IsKitName(name)) << name;
  }
}

TEST(KitNameTest, AVersionMatchesWholeComponentsOnly) {
  EXPECT_TRUE(VersionMatches("6.12.95+deb12-amd64", "6.12"));
  EXPECT_TRUE(VersionMatches("6.1.0-28-amd64", "6.1"));
  EXPECT_TRUE(VersionMatches("10.0.2", "10.0"));
  EXPECT_TRUE(VersionMatches("7.2", "7.2"));
  EXPECT_FALSE(VersionMatches("6.12.95+deb12-amd64", "6.1"));
  EXPECT_FALSE(VersionMatches("6.120", "6.12"));
  EXPECT_FALSE(VersionMatches("", "6.1"));
  EXPECT_FALSE(VersionMatches("7.2.19", ""));
}

TEST_F(KitsTest, AQemuNameSelectsItsKitsWrapper) {
  std::string wrapper = (dir_.path() / "qemu-kit-10.0/qemu-system-x86_64").string();
  EXPECT_EQ(ResolveQemuBinary("10.0"), wrapper);
  EXPECT_EQ(ResolveQemuBinary((dir_.path() / "qemu-kit-10.0").string()), wrapper);
  // Not a name: a binary, as given.
  EXPECT_EQ(ResolveQemuBinary("/opt/qemu/bin/qemu-system-x86_64"), "/opt/qemu/bin/qemu-system-x86_64");
  std::string error = ErrorOf([] { ResolveQemuBinary("99.9"); });
  EXPECT_NE(error.find("no QEMU 99.9: no kit " + (dir_.path() / "qemu-kit-99.9").string()),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("qemu-kit-10.0 (10.0.2)"), std::string::npos) << error;
  EXPECT_NE(error.find("images/build-qemu-kit --out"), std::string::npos) << error;
}

TEST_F(KitsTest, AQemuKitWithoutItsWrapperSaysToRebuild) {
  fs::remove(dir_.path() / "qemu-kit-10.0/qemu-system-x86_64");
  std::string error = ErrorOf([] { ResolveQemuBinary("10.0"); });
  EXPECT_NE(error.find("QEMU_WRAPPER"), std::string::npos) << error;
  EXPECT_NE(error.find("does not exist; rebuild the kit"), std::string::npos) << error;
}

TEST_F(KitsTest, AKernelNameSelectsItsGuestKit) {
  EXPECT_EQ(GuestKit::Find("6.12"), dir_.path() / "guest-kit-6.12");
  std::string error = ErrorOf([] { GuestKit::Find("5.10"); });
  EXPECT_NE(error.find("no guest kit for Linux 5.10"), std::string::npos) << error;
  EXPECT_NE(error.find("guest-kit-6.12 (6.12.95+deb12-amd64)"), std::string::npos) << error;
}

ScenarioRun MakeRun(const std::string& label) {
  ScenarioRun r;
  r.label = label;
  r.file = "scenarios/" + label + ".yaml";
  r.machine.spec.kernel = "/default/vmlinux";
  r.machine.spec.append = "console=ttyS0 quiet";
  return r;
}

TEST_F(KitsTest, TargetsRunEveryRunOnEveryCombination) {
  std::vector<ScenarioRun> runs = {MakeRun("smoke"), MakeRun("topology[s2c2t2]")};
  auto out = ApplyTargets(runs, {{"qemu", {"10.0", "/usr/bin/qemu-system-x86_64"}},
                                 {"kernel", {"6.12"}}});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].label, "smoke@qemu=10.0,kernel=6.12");
  EXPECT_EQ(out[1].label, "smoke@qemu=/usr/bin/qemu-system-x86_64,kernel=6.12");
  EXPECT_EQ(out[2].label, "topology[s2c2t2]@qemu=10.0,kernel=6.12");
  EXPECT_EQ(out[0].machine.spec.qemu_binary,
            (dir_.path() / "qemu-kit-10.0/qemu-system-x86_64").string());
  EXPECT_EQ(out[1].machine.spec.qemu_binary, "/usr/bin/qemu-system-x86_64");
  EXPECT_EQ(out[0].machine.spec.kernel, dir_.path() / "guest-kit-6.12/vmlinux");
  EXPECT_EQ(out[0].machine.spec.initrd, dir_.path() / "guest-kit-6.12/initramfs.img");
  // The kit's command line, not the one the default kit gave the run.
  EXPECT_EQ(out[0].machine.spec.append, "console=ttyS0");
  EXPECT_EQ(out[0].machine.kit, dir_.path() / "guest-kit-6.12");
  EXPECT_EQ(out[0].target,
            (std::vector<std::pair<std::string, std::string>>{{"qemu", "10.0"}, {"kernel", "6.12"}}));
  EXPECT_EQ(out[0].machine.spec.name, out[0].DirName());
  EXPECT_EQ(out[1].DirName(), "smoke@qemu=_usr_bin_qemu-system-x86_64,kernel=6.12");
  // No targets: the runs as they were.
  EXPECT_EQ(ApplyTargets(runs, {}).size(), 2u);
}

TEST_F(KitsTest, AMasqueradeTargetShowsInTheLabelAndTheSpec) {
  auto out = ApplyTargets({MakeRun("smoke")}, {{"kernel", {"6.12"}}, {"masquerade", {"none", "vmware"}}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].label, "smoke@kernel=6.12,masquerade=none");
  EXPECT_EQ(out[0].machine.spec.machine_type, "q35");
  EXPECT_EQ(out[1].label, "smoke@kernel=6.12,masquerade=vmware");
  EXPECT_EQ(out[1].machine.spec.machine_type, "q35,vmport=on");
  EXPECT_EQ(out[1].machine.spec.cpu_model, "qemu64,-hypervisor");
  EXPECT_EQ(out[1].machine.spec.extra_args,
            (std::vector<std::string>{"-smbios", "type=1,serial=VMware-cpuhp"}));
  EXPECT_EQ(ErrorOf([] { ApplyTargets({MakeRun("x")}, {{"masquerade", {"hyperv"}}}); }),
            "--target masquerade=hyperv: not one of none, vmware");
  ScenarioRun own = MakeRun("own");
  own.machine.masquerade = "vmware";
  EXPECT_NE(ErrorOf([&] { ApplyTargets({own}, {{"masquerade", {"none"}}}); })
                .find("names its own masquerade (vmware)"),
            std::string::npos);
}

TEST_F(KitsTest, ARunThatChoseItsStackIsNotMoved) {
  ScenarioRun own_kernel = MakeRun("pinned");
  own_kernel.machine.kernel_given = true;
  std::string error = ErrorOf([&] { ApplyTargets({own_kernel}, {{"kernel", {"6.12"}}}); });
  EXPECT_NE(error.find("scenarios/pinned.yaml: run pinned names its own kernel"), std::string::npos)
      << error;
  ScenarioRun own_qemu = MakeRun("pinned");
  own_qemu.machine.qemu_given = true;
  error = ErrorOf([&] { ApplyTargets({own_qemu}, {{"qemu", {"10.0"}}}); });
  EXPECT_NE(error.find("names its own QEMU"), std::string::npos) << error;
  // A scenario's own append survives a kernel target.
  ScenarioRun own_append = MakeRun("append");
  own_append.machine.own_append = "console=ttyS0 nosmt";
  EXPECT_EQ(ApplyTargets({own_append}, {{"kernel", {"6.12"}}})[0].machine.spec.append,
            "console=ttyS0 nosmt");
  error = ErrorOf([&] { ApplyTargets({MakeRun("x")}, {{"kernel", {"4.19"}}}); });
  EXPECT_NE(error.find("no guest kit for Linux 4.19"), std::string::npos) << error;
}

}  // namespace
}  // namespace cpuhp
