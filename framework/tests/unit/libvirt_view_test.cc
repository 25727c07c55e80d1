// libvirt's view as parsed from the live XML libvirt 9.0 writes, and the
// domain XML the libvirt backend gives libvirt.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "util/error.h"
#include "vm/libvirt_view.h"
#ifdef CPUHP_WITH_LIBVIRT
#include "vm/libvirt_machine.h"
#endif

namespace cpuhp {
namespace {

using ::testing::HasSubstr;

// Trimmed from `virsh dumpxml` of a running domain after one virDomainSetVcpu.
constexpr char kLiveXml[] = R"(<domain type='qemu' id='1'>
  <name>cpuhp-1-smoke</name>
  <vcpu placement='static' current='2'>4</vcpu>
  <vcpus>
    <vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>
    <vcpu id='1' enabled='yes' hotpluggable='yes' order='2'/>
    <vcpu id='2' enabled='no' hotpluggable='yes'/>
    <vcpu id='3' enabled='no' hotpluggable='yes'/>
  </vcpus>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
</domain>)";

TEST(LibvirtViewTest, ParsesVcpuAndVcpus) {
  LibvirtView v = ParseLibvirtVcpus(kLiveXml);
  EXPECT_EQ(v.xml_current, 2);
  EXPECT_EQ(v.xml_maximum, 4);
  ASSERT_EQ(v.vcpus.size(), 4u);
  EXPECT_EQ(v.vcpus[0], (LibvirtVcpu{0, true, false, 1}));
  EXPECT_EQ(v.vcpus[1], (LibvirtVcpu{1, true, true, 2}));
  EXPECT_EQ(v.vcpus[3], (LibvirtVcpu{3, false, true, std::nullopt}));
  EXPECT_EQ(v.live_count, -1);  // not in the XML: virDomainGetVcpusFlags fills it
  EXPECT_EQ(ToJson(v)["vcpus"][1]["order"], 2);
}

TEST(LibvirtViewTest, WithoutVcpusOnlyTheCounts) {
  LibvirtView v = ParseLibvirtVcpus("<domain><vcpu placement='static'>3</vcpu></domain>");
  EXPECT_EQ(v.xml_current, 3);
  EXPECT_EQ(v.xml_maximum, 3);
  EXPECT_TRUE(v.vcpus.empty());
}

TEST(LibvirtViewTest, MalformedXmlIsAProtocolError) {
  EXPECT_THROW(ParseLibvirtVcpus("<domain><vcpu current='1'>x</vcpu></domain>"), ProtocolError);
  EXPECT_THROW(ParseLibvirtVcpus("<domain><vcpus><vcpu enabled='yes'/></vcpus></domain>"), ProtocolError);
  EXPECT_THROW(ParseLibvirtVcpus("<domain><vcpus><vcpu id='0'/>"), ProtocolError);
}

#ifdef CPUHP_WITH_LIBVIRT
TEST(LibvirtDomainXmlTest, VcpusTopologyKernelAndCpuhpSockets) {
  MachineSpec spec;
  spec.name = "smoke<1>";
  spec.smp = {.cpus = 1, .maxcpus = 4};
  spec.kernel = "/k/vmlinux";
  spec.initrd = "/k/initrd";
  spec.append = "console=ttyS0 a='b'";
  MachinePaths paths{"/tmp/x/qmp.sock", "/tmp/x/qga.sock", "/a/serial.log", "/tmp/x/console.sock"};
  std::string xml = BuildDomainXml(spec, Accel::kTcg, paths);
  EXPECT_THAT(xml, HasSubstr("<domain type='qemu'"));
  EXPECT_THAT(xml, HasSubstr("<name>smoke&lt;1&gt;</name>"));
  EXPECT_THAT(xml, HasSubstr("<vcpu placement='static' current='1'>4</vcpu>"));
  EXPECT_THAT(xml, HasSubstr("<vcpu id='0' enabled='yes' hotpluggable='no' order='1'/>"));
  EXPECT_THAT(xml, HasSubstr("<vcpu id='3' enabled='no' hotpluggable='yes'/>"));
  // -smp 1,maxcpus=4 is one socket of four cores in QEMU 7.2: said explicitly.
  EXPECT_THAT(xml, HasSubstr("<topology sockets='1' dies='1' cores='4' threads='1'/>"));
  EXPECT_THAT(xml, HasSubstr("<cmdline>console=ttyS0 a=&apos;b&apos;</cmdline>"));
  EXPECT_THAT(xml, HasSubstr("<qemu:arg value='socket,id=cpuhpqmp,path=/tmp/x/qmp.sock'/>"));
  EXPECT_THAT(xml, HasSubstr("&quot;name&quot;:&quot;org.qemu.guest_agent.0&quot;"));
  EXPECT_THAT(xml, HasSubstr("<source mode='connect' path='/tmp/x/console.sock'/>"));
  EXPECT_THAT(BuildDomainXml(spec, Accel::kKvm, paths), HasSubstr("<domain type='kvm'"));
  EXPECT_THAT(xml, HasSubstr("<model fallback='forbid'>qemu64</model>"));
  spec.cpu_model = "max";
  EXPECT_THAT(BuildDomainXml(spec, Accel::kTcg, paths), HasSubstr("<cpu mode='maximum' check='none'><topology"));
  spec.cpu_model = "qemu64";
  // The parser reads back what the builder wrote.
  LibvirtView v = ParseLibvirtVcpus(xml);
  EXPECT_EQ(v.vcpus.size(), 4u);
  EXPECT_EQ(v.xml_current, 1);
}

TEST(LibvirtDomainXmlTest, RefusesWhatItCannotExpress) {
  MachineSpec spec;
  spec.kernel = "/k/vmlinux";
  spec.machine_type = "q35,vmport=on";
  EXPECT_THROW(BuildDomainXml(spec, Accel::kTcg, {}), LaunchError);
  spec.machine_type = "q35";
  spec.disk = "/d.qcow2";
  EXPECT_THROW(BuildDomainXml(spec, Accel::kTcg, {}), LaunchError);
}
#endif

}  // namespace
}  // namespace cpuhp
