// The transcript reader and the repro script generator (report/repro.h) on an
// arbitrary transcript.log next to a fixed, valid spec.json: what
// `cpuhp repro` does with a run directory. The guest's text reaches
// transcript.log (notes quote guest error messages), so any line may be there.
//
// Only cpuhp::Error may come out; parsed lines keep one of the three arrows.
#include <fstream>
#include <sstream>

#include "fuzz_common.h"
#include "report/artifacts.h"
#include "report/repro.h"
#include "replay_spec.h"
#include "report/spec_json.h"

namespace {

const std::filesystem::path& RunDir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path d = cpuhp::fuzz::ScratchDir() / "run";
    cpuhp::MakeDirs(d);
    cpuhp::WriteJsonFile(d / "spec.json", cpuhp::RecordedSpecJson("fuzz"));
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cpuhp;
  std::string_view text = fuzz::AsText(data, size);
  fuzz::OnlyCpuhpErrors("ParseTranscriptLine", [&] {
    std::istringstream lines{std::string(text)};
    for (std::string line; std::getline(lines, line);) {
      if (auto e = ParseTranscriptLine(line)) {
        CPUHP_FUZZ_CHECK(e->arrow == "->" || e->arrow == "<-" || e->arrow == "--",
                         "line parsed with arrow \"%s\"", e->arrow.c_str());
      }
    }
  });
  {
    std::ofstream out(RunDir() / "transcript.log", std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  fuzz::OnlyCpuhpErrors("GenerateReproScript", [&] { GenerateReproScript(RunDir()); });
  return 0;
}
