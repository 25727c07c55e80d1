// What every cpuhp fuzz target shares: the rule for exceptions, and a scratch
// directory for the APIs that read files.
//
// A cpuhp::Error (ProtocolError, ScenarioError, CpuListError, ...) is the
// library's documented answer to bad input: fine. Any other exception
// (nlohmann::type_error, YAML::Exception, std::out_of_range, ...) gets past
// every `catch (const Error&)` in the runner and the checker, so it is a
// finding: the target aborts with its type and message, and libFuzzer saves
// the input.
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//     cpuhp::fuzz::OnlyCpuhpErrors("CpuSet::Parse", [&] { CpuSet::Parse(AsText(data, size)); });
//     return 0;
//   }
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string_view>
#include <typeinfo>

#include "util/error.h"
#include "util/temp_dir.h"

namespace cpuhp::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `body`; swallows cpuhp::Error, aborts on anything else.
template <typename F>
void OnlyCpuhpErrors(const char* what, F&& body) {
  try {
    body();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s threw %s, not a cpuhp::Error: %s\n", what, typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "%s threw something that is not a std::exception\n", what);
    std::abort();
  }
}

// A directory private to this fuzz process, removed at exit.
inline const std::filesystem::path& ScratchDir() {
  static TempDir dir(std::filesystem::temp_directory_path(), "cpuhp-fuzz-");
  return dir.path();
}

// Fails the input (libFuzzer saves it) when a property of the library breaks.
#define CPUHP_FUZZ_CHECK(cond, ...)                                             \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                        \
      std::fprintf(stderr, "\n");                                               \
      std::abort();                                                             \
    }                                                                           \
  } while (0)

}  // namespace cpuhp::fuzz
