// The parsers of guest sysfs/procfs text (guest/cpuset.h, guest/cpu_snapshot.h):
// cpulists (online, present, possible, topology siblings), the offline mask,
// /sys/devices/system/cpu/hotplug/states and /proc/cpuinfo. The guest writes
// these files, so any bytes may come back.
//
// Properties: only cpuhp errors (CpuListError, ProtocolError); a parsed
// cpulist prints as text that parses back to the same set.
#include "fuzz_common.h"
#include "guest/cpu_snapshot.h"
#include "guest/cpuset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpuhp;
  std::string_view text = fuzz::AsText(data, size);
  fuzz::OnlyCpuhpErrors("CpuSet::Parse", [&] {
    CpuSet set = CpuSet::Parse(text, "fuzz");
    std::string printed = set.ToString();
    CPUHP_FUZZ_CHECK(CpuSet::Parse(printed, "round trip") == set,
                     "\"%s\" does not parse back to the set it was printed from", printed.c_str());
  });
  fuzz::OnlyCpuhpErrors("ParseOfflineMask", [&] { ParseOfflineMask(text, "fuzz/offline"); });
  fuzz::OnlyCpuhpErrors("ParseHotplugStates", [&] {
    for (const auto& state : ParseHotplugStates(text)) {
      CPUHP_FUZZ_CHECK(state.name.find('\n') == std::string::npos, "state %d's name has a newline",
                       state.number);
    }
  });
  fuzz::OnlyCpuhpErrors("ParseCpuinfo", [&] { ParseCpuinfo(text); });
  return 0;
}
