// Guest views captured from real QEMU guests (framework/tests/data/guests/,
// see the README there), for unit tests of the probe and the checker.
//
//   CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
//   CheckResult r = RunChecks(g.host, g.guest, {});
//
//   FakeGuestFiles files = FakeGuestFiles::Load(CapturedGuestDir("amd-4s-onlined"));
//   files.Set("/sys/devices/system/cpu/possible", "0-8191\n");
//   GuestSnapshot s = ReadGuestSnapshot(files);
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "check/checker.h"
#include "guest/cpu_snapshot.h"

namespace cpuhp::testing {

std::filesystem::path CapturedGuestDir(const std::string& name);

// GuestFiles in memory, loaded from a captured tree ("/sys/..." is
// ROOT/sys/..., guest-get-vcpus is ROOT/guest-get-vcpus.json), editable, and
// counting what the probe asks for.
class FakeGuestFiles : public GuestFiles {
 public:
  static FakeGuestFiles Load(const std::filesystem::path& root);

  std::optional<std::string> TryRead(const std::string& path, const Deadline& deadline) override;
  std::vector<GuestVcpu> GetVcpus(const Deadline& deadline) override;

  void Set(const std::string& path, std::string content) { files_[path] = std::move(content); }
  // Removes every file whose path starts with `prefix`.
  void RemoveAll(const std::string& prefix);
  std::vector<GuestVcpu>& vcpus() { return vcpus_; }
  // Called after each read (found or not), e.g. to make a CPU vanish or to throw.
  std::function<void(const std::string& path)> after_read;

  // How many times each path was asked for (found or not).
  const std::map<std::string, int>& reads() const { return reads_; }

 private:
  std::map<std::string, std::string> files_;
  std::vector<GuestVcpu> vcpus_;
  std::map<std::string, int> reads_;
};

// A file's JSON content; throws on a missing or malformed file.
nlohmann::json LoadJsonFile(const std::filesystem::path& path);

struct CapturedGuest {
  HostView host;
  GuestSnapshot guest;
};
// Both views of one capture: the QMP replies, and the snapshot the probe
// reads from the captured files.
CapturedGuest LoadCapturedGuest(const std::string& name);

}  // namespace cpuhp::testing
