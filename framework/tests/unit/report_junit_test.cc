// JUnit XML, the JSON report and the summary, from results of every kind.
// The XML is parsed back and checked for the shape CI tools need (root,
// counts equal to the elements present, failure carrying the invariants and
// the serial tail), and validated against tests/data/junit.xsd with xmllint
// where it is installed.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <memory>

#include "report/json_report.h"
#include "report/junit.h"
#include "report/progress.h"
#include "report/summary.h"
#include "util/file.h"
#include "util/process.h"
#include "util/temp_dir.h"

namespace cpuhp {
namespace {

// A minimal XML reader for what JunitXml writes: elements, double-quoted
// attributes, text, the five entities. Throws std::runtime_error on anything
// malformed (unbalanced tags, bad entities), which fails the test.
struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::vector<std::unique_ptr<XmlElement>> children;
  std::string text;

  std::vector<const XmlElement*> All(const std::string& n) const {
    std::vector<const XmlElement*> out;
    for (const auto& c : children) {
      if (c->name == n) out.push_back(c.get());
    }
    return out;
  }
  int Int(const std::string& attr) const { return std::stoi(attrs.at(attr)); }
};

std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      if (s[i] == '<') throw std::runtime_error("raw < in text");
      out += s[i];
      continue;
    }
    size_t end = s.find(';', i);
    std::string ent = s.substr(i + 1, end - i - 1);
    static const std::map<std::string, char> kEntities = {
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    auto it = kEntities.find(ent);
    if (end == std::string::npos || it == kEntities.end()) throw std::runtime_error("bad entity");
    out += it->second;
    i = end;
  }
  return out;
}

std::unique_ptr<XmlElement> ParseElement(const std::string& x, size_t& i) {
  auto e = std::make_unique<XmlElement>();
  if (x[i] != '<') throw std::runtime_error("expected <");
  size_t name_end = x.find_first_of(" />", i + 1);
  e->name = x.substr(i + 1, name_end - i - 1);
  i = name_end;
  for (;;) {
    while (x[i] == ' ' || x[i] == '\n') ++i;
    if (x.compare(i, 2, "/>") == 0) {
      i += 2;
      return e;
    }
    if (x[i] == '>') {
      ++i;
      break;
    }
    size_t eq = x.find('=', i);
    std::string key = x.substr(i, eq - i);
    if (x[eq + 1] != '"') throw std::runtime_error("unquoted attribute " + key);
    size_t close = x.find('"', eq + 2);
    e->attrs[key] = Unescape(x.substr(eq + 2, close - eq - 2));
    i = close + 1;
  }
  for (;;) {
    size_t lt = x.find('<', i);
    if (lt == std::string::npos) throw std::runtime_error("unterminated <" + e->name + ">");
    e->text += Unescape(x.substr(i, lt - i));
    i = lt;
    if (x.compare(i, 2, "</") == 0) {
      size_t gt = x.find('>', i);
      if (x.substr(i + 2, gt - i - 2) != e->name) throw std::runtime_error("mismatched end tag");
      i = gt + 1;
      return e;
    }
    e->children.push_back(ParseElement(x, i));
  }
}

std::unique_ptr<XmlElement> ParseXml(const std::string& x) {
  size_t i = 0;
  if (x.compare(0, 5, "<?xml") == 0) i = x.find("?>") + 2;
  while (x[i] == '\n') ++i;
  auto root = ParseElement(x, i);
  while (i < x.size() && x[i] == '\n') ++i;
  if (i != x.size()) throw std::runtime_error("content after the root element");
  return root;
}

RunResult Result(const std::string& file, const std::string& label, RunOutcome outcome) {
  RunResult r;
  r.scenario = label;
  r.label = label;
  r.file = file;
  r.outcome = outcome;
  r.duration = std::chrono::milliseconds(12345);
  r.artifacts_dir = "cpuhp-artifacts/x/" + label;
  r.accel = "tcg";
  StepRecord s;
  s.path = "1";
  s.kind = "hotplug";
  s.name = "hotplug max";
  s.duration_s = 0.5;
  r.steps.push_back(s);
  return r;
}

