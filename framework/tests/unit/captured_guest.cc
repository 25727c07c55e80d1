#include "captured_guest.h"

#include <fstream>
#include <sstream>

#include "util/error.h"

namespace cpuhp::testing {

std::filesystem::path CapturedGuestDir(const std::string& name) {
  return std::filesystem::path(CPUHP_TEST_DATA_DIR) / "guests" / name;
}

FakeGuestFiles FakeGuestFiles::Load(const std::filesystem::path& root) {
  FakeGuestFiles f;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    auto relative = std::filesystem::relative(entry.path(), root).string();
    if (relative.rfind("sys/", 0) != 0 && relative.rfind("proc/", 0) != 0) continue;
    std::ifstream in(entry.path());
    std::ostringstream text;
    text << in.rdbuf();
    f.files_["/" + relative] = text.str();
  }
  nlohmann::json reply = LoadJsonFile(root / "guest-get-vcpus.json");
  for (const auto& v : reply.at("return")) {
    f.vcpus_.push_back({v.at("logical-id").get<int>(), v.at("online").get<bool>(),
                        v.at("can-offline").get<bool>()});
  }
  return f;
}

std::optional<std::string> FakeGuestFiles::TryRead(const std::string& path, const Deadline&) {
  ++reads_[path];
  auto it = files_.find(path);
  std::optional<std::string> out;
  if (it != files_.end()) out = it->second;
  if (after_read) after_read(path);
  return out;
}

std::vector<GuestVcpu> FakeGuestFiles::GetVcpus(const Deadline&) {
  ++reads_["guest-get-vcpus"];
  if (after_read) after_read("guest-get-vcpus");
  return vcpus_;
}

void FakeGuestFiles::RemoveAll(const std::string& prefix) {
  for (auto it = files_.begin(); it != files_.end();) {
    it = it->first.rfind(prefix, 0) == 0 ? files_.erase(it) : std::next(it);
  }
}

nlohmann::json LoadJsonFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open " + path.string());
  return nlohmann::json::parse(in);
}

CapturedGuest LoadCapturedGuest(const std::string& name) {
  auto dir = CapturedGuestDir(name);
  CapturedGuest g;
  g.host.slots =
      ParseHotpluggableCpus(LoadJsonFile(dir / "query-hotpluggable-cpus.json").at("return"));
  g.host.cpus = ParseCpusFast(LoadJsonFile(dir / "query-cpus-fast.json").at("return"));
  FakeGuestFiles files = FakeGuestFiles::Load(dir);
  g.guest = ReadGuestSnapshot(files);
  return g;
}

}  // namespace cpuhp::testing
