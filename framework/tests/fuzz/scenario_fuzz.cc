// The scenario loader (scenario/scenario_loader.h) on an arbitrary file:
// YAML parsing, typed maps, vars, the matrix, steps and the dry run, then
// what `cpuhp list`/`run` do with a loaded run before any VM starts (its
// directory name, spec.json, the QEMU command line).
//
// Only cpuhp::Error (ScenarioError above all) may come out. A YAML::Exception,
// a nlohmann exception or a std::out_of_range escaping is a finding, and so
// is a load that runs past -timeout or -rss_limit_mb (matrix or alias
// blow-ups, the dry run of nested repeats).
#include <fstream>

#include "fuzz_common.h"
#include "report/spec_json.h"
#include "scenario/scenario_loader.h"
#include "vm/machine_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpuhp;
  // LoadScenarioRuns takes a path: the name without `name:` comes from it.
  static const std::filesystem::path file = fuzz::ScratchDir() / "fuzz.yaml";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  fuzz::OnlyCpuhpErrors("LoadScenarioRuns", [&] {
    MachinePaths paths{"/run/qmp.sock", "/run/qga.sock", "/run/serial.log"};
    for (const ScenarioRun& run : LoadScenarioRuns(file)) {
      run.DirName();
      SpecToJson(run.machine.spec).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      BuildCommandLine(run.machine.spec, Accel::kTcg, paths);
    }
  });
  return 0;
}
