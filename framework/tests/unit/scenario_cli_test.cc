// The cpuhp command line, driven as users drive it (the built binary), in the
// cases that need no VM: bad scenarios are refused before any QEMU starts
// (a fake qemu-system-x86_64 first on PATH records any start), setup errors
// exit 3, usage errors 2.
#include <gtest/gtest.h>

#include <fstream>

#include "report/artifacts.h"
#include "util/file.h"
#include "util/process.h"
#include "util/temp_dir.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

// Address space for `cpuhp validate` on a hostile file: a generous multiple
// of what validating any scenario needs (well under 200 MB), and far below
// what the unbounded matrix, anchors and dry run used to take (4 GB and more).
constexpr long kHostileFileMemoryKib = 1024 * 1024;
// AddressSanitizer reserves terabytes of shadow address space, so a sanitized
// cpuhp cannot start under `ulimit -v`; there the bound is left to ASan's own
// allocator (and the plain build's run of these tests keeps the real bound).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressLimitWorks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressLimitWorks = false;
#else
constexpr bool kAddressLimitWorks = true;
#endif
#else
constexpr bool kAddressLimitWorks = true;
#endif

struct CliResult {
  int code = -1;
  std::string output;  // stdout and stderr
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.path() / "bin");
    fake_qemu_ = dir_.path() / "bin" / "qemu-system-x86_64";
    std::ofstream(fake_qemu_) << "#!/bin/sh\ntouch '" << Marker().string() << "'\nexit 1\n";
    fs::permissions(fake_qemu_, fs::perms::owner_all);
    // A kit of its own, so that runs reach the fake QEMU whichever build dir
    // (and guest kit) this binary belongs to: the sanitized one has none.
    fs::create_directories(dir_.path() / "kit");
    std::ofstream(dir_.path() / "kit" / "vmlinux") << "not a kernel\n";
    std::ofstream(dir_.path() / "kit" / "initramfs.img") << "not an initrd\n";
    std::ofstream(dir_.path() / "kit" / "kit.env")
        << "KERNEL='" << (dir_.path() / "kit" / "vmlinux").string() << "'\n"
        << "INITRD='" << (dir_.path() / "kit" / "initramfs.img").string() << "'\n"
        << "APPEND='console=ttyS0'\n";
  }

  fs::path Marker() const { return dir_.path() / "qemu-was-started"; }

  // Runs cpuhp with the fake QEMU first on PATH, in the temp dir. `bounded`:
  // under kHostileFileMemoryKib of address space, as for files from strangers.
  CliResult Cli(const std::vector<std::string>& args, bool bounded = false) {
    std::string command =
        std::string(bounded && kAddressLimitWorks
                        ? "ulimit -v " + std::to_string(kHostileFileMemoryKib) + " && "
                        : "") +
        "cd '" + dir_.path().string() + "' && CPUHP_GUEST_KIT='" + (dir_.path() / "kit").string() +
        "' PATH='" + (dir_.path() / "bin").string() +
        "':\"$PATH\" exec '" + CPUHP_BINARY + "'";
    for (const auto& a : args) command += " '" + a + "'";
    fs::path log = dir_.path() / "cli.log";
    fs::remove(log);
    Process p = Process::Spawn({.argv = {"sh", "-c", command}, .output = log});
    auto status = p.Wait(Deadline::After(std::chrono::seconds(60)));
    CliResult r;
    r.code = status ? status->code : -1;
    r.output = ReadFileToString(log);
    return r;
  }

  fs::path Write(const std::string& name, const std::string& text) {
    fs::path p = dir_.path() / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }

  TempDir dir_{fs::temp_directory_path(), "cpuhp-cli-test-"};
  fs::path fake_qemu_;
};

fs::path BadDir() { return fs::path(CPUHP_TEST_DATA_DIR) / "bad-scenarios"; }

std::vector<fs::path> BadScenarios() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(BadDir())) {
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  }
  return files;
}

// The first line of a bad scenario, "# expect: LINE:COL: MESSAGE", as
// "LINE:COL: MESSAGE"; a trailing "..." (meaning "starts with") is dropped.
std::string ExpectedError(const fs::path& file) {
  std::ifstream in(file);
  std::string first;
  std::getline(in, first);
  std::string expected = first.substr(std::string("# expect: ").size());
  if (expected.ends_with("...")) expected.resize(expected.size() - 3);
  return expected;
}

TEST_F(CliTest, EveryBadScenarioExitsTwoWithItsLocationAndStartsNoVm) {
  auto files = BadScenarios();
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    std::ifstream in(file);
    std::string first;
    std::getline(in, first);
    // "# expect: LINE:COL: ..." -> "<file>:LINE:COL:"
    std::string where = first.substr(10, first.find(": ", 10) - 10);
    CliResult r = Cli({"run", "--artifacts", (dir_.path() / "art").string(), file.string()});
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find(file.lexically_normal().string() + ":" + where + ": "),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("no VM was started"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(Marker()));
  }
  EXPECT_GE(files.size(), 15u);
}

