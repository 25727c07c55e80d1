#include "report/spec_json.h"

#include "util/error.h"

namespace cpuhp {

nlohmann::json SpecToJson(const MachineSpec& spec) {
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& d : spec.cpu_devices) {
    devices.push_back({{"driver", d.driver}, {"id", d.id}, {"props", d.props.ToJson()}});
  }
  nlohmann::json j = {
      {"name", spec.name},
      {"qemu_binary", spec.qemu_binary},
      {"machine_type", spec.machine_type},
      {"accel", AccelName(spec.accel)},
      {"cpu_model", spec.cpu_model},
      {"smp",
       {{"cpus", spec.smp.cpus},
        {"maxcpus", spec.smp.maxcpus},
        {"sockets", spec.smp.sockets},
        {"dies", spec.smp.dies},
        {"cores", spec.smp.cores},
        {"threads", spec.smp.threads}}},
      {"memory_mib", spec.memory_mib},
      {"kernel", spec.kernel.string()},
      {"initrd", spec.initrd.string()},
      {"append", spec.append},
      {"disk", spec.disk.string()},
      {"cpu_devices", devices},
      {"extra_args", spec.extra_args},
  };
  if (spec.incoming) j["incoming"] = *spec.incoming;
  j["backend"] = spec.backend;
  if (!spec.libvirt_uri.empty()) j["libvirt_uri"] = spec.libvirt_uri;
  return j;
}

MachineSpec SpecFromJson(const nlohmann::json& j) {
  try {
    MachineSpec spec;
    spec.name = j.at("name").get<std::string>();
    spec.qemu_binary = j.at("qemu_binary").get<std::string>();
    spec.machine_type = j.at("machine_type").get<std::string>();
    if (!ParseAccel(j.at("accel").get<std::string>(), &spec.accel)) {
      throw ProtocolError("spec.json: accel is not auto, kvm or tcg");
    }
    spec.cpu_model = j.at("cpu_model").get<std::string>();
    const auto& smp = j.at("smp");
    spec.smp = {smp.at("cpus").get<int>(),    smp.at("maxcpus").get<int>(),
                smp.at("sockets").get<int>(), smp.at("dies").get<int>(),
                smp.at("cores").get<int>(),   smp.at("threads").get<int>()};
    spec.memory_mib = j.at("memory_mib").get<int>();
    spec.kernel = j.value("kernel", "");
    spec.initrd = j.value("initrd", "");
    spec.append = j.value("append", "");
    spec.disk = j.value("disk", "");
    for (const auto& d : j.value("cpu_devices", nlohmann::json::array())) {
      spec.cpu_devices.push_back({d.at("driver").get<std::string>(), d.at("id").get<std::string>(),
                                  CpuProps::FromJson(d.value("props", nlohmann::json::object()))});
    }
    spec.extra_args = j.value("extra_args", std::vector<std::string>{});
    if (j.contains("incoming")) spec.incoming = j.at("incoming").get<std::string>();
    spec.backend = j.value("backend", "qemu");
    spec.libvirt_uri = j.value("libvirt_uri", "");
    return spec;
  } catch (const nlohmann::json::exception& e) {
    throw ProtocolError(std::string("spec.json: ") + e.what());
  }
}

}  // namespace cpuhp
