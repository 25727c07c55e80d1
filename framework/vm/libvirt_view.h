// libvirt's own view of a domain's vCPUs, a third view beside QEMU's
// (HostView) and the guest's (GuestSnapshot): the live XML's <vcpus>
// (enabled, hotpluggable, order per libvirt vCPU id) and
// virDomainGetVcpusFlags' live and maximum counts. Plain data, so that
// check/ compares it without libvirt and tests fabricate it.
//
//   LibvirtView v = ParseLibvirtVcpus(live_xml);   // counts: virDomainGetVcpusFlags
//   v.vcpus[3].enabled                              // libvirt vCPU 3 = 4th slot by (socket,die,core,thread)
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

namespace cpuhp {

struct LibvirtVcpu {
  int id = -1;
  bool enabled = false;
  bool hotpluggable = false;
  std::optional<int> order = {};
  bool operator==(const LibvirtVcpu&) const = default;
};

struct LibvirtView {
  // <vcpus>, by id.
  std::vector<LibvirtVcpu> vcpus = {};
  // <vcpu current='N'>M</vcpu>.
  int xml_current = -1;
  int xml_maximum = -1;
  // virDomainGetVcpusFlags(LIVE) and (LIVE | MAXIMUM); -1 when not read.
  int live_count = -1;
  int maximum_count = -1;
  bool operator==(const LibvirtView&) const = default;
};

// The most <vcpu> entries read (QEMU's limit is 4096 vCPUs).
inline constexpr size_t kMaxLibvirtVcpus = 4096;

// Reads <vcpu current> and <vcpus> from a domain XML as libvirt formats it.
// Throws ProtocolError naming what is malformed.
LibvirtView ParseLibvirtVcpus(std::string_view domain_xml);

// {"vcpus": [{"id", "enabled", "hotpluggable", "order"}], "xml_current", ...}
nlohmann::json ToJson(const LibvirtView& view);

}  // namespace cpuhp