// Scenario files come from colleagues and bug reports: validate refuses each
// crafted one (names that leave the artifacts directory, 10^9 matrix runs,
// anchors that multiply steps, overflowing durations, duplicate keys, ...)
// with its own message and exit 2, in bounded memory and time: not
// std::bad_alloc (exit 3), a crash, or a hang.
TEST_F(CliTest, ValidateRefusesEveryBadScenarioCleanlyInBoundedMemory) {
  auto files = BadScenarios();
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    CliResult r = Cli({"validate", file.string()}, /*bounded=*/true);
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find(file.lexically_normal().string() + ":" + ExpectedError(file)),
              std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("bad_alloc"), std::string::npos) << r.output;
  }
  EXPECT_GE(files.size(), 45u);
}

TEST_F(CliTest, ValidateRefusesOversizedAndEndlessFilesBeforeParsing) {
  // 2 MiB of comments: over the 256 KiB cap, however harmless.
  fs::path big = Write("big.yaml", "steps: [check]\n" + std::string(2 * 1024 * 1024, '#') + "\n");
  CliResult r = Cli({"validate", big.string()}, /*bounded=*/true);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(
      r.output.find(big.string() +
                    ": the file is 2097168 bytes; a scenario may be at most 262144 (256 KiB)"),
      std::string::npos)
      << r.output;
  // A file that never ends (was read into memory until bad_alloc).
  CliResult endless = Cli({"validate", "/dev/zero"}, /*bounded=*/true);
  EXPECT_EQ(endless.code, 2) << endless.output;
  EXPECT_NE(endless.output.find("/dev/zero: the file is more than 262144 bytes (256 KiB)"),
            std::string::npos)
      << endless.output;
  // Names too long for a directory entry used to pass validate: the
  // 300000-byte one is refused by the size cap, a shorter one at its key.
  for (size_t length : {300000, 200000}) {
    fs::path named =
        Write("long-name.yaml", "name: " + std::string(length, 'n') + "\nsteps: [check]\n");
    CliResult r = Cli({"validate", named.string()}, /*bounded=*/true);
    EXPECT_EQ(r.code, 2) << r.output.substr(0, 300);
    std::string expected = length > 262144
                               ? "long-name.yaml: the file is 300022 bytes; a scenario may"
                               : "long-name.yaml:1:7: name: scenario name \"nnn";
    EXPECT_NE(r.output.find(expected), std::string::npos) << r.output.substr(0, 300);
    EXPECT_LT(r.output.size(), 400u);  // the message quotes the name's start, not all of it
  }
}

TEST_F(CliTest, ValidateFinishesFiveNestedRepeatsOfAThousand) {
  // Was 290^5 simulated steps: `timeout 20 cpuhp validate` never returned.
  std::string steps = "[hotplug, check, {unplug: 1}]";
  for (int i = 0; i < 5; ++i) steps = "[{repeat: {times: 1000, steps: " + steps + "}}]";
  fs::path f =
      Write("nested5.yaml", "machine: {smp: {cpus: 1, maxcpus: 288}}\nsteps: " + steps + "\n");
  CliResult r = Cli({"validate", f.string()}, /*bounded=*/true);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("ok  "), std::string::npos) << r.output;
}

// The control for the tests above: a valid scenario does reach the fake
// QEMU (which exits at once: a setup error).
TEST_F(CliTest, AValidScenarioDoesStartTheFakeQemu) {
  fs::path f = Write("s.yaml", "steps: [check]\n");
  CliResult r = Cli({"run", "--artifacts", (dir_.path() / "art").string(), f.string()});
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_TRUE(fs::exists(Marker()));
}

TEST_F(CliTest, OneBadFileStopsTheWholeInvocationBeforeAnyVm) {
  fs::path scenarios = dir_.path() / "scenarios";
  Write("scenarios/a-good.yaml", "steps: [check]\n");
  fs::copy_file(BadDir() / "hotplug-beyond-maxcpus.yaml", scenarios / "b-bad.yaml");
  CliResult r = Cli({"run", scenarios.string()});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("b-bad.yaml:6:22: steps[2].hotplug.count: cannot plug 2 CPUs"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(Marker()));
  EXPECT_FALSE(fs::exists(dir_.path() / "cpuhp-artifacts"));
}

TEST_F(CliTest, ValidateAcceptsTheShippedScenariosAndRejectsBadOnes) {
  CliResult ok = Cli({"validate", std::string(CPUHP_SOURCE_DIR) + "/scenarios"});
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("ok  "), std::string::npos);
  CliResult bad = Cli({"validate", (BadDir() / "unknown-backend.yaml").string()});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("unknown-backend.yaml:3:12: machine.backend: expected one of qemu, libvirt"),
            std::string::npos)
      << bad.output;
}

