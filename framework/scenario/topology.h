// The x86 CPU topology QEMU 7.2 derives from -smp, and the slots it offers.
//
// Used before any VM starts: to reject -smp values QEMU would refuse, to know
// which slots exist and which are taken by boot CPUs, and to name hot-plugged
// CPUs by where they sit ("cpu-s1c0t0") so that scenarios and repro scripts
// read well. At run time slot props always come from query-hotpluggable-cpus.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "vm/cpu_props.h"
#include "vm/machine_spec.h"

namespace cpuhp {

// A -smp topology with every level filled in, as QEMU 7.2 resolves it.
struct ResolvedTopology : TopologyShape {
  int cpus = 1;
  int maxcpus = 1;
};

// Fills in what -smp leaves out as QEMU 7.2 does for q35/pc (cores are
// preferred over sockets), then checks it. Returns nullopt and sets *error
// ("sockets*dies*cores*threads = 6 but maxcpus is 4") if QEMU would refuse it.
std::optional<ResolvedTopology> ResolveTopology(const SmpTopology& smp, std::string* error);

// The device id cpuhp gives a CPU plugged at `props`: "cpu-s1c0t0", with
// "d<die>" after the socket when the props carry a die-id.
std::string SlotDeviceId(const CpuProps& props);

// "socket 1 core 0 thread 0": for messages.
std::string DescribeProps(const CpuProps& props);

}  // namespace cpuhp
