#include "scenario/known_bug.h"

#include <sstream>

#include "scenario/yaml_value.h"
#include "vm/kits.h"

namespace cpuhp {
namespace {

// "6.12.95+deb12-amd64" -> {6, 12, 95}; stops at the first character that
// is neither a digit nor a dot between numbers.
std::vector<long> Components(const std::string& version) {
  std::vector<long> out;
  size_t i = 0;
  while (i < version.size() && std::isdigit(static_cast<unsigned char>(version[i]))) {
    long n = 0;
    while (i < version.size() && std::isdigit(static_cast<unsigned char>(version[i])) &&
           n < 1'000'000'000) {
      n = n * 10 + (version[i++] - '0');
    }
    out.push_back(n);
    if (i + 1 < version.size() && version[i] == '.' &&
        std::isdigit(static_cast<unsigned char>(version[i + 1]))) {
      ++i;
    } else {
      break;
    }
  }
  return out;
}

// <0, 0, >0 as a is below, equal to or above b, missing components as 0
// ("10.1" == "10.1.0").
int Compare(const std::vector<long>& a, const std::vector<long>& b) {
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    long x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

bool AllHold(const std::vector<VersionBound>& range, const std::string& version) {
  for (const auto& b : range) {
    if (!b.Holds(version)) return false;
  }
  return true;
}

std::string RangeText(const std::vector<VersionBound>& range) {
  std::string out;
  for (const auto& b : range) out += (out.empty() ? "" : " ") + b.ToString();
  return out;
}

}  // namespace

std::optional<std::vector<VersionBound>> VersionBound::ParseRange(const std::string& text,
                                                                  std::string* why) {
  std::vector<VersionBound> out;
  std::istringstream words(text);
  std::string word;
  while (words >> word) {
    VersionBound b;
    size_t op_len = 0;
    if (word.rfind("<=", 0) == 0) {
      b.op = Op::kLessEqual, op_len = 2;
    } else if (word.rfind(">=", 0) == 0) {
      b.op = Op::kGreaterEqual, op_len = 2;
    } else if (word.rfind('<', 0) == 0) {
      b.op = Op::kLess, op_len = 1;
    } else if (word.rfind('>', 0) == 0) {
      b.op = Op::kGreater, op_len = 1;
    } else if (word.rfind('=', 0) == 0) {
      op_len = 1;
    }
    b.version = word.substr(op_len);
    if (!IsKitName(b.version)) {
      *why = "\"" + word + "\" is not a version bound (<V, <=V, >V, >=V or V, V such as 10.1)";
      return std::nullopt;
    }
    out.push_back(b);
  }
  if (out.empty()) {
    *why = "the version range is empty";
    return std::nullopt;
  }
  return out;
}

bool VersionBound::Holds(const std::string& version) const {
  std::vector<long> have = Components(version);
  if (have.empty()) return false;
  int c = Compare(have, Components(this->version));
  switch (op) {
    case Op::kLess:
      return c < 0;
    case Op::kLessEqual:
      return c <= 0;
    case Op::kGreater:
      return c > 0;
    case Op::kGreaterEqual:
      return c >= 0;
    case Op::kMatches:
      return VersionMatches(version, this->version);
  }
  return false;
}

std::string VersionBound::ToString() const {
  switch (op) {
    case Op::kLess:
      return "<" + version;
    case Op::kLessEqual:
      return "<=" + version;
    case Op::kGreater:
      return ">" + version;
    case Op::kGreaterEqual:
      return ">=" + version;
    case Op::kMatches:
      return version;
  }
  return version;
}

bool KnownBug::AppliesTo(const RunResult& result) const {
  if (!qemu.empty() && !AllHold(qemu, result.qemu_version)) return false;
  if (!kernel.empty() && !AllHold(kernel, result.guest_kernel)) return false;
  if (accel && result.accel != AccelName(*accel)) return false;
  return true;
}

std::string KnownBug::StackText() const {
  std::string out;
  if (!qemu.empty()) out += "qemu " + RangeText(qemu);
  if (!kernel.empty()) out += (out.empty() ? "" : ", ") + std::string("kernel ") + RangeText(kernel);
  if (accel) out += (out.empty() ? "" : ", ") + std::string("accel ") + AccelName(*accel);
  return out.empty() ? "any stack" : out;
}

void ApplyKnownBugs(const std::vector<KnownBug>& bugs, RunResult& result) {
  // Interrupted or never started: nothing was learnt about the bug.
  if (result.outcome == RunOutcome::kCancelled || result.outcome == RunOutcome::kSkipped) return;
  for (const auto& bug : bugs) {
    if (!bug.AppliesTo(result)) continue;
    std::string stack = "qemu " + (result.qemu_version.empty() ? "?" : result.qemu_version) +
                        ", kernel " +
                        (result.guest_kernel.empty() ? "?" : result.guest_kernel) + ", " +
                        (result.accel.empty() ? "?" : result.accel);
    std::string expected = "known_bug at " + bug.where.ToString() + " (on " + bug.StackText() +
                           ": fails with " +
                           (bug.error ? std::string(FailureKindName(*bug.error)) : "any error") +
                           (bug.message.empty() ? "" : " \"" + bug.message + "\"") + ")";
    if (result.Passed()) {
      if (bug.intermittent) return;  // this try did not hit it
      result.outcome = RunOutcome::kFailed;
      RunFailure f;
      f.kind = FailureKind::kExpectation;
      f.message = "known bug no longer reproduces on " + stack + ": the run passed, but " +
                  expected +
                  " expects it to fail; narrow its `on` (or drop it) and update "
                  "docs/known-issues.md";
      result.failure = f;
      return;
    }
    const RunFailure* f = result.failure ? &*result.failure : nullptr;
    bool kind_ok = !bug.error || (f && f->kind == *bug.error);
    bool message_ok = bug.message.empty() || (f && f->message.find(bug.message) != std::string::npos);
    if (f && kind_ok && message_ok) {
      result.outcome = RunOutcome::kKnownBug;
      result.known_bug = "known bug reproduced on " + stack + " (" + expected + ")" +
                         (bug.see.empty() ? "" : "; see " + bug.see);
    } else if (f) {
      result.failure->message += "\n  (not the known bug: " + expected + ")";
    }
    return;
  }
}

namespace {

std::vector<VersionBound> Range(const YamlValue& v) {
  std::string why;
  auto range = VersionBound::ParseRange(v.AsString(), &why);
  if (!range) v.Fail(why);
  return *range;
}

KnownBug ParseOne(const YamlValue& v) {
  if (!v.IsMap()) {
    v.Fail("expected {on: {qemu: \"<10.1\"}, fails_with: {error: ..., message: ...}, see: ...}, got " +
           v.TypeName());
  }
  YamlMap m = v.AsMap({"on", "fails_with", "see", "intermittent"});
  KnownBug bug;
  bug.where = v.where();
  YamlMap on = m.Require("on").AsMap({"qemu", "kernel", "accel"});
  if (auto q = on.Get("qemu")) bug.qemu = Range(*q);
  if (auto k = on.Get("kernel")) bug.kernel = Range(*k);
  if (auto a = on.Get("accel")) {
    Accel accel;
    ParseAccel(a->AsEnum({"kvm", "tcg"}), &accel);
    bug.accel = accel;
  }
  if (auto f = m.Get("fails_with")) {
    YamlMap fw = f->AsMap({"error", "message"});
    if (auto e = fw.Get("error")) {
      // The names result.json and JUnit give a failure's kind.
      bug.error = FailureKindFromName(
          e->AsEnum({"setup", "launch", "check", "expectation", "qmp", "agent", "timeout",
                     "connection", "protocol", "system", "migration", "error"}));
    }
    if (auto msg = fw.Get("message")) {
      bug.message = msg->AsString();
      if (bug.message.empty()) msg->Fail("the message is empty (leave it out to accept any)");
    }
  }
  if (auto s = m.Get("see")) bug.see = s->AsString();
  if (auto i = m.Get("intermittent")) {
    bug.intermittent = i->AsBool();
    // A chance failure of any kind would pass for the bug.
    if (bug.intermittent && !bug.error && bug.message.empty()) {
      i->Fail("an intermittent known bug needs fails_with (an error kind or a message): without one, any failure would count as it");
    }
  }
  return bug;
}

}  // namespace

std::vector<KnownBug> ParseKnownBugs(const YamlValue& v) {
  std::vector<KnownBug> out;
  if (v.IsSequence()) {
    for (const auto& item : v.Items()) out.push_back(ParseOne(item));
    if (out.empty()) v.Fail("the list of known bugs is empty");
  } else {
    out.push_back(ParseOne(v));
  }
  return out;
}

}  // namespace cpuhp
