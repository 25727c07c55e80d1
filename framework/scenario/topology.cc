#include "scenario/topology.h"

namespace cpuhp {

std::string SlotDeviceId(const CpuProps& props) {
  std::string id = "cpu";
  if (props.socket_id) id += "-s" + std::to_string(*props.socket_id);
  if (props.die_id) id += "d" + std::to_string(*props.die_id);
  if (props.core_id) id += (props.socket_id ? "c" : "-c") + std::to_string(*props.core_id);
  if (props.thread_id) id += "t" + std::to_string(*props.thread_id);
  return id;
}

std::string DescribeProps(const CpuProps& props) {
  std::string out;
  auto add = [&](const char* name, const std::optional<int>& v) {
    if (!v) return;
    if (!out.empty()) out += ' ';
    out += std::string(name) + " " + std::to_string(*v);
  };
  add("socket", props.socket_id);
  add("die", props.die_id);
  add("core", props.core_id);
  add("thread", props.thread_id);
  return out.empty() ? "(no props)" : out;
}

}  // namespace cpuhp