TEST_F(CliTest, ListShowsEveryMatrixRun) {
  fs::path f = Write("m.yaml", R"(
name: m
matrix: {n: [1, 2, 3]}
steps: [{hotplug: "${n}"}]
)");
  CliResult r = Cli({"list", f.string()});
  EXPECT_EQ(r.code, 0) << r.output;
  for (const char* label : {"m[1]", "m[2]", "m[3]"}) {
    EXPECT_NE(r.output.find(label), std::string::npos) << r.output;
  }
  EXPECT_NE(r.output.find("3 runs"), std::string::npos) << r.output;
  // The spec that boots: the loader's default CPU model and kit, not blanks.
  EXPECT_NE(r.output.find("q35 -smp 1,maxcpus=4 -m 512 -cpu qemu64 accel auto "),
            std::string::npos)
      << r.output;
  CliResult filtered = Cli({"list", "--filter", "m[2*", f.string()});
  EXPECT_NE(filtered.output.find("1 run\n"), std::string::npos) << filtered.output;
}

TEST_F(CliTest, TargetFlagsAreCheckedAndOrderedBeforeAnyVm) {
  fs::path f = Write("t.yaml", "name: t\nsteps: [check]\n");
  CliResult empty = Cli({"list", "--target", "qemu=", f.string()});
  EXPECT_EQ(empty.code, 2);
  EXPECT_NE(empty.output.find("--target takes AXIS=VALUE[,VALUE...], e.g. qemu=7.2,10.0; got "
                              "\"qemu=\""),
            std::string::npos)
      << empty.output;
  CliResult axis = Cli({"run", "--target", "os=linux", f.string()});
  EXPECT_EQ(axis.code, 2);
  EXPECT_NE(axis.output.find("--target: no axis \"os\"; axes: qemu, kernel, masquerade"),
            std::string::npos)
      << axis.output;
  CliResult blank = Cli({"list", "--target", "masquerade=none,,vmware", f.string()});
  EXPECT_EQ(blank.code, 2);
  EXPECT_NE(blank.output.find("an empty value"), std::string::npos) << blank.output;
  // Labels take the axes in one order, whichever flag came first.
  CliResult ordered =
      Cli({"list", "--target", "masquerade=none,vmware", "--qemu", "/usr/bin/qemu-system-x86_64",
           f.string()});
  EXPECT_EQ(ordered.code, 0) << ordered.output;
  EXPECT_NE(ordered.output.find("t@qemu=/usr/bin/qemu-system-x86_64,masquerade=vmware "),
            std::string::npos)
      << ordered.output;
  EXPECT_NE(ordered.output.find("2 runs"), std::string::npos) << ordered.output;
}

TEST_F(CliTest, MissingQemuIsASetupErrorWithReports) {
  fs::path f =
      Write("s.yaml", "machine: {qemu: /nonexistent/qemu-system-x86_64}\nsteps: [check]\n");
  fs::path art = dir_.path() / "art";
  CliResult r =
      Cli({"run", "--artifacts", art.string(), "--junit", (dir_.path() / "j.xml").string(),
           "--json", (dir_.path() / "r.json").string(), f.string()});
  EXPECT_EQ(r.code, 3) << r.output;
  nlohmann::json report = ReadJsonFile(dir_.path() / "r.json");
  EXPECT_EQ(report["exit_code"], 3);
  EXPECT_EQ(report["runs"][0]["outcome"], "error");
  EXPECT_NE(report["runs"][0]["failure"]["message"].get<std::string>().find("/nonexistent"),
            std::string::npos);
  std::string xml = ReadFileToString(dir_.path() / "j.xml");
  EXPECT_NE(xml.find("<error message="), std::string::npos) << xml;
  EXPECT_TRUE(fs::exists(art / "s" / "result.json"));
  EXPECT_TRUE(fs::exists(art / "report.json"));
}

TEST_F(CliTest, MissingGuestKitIsASetupError) {
  fs::path f = Write("s.yaml", "machine: {kit: /nonexistent-kit}\nsteps: [check]\n");
  CliResult r = Cli({"run", "--artifacts", (dir_.path() / "art").string(), f.string()});
  EXPECT_EQ(r.code, 3) << r.output;
  EXPECT_NE(r.output.find("no guest kit"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(Marker()));
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Cli({"run", "--jobs", "zero", "x.yaml"}).code, 2);
  EXPECT_EQ(Cli({"run", "--accel", "hvf", "x.yaml"}).code, 2);
  EXPECT_EQ(Cli({"run", "--no-such-flag"}).code, 2);
  EXPECT_EQ(Cli({"frobnicate"}).code, 2);
  EXPECT_EQ(Cli({"run", "does-not-exist.yaml"}).code, 2);
  EXPECT_EQ(Cli({"repro"}).code, 2);
  EXPECT_EQ(Cli({"repro", dir_.path().string()}).code, 2);  // not a run directory
  EXPECT_FALSE(fs::exists(Marker()));
}

TEST_F(CliTest, FilterMatchingNothingIsAUsageError) {
  fs::path f = Write("s.yaml", "steps: [check]\n");
  CliResult r = Cli({"run", "--filter", "nothing-like-this", f.string()});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_FALSE(fs::exists(Marker()));
}

}  // namespace
}  // namespace cpuhp
