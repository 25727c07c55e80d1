// Snapshot boot on real guests: a template made by a cold boot restores, and
// the restored guest hotplugs, unplugs, onlines and migrates as a booted one
// does, with its clock set; two restores from one template run side by side;
// a corrupt template (one the hash catches, one only QEMU notices) means a
// cold boot, never a failure.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "guest/cpu_snapshot.h"
#include "util/fd.h"
#include "util/temp_dir.h"
#include "vm/boot_template.h"
#include "vm/cpu_hotplug.h"
#include "vm/migration.h"
#include "vm_fixture.h"

namespace cpuhp::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Nine possible CPUs: the guest's APIC leaves flat logical mode, where TCG
// online/offline is slow (docs/known-issues.md).
constexpr SmpTopology kSmp{.cpus = 1, .maxcpus = 9};

class BootTemplateVmTest : public VmTest {
 protected:
  void SetUp() override {
    VmTest::SetUp();
    setenv("CPUHP_CACHE_DIR", cache_.path().c_str(), 1);
  }
  void TearDown() override {
    VmTest::TearDown();
    unsetenv("CPUHP_CACHE_DIR");
  }
  std::unique_ptr<Machine> BootAs(const std::string& name, BootRecord* record) {
    return BootMachine(KitSpec("tmpl", kSmp), TestArtifactsDir() / name, BootMode::kSnapshot,
                       Deadline::After(kBootTimeout), record);
  }
  // A cold boot that saves the template; returns its path.
  fs::path MakeTemplate() {
    BootRecord record;
    std::unique_ptr<Machine> vm = BootAs("maker", &record);
    EXPECT_FALSE(record.restored);
    EXPECT_EQ(record.cold_reason, "none yet for this configuration");
    EXPECT_TRUE(record.save_wanted);
    SaveBootTemplate(*vm, record);
    EXPECT_TRUE(record.saved) << record.save_error;
    // The guest goes on after the save.
    vm->Agent().Ping();
    EXPECT_EQ(vm->Qmp().Execute("query-status").value("status", ""), "running");
    vm->Shutdown();
    return record.template_path;
  }
  static CpuSet Mask(AgentClient& agent, const std::string& name) {
    const std::string path = std::string(kSysCpu) + "/" + name;
    return CpuSet::Parse(agent.ReadFile(path), path);
  }

  TempDir cache_{fs::temp_directory_path(), "cpuhp-template-cache-"};
};

TEST_F(BootTemplateVmTest, RestoredGuestHotplugsOnlinesUnplugsAndMigrates) {
  const fs::path file = MakeTemplate();
  TemplateHeader header;
  ASSERT_EQ(ValidateTemplate(file, file.stem().string(), &header), "");
  // Age the template so that an unset guest clock would show it.
  std::this_thread::sleep_for(std::chrono::seconds(3));

  BootRecord record;
  std::unique_ptr<Machine> vm = BootAs("restored", &record);
  ASSERT_TRUE(record.restored) << record.cold_reason;
  EXPECT_FALSE(record.save_wanted);
  EXPECT_EQ(record.template_path, file);
  EXPECT_GE(record.guest_clock_behind_s, 2.5) << "the guest resumed at the template's time";
  const json t = vm->Agent().Execute("guest-get-time");
  const double host = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(t.get<int64_t>() / 1e9, host, 1.5) << "the restored guest's clock was not set";
  EXPECT_EQ(record.ToJson()["restored"], true);

  AgentClient& agent = vm->Agent();
  const GuestSnapshot before = ReadGuestSnapshot(agent);
  EXPECT_EQ(before.online, CpuSet{0});
  CpuHotplug hotplug(vm->Qmp());
  std::vector<HotpluggableCpu> free = hotplug.FreeSlots();
  ASSERT_EQ(free.size(), 8u);
  hotplug.Plug(free[0], "cpu-a", Deadline::After(kHotplugSettleTimeout));
  const Deadline settle = Deadline::After(kHotplugSettleTimeout);
  while (Mask(agent, "present") != CpuSet{0, 1} && !settle.Expired()) {
  }
  ASSERT_EQ(Mask(agent, "present"), (CpuSet{0, 1}));
  agent.SetOnline(1, true);
  EXPECT_EQ(Mask(agent, "online"), (CpuSet{0, 1}));
  agent.SetOnline(1, false);
  EXPECT_EQ(Mask(agent, "online"), CpuSet{0});
  agent.SetOnline(1, true);

  // Migration after a restore, with the plugged CPU (QEMU cannot migrate
  // after a vCPU unplug, docs/known-issues.md: the unplug comes after).
  MigrationResult result;
  std::unique_ptr<Machine> dst = Migrate(*vm, TestArtifactsDir() / "restored-mig1", {}, &result);
  ASSERT_TRUE(dst);
  AgentClient& moved = dst->Agent();
  EXPECT_EQ(Mask(moved, "online"), (CpuSet{0, 1}));
  CpuHotplug dst_hotplug(dst->Qmp());
  dst_hotplug.Unplug("cpu-a", Deadline::After(kHotplugSettleTimeout));
  const Deadline gone = Deadline::After(kHotplugSettleTimeout);
  while (Mask(moved, "present") != CpuSet{0} && !gone.Expired()) {
  }
  EXPECT_EQ(Mask(moved, "present"), CpuSet{0});
  dst->Shutdown();
  vm->Shutdown();
}

