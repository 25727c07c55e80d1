#include "vm_fixture.h"

#include <cstdlib>

namespace cpuhp::testing {

std::filesystem::path TestArtifactsDir() {
  const char* base = std::getenv("CPUHP_TEST_ARTIFACTS");
  std::filesystem::path dir = base && *base ? base : CPUHP_TEST_ARTIFACTS_DIR;
  if (TestAccel() == Accel::kKvm) dir /= "kvm";
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "unknown";
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return dir / name;
}

Accel TestAccel() {
  Accel accel = Accel::kTcg;
  if (const char* a = std::getenv("CPUHP_TEST_ACCEL"); a && *a && !ParseAccel(a, &accel)) {
    throw Error(std::string("CPUHP_TEST_ACCEL=") + a + ": expected tcg, kvm or auto");
  }
  return accel;
}

std::string TestAccelUnavailable() {
  if (TestAccel() != Accel::kKvm) return "";
  KvmProbeResult probe = ProbeKvm(MachineSpec().qemu_binary);
  return probe.verdict.usable ? "" : "CPUHP_TEST_ACCEL=kvm, but " + probe.verdict.reason;
}

BootMode TestBootMode() {
  const char* env = std::getenv("CPUHP_BOOT");
  return env && *env ? DefaultBootMode() : BootMode::kCold;
}

MachineSpec KitSpec(const std::string& name, SmpTopology smp) {
  MachineSpec spec;
  spec.name = name;
  spec.smp = smp;
  spec.accel = TestAccel();
  GuestKit::Load(GuestKit::DefaultDir()).ApplyTo(spec);
  return spec;
}

Machine& VmTest::Boot(MachineSpec spec) {
  auto dir = TestArtifactsDir() / spec.name;
  std::filesystem::remove_all(dir);
  try {
    BootRecord record;
    machines_.push_back(BootMachine(spec, dir, TestBootMode(), Deadline::After(kBootTimeout), &record));
    if (record.save_wanted) SaveBootTemplate(*machines_.back(), record);
  } catch (Error& e) {
    ADD_FAILURE() << e.what();
    throw;
  }
  return *machines_.back();
}

void VmTest::SetUp() {
  if (std::string why = TestAccelUnavailable(); !why.empty()) GTEST_SKIP() << why;
}

void VmTest::TearDown() {
  bool failed = HasFailure();
  for (auto& vm : machines_) {
    if (failed) {
      std::cerr << "---- " << vm->name() << " serial log tail (artifacts in "
                << vm->artifacts_dir() << ")\n" << vm->SerialTail(40) << vm->GuestKernelDiagnosis() << "\n";
    }
    vm->Shutdown();
  }
  machines_.clear();
  if (!failed) std::filesystem::remove_all(TestArtifactsDir());
}

}  // namespace cpuhp::testing