Invocation SampleInvocation() {
  Invocation inv;
  inv.started_utc = "2026-11-23T09:00:00.000Z";
  inv.duration = std::chrono::seconds(60);
  inv.artifacts_root = "cpuhp-artifacts/x";
  inv.hostname = "ci-runner";
  inv.runs.push_back(Result("scenarios/smoke.yaml", "smoke", RunOutcome::kPassed));
  RunResult failed = Result("scenarios/topology.yaml", "topology[s2c2t2]", RunOutcome::kFailed);
  RunFailure f;
  f.kind = FailureKind::kCheck;
  f.step_path = "3";
  f.step_name = "check";
  f.where = "scenarios/topology.yaml:12:5";
  f.message = "present-count: present has 3 CPUs, QEMU has 4 plugged\nstate-settled: cpu3 <stuck>";
  f.invariants = {"present-count", "state-settled"};
  failed.failure = f;
  failed.target = {{"qemu", "10.0"}, {"kernel", "6.12"}};
  failed.qemu_version = "10.0.2";
  failed.guest_kernel = "6.12.95+deb12-amd64";
  failed.accel = "tcg";
  failed.machine_type = "q35";
  // Serial logs hold anything: escapes, control characters, broken UTF-8.
  failed.serial_tail = "[    1.0] smpboot: CPU 3 is now offline & \"gone\" <x>\x1b[0m\x01\xff\n";
  inv.runs.push_back(failed);
  inv.runs.push_back(Result("scenarios/topology.yaml", "topology[sockets4]", RunOutcome::kPassed));
  RunResult error = Result("scenarios/boot.yaml", "boot", RunOutcome::kError);
  RunFailure setup;
  setup.kind = FailureKind::kSetup;
  setup.step_path = "boot";
  setup.step_name = "boot";
  setup.message = "cannot execute qemu-system-x86_64: No such file or directory";
  error.failure = setup;
  inv.runs.push_back(error);
  inv.runs.push_back(Result("scenarios/boot.yaml", "later", RunOutcome::kSkipped));
  return inv;
}

TEST(JunitTest, StructureAndCountsMatchTheElements) {
  Invocation inv = SampleInvocation();
  std::unique_ptr<XmlElement> root;
  ASSERT_NO_THROW(root = ParseXml(JunitXml(inv)));
  ASSERT_EQ(root->name, "testsuites");
  EXPECT_EQ(root->Int("tests"), 5);
  EXPECT_EQ(root->Int("failures"), 1);
  EXPECT_EQ(root->Int("errors"), 1);
  EXPECT_EQ(root->Int("skipped"), 1);
  auto suites = root->All("testsuite");
  ASSERT_EQ(suites.size(), 3u);  // one per scenario file, in order
  EXPECT_EQ(suites[0]->attrs.at("name"), "scenarios/smoke.yaml");
  EXPECT_EQ(suites[1]->attrs.at("name"), "scenarios/topology.yaml");
  int cases = 0;
  for (const auto* suite : suites) {
    auto testcases = suite->All("testcase");
    int failures = 0, errors = 0, skipped = 0;
    for (const auto* tc : testcases) {
      EXPECT_EQ(tc->attrs.at("classname"), suite->attrs.at("name"));
      EXPECT_FALSE(tc->attrs.at("name").empty());
      EXPECT_GE(std::stod(tc->attrs.at("time")), 0.0);
      failures += static_cast<int>(tc->All("failure").size());
      errors += static_cast<int>(tc->All("error").size());
      skipped += static_cast<int>(tc->All("skipped").size());
      ASSERT_EQ(tc->All("system-out").size(), 1u);
      EXPECT_NE(tc->All("system-out")[0]->text.find("artifacts: cpuhp-artifacts/x/"),
                std::string::npos);
    }
    EXPECT_EQ(suite->Int("tests"), static_cast<int>(testcases.size()));
    EXPECT_EQ(suite->Int("failures"), failures);
    EXPECT_EQ(suite->Int("errors"), errors);
    EXPECT_EQ(suite->Int("skipped"), skipped);
    cases += static_cast<int>(testcases.size());
  }
  EXPECT_EQ(cases, root->Int("tests"));
}