TEST_F(BootTemplateVmTest, TwoRestoresFromOneTemplateRunSideBySide) {
  MakeTemplate();
  BootRecord records[2];
  std::string errors[2];
  auto restore = [&](int i) {
    // The thread that spawns a QEMU must outlive it (PR_SET_PDEATHSIG).
    try {
      std::unique_ptr<Machine> vm = BootAs("parallel" + std::to_string(i), &records[i]);
      vm->Agent().Ping();
      CpuHotplug hotplug(vm->Qmp());
      hotplug.Plug(hotplug.FreeSlots().at(0), "cpu-p", Deadline::After(kHotplugSettleTimeout));
      vm->Shutdown();
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  };
  std::thread a(restore, 0), b(restore, 1);
  a.join();
  b.join();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(errors[i], "") << i;
    EXPECT_TRUE(records[i].restored) << i << ": " << records[i].cold_reason;
  }
}

TEST_F(BootTemplateVmTest, CorruptTemplatesMeanAColdBootNotAFailure) {
  const fs::path file = MakeTemplate();
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // One byte of guest memory changed: only the hash sees it.
  std::string flipped = bytes;
  flipped[kTemplateHeaderBytes + (flipped.size() - kTemplateHeaderBytes) / 2] ^= 0x55;
  std::ofstream(file, std::ios::binary | std::ios::trunc) << flipped;
  BootRecord corrupt;
  std::unique_ptr<Machine> vm = BootAs("hash-caught", &corrupt);
  EXPECT_FALSE(corrupt.restored);
  EXPECT_EQ(corrupt.cold_reason.rfind("corrupt", 0), 0u) << corrupt.cold_reason;
  vm->Agent().Ping();
  vm->Shutdown();

  // A stream QEMU refuses (its magic overwritten) under a header that
  // matches it: QEMU exits, the guest boots cold, the template is removed.
  std::string alien = bytes;
  std::memcpy(alien.data() + kTemplateHeaderBytes, "XXXX", 4);
  TemplateHeader header;
  ASSERT_EQ(ValidateTemplate(file, file.stem().string(), &header).rfind("corrupt", 0), 0u);
  std::string header_bytes;
  {
    TemplateHeader h;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    ASSERT_EQ(ValidateTemplate(file, file.stem().string(), &h), "");
    h.data_hash = HexHash(HashBytes(alien.data() + kTemplateHeaderBytes, alien.size() - kTemplateHeaderBytes));
    header_bytes = EncodeTemplateHeader(h);
  }
  std::ofstream(file, std::ios::binary | std::ios::trunc)
      << header_bytes << alien.substr(kTemplateHeaderBytes);
  ASSERT_EQ(ValidateTemplate(file, file.stem().string(), &header), "");
  BootRecord refused;
  vm = BootAs("qemu-refused", &refused);
  EXPECT_FALSE(refused.restored);
  EXPECT_EQ(refused.cold_reason.rfind("QEMU could not restore it", 0), 0u) << refused.cold_reason;
  EXPECT_FALSE(fs::exists(file)) << "a template QEMU refused is removed";
  EXPECT_TRUE(refused.save_wanted);
  vm->Agent().Ping();
  vm->Shutdown();
}

}  // namespace
}  // namespace cpuhp::testing
