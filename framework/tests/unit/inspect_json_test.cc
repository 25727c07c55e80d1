// `cpuhp inspect --json` against a guest whose files are not UTF-8: the JSON
// is still written (invalid bytes replaced), instead of the strict dump()
// throwing nlohmann's type_error past every handler. The VM is a fake one
// on real unix sockets: a QMP server and a guest agent answering from a
// captured guest (tests/data/guests/), with /proc/cpuinfo's vendor changed.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <sstream>
#include <thread>

#include "captured_guest.h"
#include "check/inspect.h"
#include "cli/inspect_command.h"
#include "util/base64.h"
#include "util/fd.h"
#include "util/temp_dir.h"

namespace cpuhp::testing {
namespace {

namespace fs = std::filesystem;

constexpr auto kFakeVmTimeout = std::chrono::seconds(20);

// Serves one connection on `path`: each JSON line read gets `answer(line)`
// written back, until the client goes away.
class FakeServer {
 public:
  FakeServer(const fs::path& path, std::string greeting,
             std::function<std::string(const nlohmann::json&)> answer)
      : listen_(ListenUnix(path)) {
    thread_ = std::thread([this, greeting = std::move(greeting), answer = std::move(answer)] {
      try {
        UniqueFd fd = AcceptWithDeadline(listen_.get(), Deadline::After(kFakeVmTimeout));
        Deadline deadline = Deadline::After(kFakeVmTimeout);
        if (!greeting.empty()) WriteAll(fd.get(), greeting, deadline);
        std::string buffer;
        char chunk[4096];
        for (ssize_t n; (n = ::recv(fd.get(), chunk, sizeof chunk, 0)) > 0;) {
          buffer.append(chunk, n);
          for (size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
            std::string line = buffer.substr(0, nl);
            buffer.erase(0, nl + 1);
            std::erase(line, '\xff');  // the agent's resync byte
            if (line.empty()) continue;
            WriteAll(fd.get(), answer(nlohmann::json::parse(line)), deadline);
          }
        }
      } catch (const std::exception&) {
        // The client went away mid-write, or never came: the test's
        // assertions on RunInspect's output say what went wrong.
      }
    });
  }
  ~FakeServer() { thread_.join(); }

 private:
  UniqueFd listen_;
  std::thread thread_;
};

std::string Line(const nlohmann::json& j) { return j.dump() + "\n"; }

TEST(InspectJsonTest, InvalidUtf8InGuestFilesIsReplacedNotThrown) {
  fs::path captured = CapturedGuestDir("intel-2s2c2t-boot");
  FakeGuestFiles files = FakeGuestFiles::Load(captured);
  std::string cpuinfo = *files.TryRead("/proc/cpuinfo", Deadline::Never());
  size_t vendor = cpuinfo.find("vendor_id");
  ASSERT_NE(vendor, std::string::npos);
  cpuinfo.replace(vendor, cpuinfo.find('\n', vendor) - vendor, "vendor_id\t: Genu\xff\xc0\x80ntel");
  files.Set("/proc/cpuinfo", cpuinfo);
  nlohmann::json vcpus = LoadJsonFile(captured / "guest-get-vcpus.json");

  TempDir dir("/tmp", "cpuhp-inspect-json-");
  fs::path qmp_path = dir.path() / "qmp.sock", qga_path = dir.path() / "qga.sock";
  FakeServer qmp(
      qmp_path, Line({{"QMP", {{"version", {{"qemu", {{"major", 8}}}}}, {"capabilities", nlohmann::json::array()}}}}),
      [&](const nlohmann::json& request) {
        std::string command = request.value("execute", "");
        nlohmann::json reply = {{"return", nlohmann::json::object()}};
        if (command == "query-hotpluggable-cpus" || command == "query-cpus-fast") {
          reply = LoadJsonFile(captured / (command + ".json"));
        } else if (command != "qmp_capabilities") {
          reply = {{"error", {{"class", "CommandNotFound"}, {"desc", "no " + command}}}};
        }
        if (request.contains("id")) reply["id"] = request["id"];
        return Line(reply);
      });
  std::map<int64_t, std::string> open;
  int64_t next_handle = 1000;
  FakeServer qga(qga_path, "", [&](const nlohmann::json& request) -> std::string {
    std::string command = request.value("execute", "");
    const auto& args = request.value("arguments", nlohmann::json::object());
    if (command == "guest-sync-delimited") return "\xff" + Line({{"return", args.at("id")}});
    if (command == "guest-get-vcpus") return Line(vcpus);
    if (command == "guest-file-open") {
      auto content = files.TryRead(args.at("path"), Deadline::Never());
      if (!content) {
        return Line({{"error",
                      {{"class", "GenericError"}, {"desc", "No such file or directory"}}}});
      }
      open[next_handle] = *content;
      return Line({{"return", next_handle++}});
    }
    if (command == "guest-file-read") {
      const std::string& content = open.at(args.at("handle").get<int64_t>());
      return Line({{"return",
                    {{"buf-b64", Base64Encode(content)}, {"count", content.size()}, {"eof", true}}}});
    }
    if (command == "guest-file-close") return Line({{"return", nlohmann::json::object()}});
    return Line({{"error", {{"class", "CommandNotFound"}, {"desc", "no " + command}}}});
  });

  std::ostringstream out, err;
  int code = -1;
  EXPECT_NO_THROW(code = RunInspect({"--qmp", qmp_path.string(), "--qga", qga_path.string(),
                                     "--json", "--timeout", "10"},
                                    out, err));
  EXPECT_TRUE(code == 0 || code == 1) << code << ": " << err.str();
  nlohmann::json j = nlohmann::json::parse(out.str(), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out.str();
  std::string got = j["guest"]["cpu_vendor"];
  EXPECT_EQ(got.rfind("Genu\xef\xbf\xbd", 0), 0u) << got;  // U+FFFD where the bad bytes were
  EXPECT_EQ(got.substr(got.size() - 4), "ntel") << got;
  EXPECT_EQ(out.str().find('\xff'), std::string::npos);
}

}  // namespace
}  // namespace cpuhp::testing
