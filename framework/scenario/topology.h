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

// ResolvedTopology and ResolveTopology() live with SmpTopology (vm/machine_spec.h).

// The device id cpuhp gives a CPU plugged at `props`: "cpu-s1c0t0", with
// "d<die>" after the socket when the props carry a die-id.
std::string SlotDeviceId(const CpuProps& props);

// "socket 1 core 0 thread 0": for messages.
std::string DescribeProps(const CpuProps& props);

}  // namespace cpuhp