TEST(JunitTest, FailureCarriesInvariantsMessageAndSerialTail) {
  auto root = ParseXml(JunitXml(SampleInvocation()));
  const XmlElement* tc = root->All("testsuite")[1]->All("testcase")[0];
  EXPECT_EQ(tc->attrs.at("name"), "topology[s2c2t2]");
  EXPECT_EQ(tc->attrs.at("time"), "12.345");
  auto failures = tc->All("failure");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0]->attrs.at("type"), "present-count,state-settled");
  EXPECT_EQ(failures[0]->attrs.at("message"),
            "check failed (present-count, state-settled) at step 3 (check): present-count: "
            "present has 3 CPUs, QEMU has 4 plugged");
  const std::string& body = failures[0]->text;
  EXPECT_NE(body.find("scenarios/topology.yaml:12:5: present-count"), std::string::npos) << body;
  EXPECT_NE(body.find("state-settled: cpu3 <stuck>"), std::string::npos) << body;
  EXPECT_NE(body.find("smpboot: CPU 3 is now offline & \"gone\" <x>"), std::string::npos) << body;
  // Control characters XML 1.0 forbids are gone, broken UTF-8 replaced.
  EXPECT_EQ(body.find('\x1b'), std::string::npos);
  EXPECT_EQ(body.find('\x01'), std::string::npos);
  EXPECT_EQ(body.find('\xff'), std::string::npos);
  // The stack, as testcase properties.
  auto props = tc->All("properties");
  ASSERT_EQ(props.size(), 1u);
  std::map<std::string, std::string> by_name;
  for (const XmlElement* p : props[0]->All("property")) by_name[p->attrs.at("name")] = p->attrs.at("value");
  EXPECT_EQ(by_name, (std::map<std::string, std::string>{{"target.qemu", "10.0"},
                                                         {"target.kernel", "6.12"},
                                                         {"qemu_version", "10.0.2"},
                                                         {"guest_kernel", "6.12.95+deb12-amd64"},
                                                         {"accel", "tcg"},
                                                         {"machine_type", "q35"}}));
  const XmlElement* error = root->All("testsuite")[2]->All("testcase")[0];
  ASSERT_EQ(error->All("error").size(), 1u);
  EXPECT_EQ(error->All("error")[0]->attrs.at("type"), "setup");
}

TEST(JunitTest, ValidatesAgainstTheJunitSchema) {
  if (::system("command -v xmllint >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "xmllint not installed (apt-get install libxml2-utils)";
  }
  TempDir dir(std::filesystem::temp_directory_path(), "cpuhp-junit-");
  std::filesystem::path xml = dir.path() / "junit.xml";
  std::ofstream(xml) << JunitXml(SampleInvocation());
  std::filesystem::path log = dir.path() / "xmllint.log";
  Process p =
      Process::Spawn({.argv = {"xmllint", "--noout", "--schema",
                               std::string(CPUHP_TEST_DATA_DIR) + "/junit.xsd", xml.string()},
                      .output = log});
  auto status = p.Wait(Deadline::After(std::chrono::seconds(30)));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0) << ReadFileToString(log);
  // The schema is not a rubber stamp: a testcase without a name fails it.
  std::string broken = JunitXml(SampleInvocation());
  broken.replace(broken.find(" name=\"smoke\""), 13, "");
  std::ofstream(xml) << broken;
  Process q =
      Process::Spawn({.argv = {"xmllint", "--noout", "--schema",
                               std::string(CPUHP_TEST_DATA_DIR) + "/junit.xsd", xml.string()},
                      .output = log});
  auto broken_status = q.Wait(Deadline::After(std::chrono::seconds(30)));
  ASSERT_TRUE(broken_status);
  EXPECT_NE(broken_status->code, 0);
}

TEST(XmlEscapeTest, EscapesMarkupAndKeepsValidUtf8) {
  EXPECT_EQ(XmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(XmlEscape("caf\xc3\xa9\ttab\n"), "caf\xc3\xa9\ttab\n");
  EXPECT_EQ(XmlEscape("bad\xc3(x"), "bad\xef\xbf\xbd(x");
  EXPECT_EQ(XmlEscape(std::string("nul\0!", 5)), "nul!");
}

// XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
// [#x10000-#x10FFFF]. Anything else, and every byte that does not start a
// well-formed UTF-8 sequence, becomes U+FFFD (one per byte, or one for a
// well-formed sequence whose code point is not a Char).
TEST(XmlEscapeTest, DecodesUtf8StrictlyAndKeepsOnlyXmlChars) {
  const std::string r = "\xef\xbf\xbd";  // U+FFFD
  struct Case {
    const char* what;
    std::string in, out;
  };
  for (const Case& c : std::vector<Case>{
           {"overlong NUL", "a\xc0\x80" "b", "a" + r + r + "b"},
           {"overlong /", "\xc1\xaf", r + r},
           {"overlong 3-byte", "\xe0\x80\xaf", r + r + r},
           {"overlong 4-byte", "\xf0\x80\x80\xaf", r + r + r + r},
           {"surrogate", "\xed\xa0\x80", r + r + r},
           {"low surrogate", "\xed\xbf\xbf", r + r + r},
           {"U+FFFE", "\xef\xbf\xbe", r},
           {"U+FFFF", "x\xef\xbf\xbfy", "x" + r + "y"},
           {"above U+10FFFF", "\xf4\x90\x80\x80", r + r + r + r},
           {"5-byte lead", "\xf8\x88\x80\x80\x80", r + r + r + r + r},
           {"truncated at the end", "ok\xe2\x82", "ok" + r + r},
           {"truncated before ASCII", "\xe2\x82<", r + r + "&lt;"},
           {"stray continuation", "\x80\xbf", r + r},
           {"C1 controls are Chars", "\xc2\x85\xc2\x9b", "\xc2\x85\xc2\x9b"},
           {"last before surrogates", "\xed\x9f\xbf", "\xed\x9f\xbf"},
           {"first after surrogates", "\xee\x80\x80", "\xee\x80\x80"},
           {"U+FFFD itself", r, r},
           {"U+10000", "\xf0\x90\x80\x80", "\xf0\x90\x80\x80"},
           {"U+10FFFF", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},
       }) {
    EXPECT_EQ(XmlEscape(c.in), c.out) << c.what;
  }
}

TEST(JunitTest, HostileSerialTextStillParsesWithXmllint) {
  if (::system("command -v xmllint >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "xmllint not installed (apt-get install libxml2-utils)";
  }
  Invocation inv = SampleInvocation();
  inv.runs[1].serial_tail =
      "overlong \xc0\x80 surrogate \xed\xa0\x80 nonchar \xef\xbf\xbf big \xf4\x90\x80\x80 "
      "truncated \xe2\x82";
  inv.runs[1].label = "topology[\xef\xbf\xbe]";
  inv.runs[1].failure->message = "desc \xed\xbf\xbf\x01";
  TempDir dir(std::filesystem::temp_directory_path(), "cpuhp-junit-");
  std::filesystem::path xml = dir.path() / "junit.xml";
  std::ofstream(xml) << JunitXml(inv);
  std::filesystem::path log = dir.path() / "xmllint.log";
  Process p = Process::Spawn({.argv = {"xmllint", "--noout", xml.string()}, .output = log});
  auto status = p.Wait(Deadline::After(std::chrono::seconds(30)));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0) << ReadFileToString(log);
}

TEST(JsonReportTest, TotalsAndExitCode) {
  Invocation inv = SampleInvocation();
  nlohmann::json j = ReportJson(inv);
  EXPECT_EQ(j["totals"]["runs"], 5);
  EXPECT_EQ(j["totals"]["passed"], 2);
  EXPECT_EQ(j["totals"]["failed"], 1);
  EXPECT_EQ(j["totals"]["errors"], 1);
  EXPECT_EQ(j["totals"]["skipped"], 1);
  EXPECT_EQ(j["exit_code"], kExitFailed);
  ASSERT_EQ(j["runs"].size(), 5u);
  EXPECT_EQ(j["runs"][1]["failure"]["invariants"],
            nlohmann::json({"present-count", "state-settled"}));
  EXPECT_EQ(j["runs"][1]["steps"][0]["name"], "hotplug max");
  EXPECT_EQ(j["runs"][3]["outcome"], "error");
}

TEST(JsonReportTest, ExitCodePrecedence) {
  Invocation inv;
  inv.runs.push_back(Result("f", "a", RunOutcome::kPassed));
  EXPECT_EQ(inv.ExitCode(), kExitPassed);
  inv.runs.push_back(Result("f", "b", RunOutcome::kError));
  EXPECT_EQ(inv.ExitCode(), kExitSetup);
  inv.runs.push_back(Result("f", "c", RunOutcome::kFailed));
  EXPECT_EQ(inv.ExitCode(), kExitFailed);
  inv.runs.push_back(Result("f", "d", RunOutcome::kCancelled));
  EXPECT_EQ(inv.ExitCode(), kExitInterrupted);
}

TEST(SummaryTest, ListsFailuresWithTheirArtifactsAndTotals) {
  std::string s = SummaryText(SampleInvocation(), false);
  EXPECT_NE(s.find("PASS  smoke"), std::string::npos) << s;
  EXPECT_NE(s.find("FAIL  topology[s2c2t2]"), std::string::npos) << s;
  EXPECT_NE(s.find("check failed (present-count, state-settled) at step 3"), std::string::npos)
      << s;
  EXPECT_NE(s.find("artifacts: cpuhp-artifacts/x/topology[s2c2t2]"), std::string::npos) << s;
  EXPECT_NE(s.find("5 runs: 2 passed, 1 failed, 1 could not run, 1 skipped"), std::string::npos)
      << s;
  EXPECT_EQ(s.find("\033["), std::string::npos);  // no colour when asked for none
  // Failures come after passes, right above the totals.
  EXPECT_LT(s.find("PASS  smoke"), s.find("FAIL  topology"));
}

TEST(JunitTest, AKnownBugIsSkippedWithWhatItMetAndDoesNotFailTheInvocation) {
  Invocation inv;
  RunResult known = Result("scenarios/known-bugs/r.yaml", "replug", RunOutcome::kKnownBug);
  known.failure = RunFailure();
  known.failure->kind = FailureKind::kConnection;
  known.failure->message = "qmp: connection closed";
  known.known_bug = "known bug reproduced on qemu 7.2.22 (known_bug at r.yaml:3:5)";
  inv.runs.push_back(known);
  EXPECT_EQ(inv.ExitCode(), kExitPassed);
  std::unique_ptr<XmlElement> root = ParseXml(JunitXml(inv));
  EXPECT_EQ(root->Int("skipped"), 1);
  EXPECT_EQ(root->Int("failures"), 0);
  const XmlElement* tc = root->All("testsuite")[0]->All("testcase")[0];
  ASSERT_EQ(tc->All("skipped").size(), 1u);
  EXPECT_EQ(tc->All("skipped")[0]->attrs.at("message"), known.known_bug);
  EXPECT_NE(tc->All("skipped")[0]->text.find("qmp: connection closed"), std::string::npos);
  std::string s = SummaryText(inv, false);
  EXPECT_NE(s.find("KNOWN replug"), std::string::npos) << s;
  EXPECT_NE(s.find("known bug: connection failure: qmp: connection closed"), std::string::npos) << s;
  EXPECT_NE(s.find("1 run: 0 passed, 1 known bug in"), std::string::npos) << s;
  EXPECT_EQ(ReportJson(inv)["totals"]["known_bugs"], 1);
}

TEST(SummaryTest, EndsWithATargetByScenarioTable) {
  Invocation inv;
  inv.duration = std::chrono::seconds(60);
  for (const char* q : {"7.2", "10.0"}) {
    for (const char* scenario : {"smoke", "topology[s2c2t2]"}) {
      bool fails = std::string(q) == "10.0" && std::string(scenario) == "smoke";
      RunResult r = Result("scenarios/x.yaml", std::string(scenario) + "@qemu=" + q,
                           fails ? RunOutcome::kFailed : RunOutcome::kPassed);
      r.target = {{"qemu", q}};
      r.duration = std::chrono::seconds(fails ? 7 : 42);
      inv.runs.push_back(r);
    }
  }
  std::string s = SummaryText(inv, false);
  size_t table = s.find("qemu=7.2      qemu=10.0");
  ASSERT_NE(table, std::string::npos) << s;
  EXPECT_NE(s.find("smoke             PASS 42s      FAIL 7s", table), std::string::npos) << s;
  EXPECT_NE(s.find("topology[s2c2t2]  PASS 42s      PASS 42s", table), std::string::npos) << s;
  EXPECT_LT(table, s.find("cpuhp: 4 runs"));
  // No table without targets.
  for (auto& r : inv.runs) r.target.clear();
  EXPECT_EQ(SummaryText(inv, false).find("  qemu=7.2"), std::string::npos);
}

// Guest text in a failure line (an agent's desc, the console) must not drive
// the terminal: no escape sequences, no bells, no carriage returns.
constexpr char kHostile[] = "boom\x1b]0;owned\x07\x1b[2J\r\xc2\x9b" "31m\x9b\x7f tail\nline 2";

void ExpectNoControls(const std::string& s, bool allow_sgr) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') continue;
    // TtyProgress's own redraw: back to the line start, clear below.
    if (allow_sgr && c == '\r' && s.compare(i + 1, 3, "\x1b[J") == 0) continue;
    if (allow_sgr && c == 0x1b && s.compare(i, 2, "\x1b[") == 0) {
      // Only the reports' own colours and cursor moves: ESC [ digits/; letter.
      size_t end = s.find_first_not_of("0123456789;", i + 2);
      ASSERT_NE(end, std::string::npos);
      EXPECT_NE(std::string("mAJ").find(s[end]), std::string::npos) << s;
      EXPECT_NE(s.compare(i, 4, "\x1b[2J"), 0) << s;
      i = end;
      continue;
    }
    EXPECT_TRUE(c >= 0x20 && c != 0x7f) << "byte " << int(c) << " at " << i << " in " << s;
    if (c == 0xc2 && i + 1 < s.size()) {
      unsigned char d = static_cast<unsigned char>(s[i + 1]);
      EXPECT_FALSE(d >= 0x80 && d <= 0x9f) << "a C1 control at " << i << " in " << s;
    }
    EXPECT_NE(c, 0x9b) << s;
  }
}

Invocation HostileInvocation() {
  Invocation inv = SampleInvocation();
  inv.runs[1].failure->message = kHostile;
  inv.runs[1].label = "topology[\x1b[2J]";
  inv.runs[1].failure->step_name = "check\x1b[2J";
  return inv;
}

TEST(SummaryTest, GuestTextCannotDriveTheTerminal) {
  Invocation inv = HostileInvocation();
  std::string plain = SummaryText(inv, false);
  ExpectNoControls(plain, false);
  EXPECT_NE(plain.find("boom\\x1b]0;owned\\x07"), std::string::npos) << plain;
  ExpectNoControls(SummaryText(inv, true), true);
}

std::string Captured(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  return out;
}

TEST(ProgressTest, GuestTextCannotDriveTheTerminal) {
  Invocation inv = HostileInvocation();
  StepRecord step = inv.runs[1].steps[0];
  step.outcome = "failed";
  step.name = "hotplug\x1b[2J";
  step.message = kHostile;
  {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::tmpfile(), &std::fclose);
    ASSERT_TRUE(f);
    {
      PlainProgress p(f.get(), 5);
      p.RunStarted(1, inv.runs[1].label);
      p.StepStarted(1, inv.runs[1].label, 1, 3, step.name);
      p.StepFinished(1, inv.runs[1].label, step);
      p.RunFinished(1, inv.runs[1]);
    }
    std::string out = Captured(f.get());
    ExpectNoControls(out, false);
    EXPECT_NE(out.find("boom\\x1b]0;owned"), std::string::npos) << out;
  }
  {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::tmpfile(), &std::fclose);
    ASSERT_TRUE(f);
    {
      TtyProgress p(f.get(), 5);
      p.RunStarted(1, inv.runs[1].label);
      p.StepStarted(1, inv.runs[1].label, 1, 3, step.name);
      p.RunFinished(1, inv.runs[1]);
    }
    std::string out = Captured(f.get());
    ExpectNoControls(out, true);
    EXPECT_NE(out.find("boom\\x1b]0;owned"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace cpuhp

namespace cpuhp {
namespace {

// Every outcome has its row: a name of its own and a five-column tag.
TEST(OutcomeTableTest, EveryOutcomeHasANameAndATag) {
  std::set<std::string> names;
  for (int o = 0; o <= static_cast<int>(RunOutcome::kKnownBug); ++o) {
    auto outcome = static_cast<RunOutcome>(o);
    EXPECT_TRUE(names.insert(OutcomeName(outcome)).second) << OutcomeName(outcome);
    EXPECT_NE(std::string(OutcomeName(outcome)), "?");
    EXPECT_EQ(std::string(OutcomeTag(outcome)).size(), 5u) << OutcomeName(outcome);
  }
}

}  // namespace
}  // namespace cpuhp
