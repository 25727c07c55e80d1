#include "scenario/scenario_loader.h"

#include <fnmatch.h>

#include <algorithm>
#include <set>

#include "check/checker.h"
#include "scenario/dry_run.h"
#include "scenario/duration.h"
#include "scenario/topology.h"
#include "scenario/yaml_value.h"
#include "util/text.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& StepKindWords() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> out;
    for (const auto& info : StepKinds()) out.push_back(info.word);
    return out;
  }();
  return words;
}

// The keys a step map may have: its one action, and the two every step takes.
const std::vector<std::string>& StepMapKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> out = StepKindWords();
    out.push_back("name");
    out.push_back("timeout");
    return out;
  }();
  return keys;
}

bool IsValidDeviceId(const std::string& id) {
  // QEMU's id_wellformed(): a letter, then letters, digits, '-', '.', '_'.
  if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0]))) return false;
  return id.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") ==
         std::string::npos;
}

std::string DeviceId(const YamlValue& v) {
  std::string id = v.AsString();
  if (!IsValidDeviceId(id)) {
    v.Fail("\"" + id +
           "\" is not a valid QEMU device id (a letter, then letters, digits, "
           "'-', '.' or '_')");
  }
  return id;
}

// Reads socket/die/core/thread of `m` into props; false if none is given.
bool ReadProps(const YamlMap& m, Step& step, CpuProps* props) {
  bool any = false;
  for (auto [key, member] : {std::pair{"socket", &CpuProps::socket_id},
                             {"die", &CpuProps::die_id},
                             {"core", &CpuProps::core_id},
                             {"thread", &CpuProps::thread_id}}) {
    if (auto v = m.Get(key)) {
      props->*member = v->AsInt(0, 1023);
      step.field_where[key] = v->where();
      any = true;
    }
  }
  return any;
}

// The most steps one run may have, counting those inside repeat,
// expect_error and expect_failure, and each use of a YAML alias: yaml-cpp
// shares an aliased node, but every use is a Step of its own, so an 862-byte
// file of nested aliases used to expand to 10^9 steps (4 GB). Hand-written
// scenarios have tens of steps; a generated one has room for hundreds.
constexpr int kMaxStepsPerRun = 10000;
// Hand-written scenarios nest two or three deep; the parser recurses per level.
constexpr int kMaxStepNesting = 64;
// The most steps of all a file's runs together: each matrix run parses its
// own, and a Step takes about half a KiB, so 1000 runs of kMaxStepsPerRun
// would be 5 GB; this keeps a file's steps near 50 MB.
constexpr int kMaxStepsPerFile = 100000;

bool HasControlCharacter(const std::string& text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// Why `name` cannot be (part of) the name of a run's directory under the
// artifacts root, or "" if it can. The runner deletes and recreates that
// directory, so "." and ".." (the root itself, its parent) must never reach it.
std::string DirectoryNameProblem(const std::string& name) {
  if (name.size() > kMaxDirNameBytes) {
    return "is " + std::to_string(name.size()) + " bytes long; at most " +
           std::to_string(kMaxDirNameBytes) + " (NAME_MAX: it names the run's artifacts directory)";
  }
  if (HasControlCharacter(name)) return "contains a control character";
  if (name.find('/') != std::string::npos) {
    return "contains '/' (it names one directory, not a path)";
  }
  if (!name.empty() && name[0] == '.') {
    return "starts with a dot (it names the run's artifacts directory, and . and .. are other "
           "directories)";
  }
  return "";
}

class StepParser {
 public:
  // `file_steps`: the steps parsed for the file's earlier runs, updated.
  explicit StepParser(int& file_steps) : file_steps_(file_steps) {}

  Step Parse(const YamlValue& item) {
    // A repeat inside a repeat recurses here; a YAML alias that refers to
    // itself (found by the scenario fuzzer) would recurse until the stack
    // overflows, long before the step budget is reached.
    struct Nesting {
      int& depth;
      explicit Nesting(int& d) : depth(++d) {}
      ~Nesting() { --depth; }
    } nesting(depth_);
    if (depth_ > kMaxStepNesting) {
      item.Fail("steps nest more than " + std::to_string(kMaxStepNesting) +
                " deep (repeat, expect_error and expect_failure inside each other, or an "
                "alias that refers to itself)");
    }
    if (++steps_ > kMaxStepsPerRun) {
      item.Fail("the run has more than " + std::to_string(kMaxStepsPerRun) +
                " steps, counting those inside repeat, expect_error and expect_failure and each "
                "use of a YAML alias; at most " +
                std::to_string(kMaxStepsPerRun));
    }
    if (++file_steps_ > kMaxStepsPerFile) {
      item.Fail("the file's runs have more than " + std::to_string(kMaxStepsPerFile) +
                " steps together, counting each run of the matrix; at most " +
                std::to_string(kMaxStepsPerFile));
    }
    Step step;
    step.where = item.where();
    step.path = item.path();
    std::optional<YamlValue> params;
    if (item.IsScalar() && !item.IsNull()) {
      auto kind = StepKindFromWord(item.Scalar());
      if (!kind) {
        std::string hint = NearestWord(item.Scalar(), StepKindWords());
        item.Fail("unknown step '" + item.Scalar() + "'" +
                  (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                  "; steps: " + Join(StepKindWords()));
      }
      step.kind = *kind;
    } else if (item.IsMap()) {
      YamlMap m = item.AsMap(StepMapKeys());
      std::optional<std::string> found;
      for (const auto& [key, value] : m.entries()) {
        if (key == "name" || key == "timeout") continue;
        if (found) {
          throw ScenarioError(m.KeyWhere(key), item.path() +
                                                   ": a step does one thing, but this "
                                                   "one has both '" +
                                                   *found + "' and '" + key +
                                                   "': write them as two steps");
        }
        found = key;
        step.kind = *StepKindFromWord(key);
        step.where = m.KeyWhere(key);
        params = value;
      }
      if (!found) {
        item.Fail("a step needs an action, one of: " + Join(StepKindWords()));
      }
      if (auto name = m.Get("name")) {
        step.name = name->AsString();
        // Step names go to terminals, progress lines and JUnit.
        if (HasControlCharacter(step.name)) {
          name->Fail("step name " + QuotedForMessage(step.name) + " contains a control character");
        }
        if (step.name.size() > kMaxDirNameBytes) {
          name->Fail("step name " + QuotedForMessage(step.name) + " is " +
                     std::to_string(step.name.size()) + " bytes long; at most " +
                     std::to_string(kMaxDirNameBytes));
        }
      }
      if (auto timeout = m.Get("timeout")) {
        step.timeout = timeout->AsDuration();
        if (step.timeout <= Clock::duration::zero()) timeout->Fail("must be more than zero");
      }
    } else {
      item.Fail(
          "expected a step (a map such as {hotplug: {count: 1}} or a word such as "
          "check), got " +
          item.TypeName());
    }
    const YamlValue& anchor = params ? *params : item;
    switch (step.kind) {
      case StepKind::kHotplug:
        step.params = Hotplug(params, anchor, step);
        break;
      case StepKind::kUnplug:
        step.params = Unplug(params, anchor, step);
        break;
      case StepKind::kOnline:
        step.params = SetOnline(params, true, step);
        break;
      case StepKind::kOffline:
        step.params = SetOnline(params, false, step);
        break;
      case StepKind::kCheck:
        step.params = Check(params, step);
        break;
      case StepKind::kExpectError:
        step.params = ExpectError(anchor, params, step);
        break;
      case StepKind::kExpectFailure:
        step.params = ExpectFailure(anchor, params, step);
        break;
      case StepKind::kMigrate:
        step.params = Migrate(params, step);
        break;
      case StepKind::kGuestLoad:
        step.params = GuestLoad(params, step);
        break;
      case StepKind::kRepeat:
        step.params = Repeat(anchor, params, step);
        break;
      case StepKind::kSleep:
        step.params = Sleep(anchor, params, step);
        break;
      case StepKind::kWaitForConsole:
        step.params = WaitForConsole(anchor, params, step);
        break;
    }
    if (step.timeout == Clock::duration::zero()) step.timeout = DefaultTimeout(step);
    return step;
  }

  std::vector<Step> ParseList(const YamlValue& list) {
    std::vector<Step> steps;
    for (const auto& item : list.Items()) steps.push_back(Parse(item));
    if (steps.empty()) list.Fail("the list of steps is empty");
    return steps;
  }

 private:
  // Each duration is at most kMaxScenarioDuration, but sums over a body and
  // products with `times` are not: they saturate rather than wrap negative.
  static Clock::duration DefaultTimeout(const Step& step) {
    if (const auto* s = std::get_if<SleepStep>(&step.params)) {
      return SaturatingAdd(s->duration, DefaultStepTimeout(StepKind::kSleep));
    }
    if (const auto* m = std::get_if<MigrateStep>(&step.params)) {
      return SaturatingAdd(SaturatingMultiply(m->options.timeout, m->times), kQmpTimeout);
    }
    return DefaultStepTimeout(step.kind);
  }

  static Clock::duration BodyTimeout(const std::vector<Step>& steps) {
    Clock::duration body{};
    for (const auto& s : steps) body = SaturatingAdd(body, s.timeout);
    return body;
  }

  int steps_ = 0;  // parsed so far, against kMaxStepsPerRun
  int depth_ = 0;  // steps being parsed inside each other, against kMaxStepNesting
  int& file_steps_;

  HotplugStep Hotplug(const std::optional<YamlValue>& v, const YamlValue& anchor, Step& step) {
    HotplugStep h;
    auto read_count = [&](const YamlValue& c) {
      step.field_where["count"] = c.where();
      if (c.IsScalar() && c.Scalar() == "max") {
        h.max = true;
      } else {
        h.count = c.AsInt(1, 1024);
      }
    };
    if (!v || v->IsNull()) {
      // `- hotplug`: one CPU.
    } else if (v->IsScalar()) {
      read_count(*v);
    } else {
      YamlMap m = v->AsMap({"count", "socket", "die", "core", "thread", "id", "online"});
      CpuProps props;
      if (ReadProps(m, step, &props)) {
        if (m.Has("count")) {
          throw ScenarioError(m.KeyWhere("count"),
                              v->path() +
                                  ": 'count' and an explicit socket/die/core/thread "
                                  "cannot be combined (one explicit CPU per step)");
        }
        h.props = props;
      } else if (auto c = m.Get("count")) {
        read_count(*c);
      }
      if (auto id = m.Get("id")) {
        if (!h.props && (h.max || h.count != 1)) {
          id->Fail("an explicit id names one CPU; it cannot go with count " +
                   (h.max ? std::string("max") : std::to_string(h.count)));
        }
        h.id = DeviceId(*id);
        step.field_where["id"] = id->where();
      }
      if (auto online = m.Get("online")) h.online = online->AsBool();
    }
    (void)anchor;
    if (step.name.empty()) {
      step.name = "hotplug " + (h.props ? DescribeProps(*h.props)
                                        : (h.max ? std::string("max") : std::to_string(h.count)));
      if (h.online) step.name += " +online";
    }
    return h;
  }

  UnplugStep Unplug(const std::optional<YamlValue>& v, const YamlValue& anchor, Step& step) {
    UnplugStep u;
    if (!v || v->IsNull()) {
      u.count = 1;
    } else if (v->IsScalar()) {
      step.field_where["count"] = v->where();
      if (v->Scalar() == "all") {
        u.all = true;
      } else if (!v->Scalar().empty() && std::isdigit(static_cast<unsigned char>(v->Scalar()[0]))) {
        u.count = v->AsInt(1, 1024);
      } else {
        u.ids = {DeviceId(*v)};
        step.field_where["id"] = v->where();
      }
    } else {
      YamlMap m = v->AsMap({"id", "ids", "count", "socket", "die", "core", "thread"});
      int selectors = 0;
      if (auto id = m.Get("id")) {
        u.ids.push_back(DeviceId(*id));
        step.field_where["id"] = id->where();
        ++selectors;
      }
      if (auto ids = m.Get("ids")) {
        for (const auto& i : ids->Items()) u.ids.push_back(DeviceId(i));
        if (u.ids.empty()) ids->Fail("the list of ids is empty");
        step.field_where["id"] = ids->where();
        ++selectors;
      }
      if (auto c = m.Get("count")) {
        step.field_where["count"] = c->where();
        if (c->IsScalar() && c->Scalar() == "all") {
          u.all = true;
        } else {
          u.count = c->AsInt(1, 1024);
        }
        ++selectors;
      }
      CpuProps props;
      if (ReadProps(m, step, &props)) {
        u.props = props;
        ++selectors;
      }
      if (selectors == 0) v->Fail("say which CPUs to unplug: id, ids, count or socket/core/thread");
      if (selectors > 1) {
        v->Fail("give only one of id, ids, count and socket/core/thread");
      }
    }
    (void)anchor;
    if (step.name.empty()) {
      if (u.all)
        step.name = "unplug all";
      else if (!u.ids.empty())
        step.name = "unplug " + Join(u.ids, ",");
      else if (u.props)
        step.name = "unplug " + DescribeProps(*u.props);
      else
        step.name = "unplug " + std::to_string(u.count);
    }
    return u;
  }

  SetOnlineStep SetOnline(const std::optional<YamlValue>& v, bool online, Step& step) {
    SetOnlineStep s;
    s.online = online;
    auto read_cpus = [&](const YamlValue& c) {
      step.field_where["cpus"] = c.where();
      if (c.IsScalar() && c.Scalar() == "all") {
        s.all = true;
      } else if (c.IsSequence()) {
        s.all = false;
        for (const auto& i : c.Items()) s.cpus.Insert(i.AsInt(0, 8191));
        if (s.cpus.Empty()) c.Fail("the list of CPUs is empty");
      } else {
        s.all = false;
        try {
          s.cpus = CpuSet::Parse(c.AsString(), "cpus");
        } catch (const CpuListError&) {
          c.Fail("expected all, a cpulist such as \"1-3,5\" or a list of CPU numbers, got " +
                 c.TypeName());
        }
        if (s.cpus.Empty()) c.Fail("the cpulist is empty");
      }
    };
    if (v && !v->IsNull()) {
      if (v->IsMap()) {
        YamlMap m = v->AsMap({"cpus", "count"});
        if (m.Has("cpus") && m.Has("count")) {
          throw ScenarioError(m.KeyWhere("count"), v->path() + ": give cpus or count, not both");
        }
        if (auto c = m.Get("cpus")) read_cpus(*c);
        if (auto c = m.Get("count")) {
          s.all = false;
          s.count = c->AsInt(1, 8192);
          step.field_where["count"] = c->where();
        }
      } else {
        read_cpus(*v);
      }
    }
    if (step.name.empty()) {
      step.name =
          std::string(online ? "online " : "offline ") + (s.all         ? "all"
                                                          : s.count > 0 ? std::to_string(s.count)
                                                                        : s.cpus.ToString());
    }
    return s;
  }

  CheckStep Check(const std::optional<YamlValue>& v, Step& step) {
    CheckStep c;
    if (v && !v->IsNull()) {
      YamlMap m = v->AsMap({"only", "settle"});
      if (auto only = m.Get("only")) {
        std::vector<YamlValue> names;
        if (only->IsSequence())
          names = only->Items();
        else
          names.push_back(*only);
        const auto& known = InvariantNames();
        for (const auto& n : names) {
          std::string name = n.AsString();
          if (!known.empty() && std::find(known.begin(), known.end(), name) == known.end()) {
            std::string hint = NearestWord(name, known);
            n.Fail("unknown invariant '" + name + "'" +
                   (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                   "; invariants: " + Join(known));
          }
          c.only.push_back(name);
        }
        if (c.only.empty()) only->Fail("the list of invariants is empty");
      }
      if (auto settle = m.Get("settle")) c.settle = settle->AsBool();
    }
    if (step.name.empty()) step.name = c.only.empty() ? "check" : "check " + Join(c.only, ",");
    return c;
  }

  Step Inner(const YamlValue& v, const char* wrapper, std::initializer_list<StepKind> refused) {
    Step inner = Parse(v);
    if (std::find(refused.begin(), refused.end(), inner.kind) != refused.end()) {
      std::string why = inner.kind == StepKind::kCheck
                            ? " (a check does not fail with a QMP error: use expect_failure "
                              "with invariant)"
                            : "";
      throw ScenarioError(inner.where, v.path() + ": " + wrapper + " cannot wrap a " +
                                           StepKindName(inner.kind) + " step" + why);
    }
    return inner;
  }

  ExpectErrorStep ExpectError(const YamlValue& anchor, const std::optional<YamlValue>& v,
                              Step& step) {
    if (!v || !v->IsMap()) {
      anchor.Fail("expect_error needs a map: {class: GenericError, step: {...}}");
    }
    YamlMap m = v->AsMap({"class", "message", "step"});
    ExpectErrorStep e;
    YamlValue error_class = m.Require("class");
    e.error_class = error_class.AsString();
    if (HasControlCharacter(e.error_class)) {
      error_class.Fail("the class " + QuotedForMessage(e.error_class) +
                       " contains a control character");
    }
    if (auto msg = m.Get("message")) e.message = msg->AsString();
    e.step.push_back(Inner(m.Require("step"), "expect_error",
                           {StepKind::kCheck, StepKind::kExpectError, StepKind::kExpectFailure,
                            StepKind::kRepeat, StepKind::kSleep, StepKind::kWaitForConsole}));
    if (step.timeout == Clock::duration::zero()) step.timeout = e.step[0].timeout;
    if (step.name.empty()) step.name = "expect_error " + e.error_class + ": " + e.step[0].name;
    return e;
  }

  ExpectFailureStep ExpectFailure(const YamlValue& anchor, const std::optional<YamlValue>& v,
                                  Step& step) {
    if (!v || !v->IsMap()) {
      anchor.Fail(
          "expect_failure needs a map: {invariant: NAME, step: {check: ...}} or "
          "{error: migration, step: {migrate: ...}}");
    }
    YamlMap m = v->AsMap({"invariant", "invariants", "error", "message", "step"});
    ExpectFailureStep f;
    const auto& known = InvariantNames();
    auto add_invariant = [&](const YamlValue& n) {
      std::string name = n.AsString();
      if (!known.empty() && std::find(known.begin(), known.end(), name) == known.end()) {
        std::string hint = NearestWord(name, known);
        n.Fail("unknown invariant '" + name + "'" +
               (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
               "; invariants: " + Join(known));
      }
      f.invariants.push_back(name);
    };
    if (auto i = m.Get("invariant")) add_invariant(*i);
    if (auto list = m.Get("invariants")) {
      for (const auto& i : list->Items()) add_invariant(i);
    }
    if (auto e = m.Get("error")) {
      f.error = e->AsEnum({"check", "migration", "timeout", "qmp", "agent", "any"});
    }
    if (auto msg = m.Get("message")) f.message = msg->AsString();
    YamlValue inner_value = m.Require("step");
    f.step.push_back(Inner(
        inner_value, "expect_failure",
        {StepKind::kExpectError, StepKind::kExpectFailure, StepKind::kRepeat, StepKind::kSleep}));
    if (!f.invariants.empty() && f.step[0].kind != StepKind::kCheck) {
      inner_value.Fail("'invariant' names what a check must catch, so the step must be a check");
    }
    if (step.timeout == Clock::duration::zero()) {
      // A check that must fail settles only briefly: a lasting inconsistency
      // is the point, and waiting the full check deadline for it is waste.
      step.timeout =
          f.step[0].kind == StepKind::kCheck ? kExpectedFailureCheckTimeout : f.step[0].timeout;
    }
    if (step.name.empty()) {
      step.name = "expect_failure" +
                  (f.invariants.empty() ? std::string() : " " + Join(f.invariants, ",")) +
                  ": " + f.step[0].name;
    }
    return f;
  }

  MigrateStep Migrate(const std::optional<YamlValue>& v, Step& step) {
    MigrateStep s;
    if (v && !v->IsNull()) {
      YamlMap m = v->AsMap({"transport", "times", "max_bandwidth", "downtime_limit_ms", "postcopy",
                            "cancel_after_ms", "omit_cpu_devices", "timeout", "expect_status",
                            "probe_hotplug"});
      if (auto t = m.Get("transport")) {
        s.options.transport = t->AsEnum({"unix", "tcp"}) == "tcp"
                                  ? MigrationOptions::Transport::kTcp
                                  : MigrationOptions::Transport::kUnix;
      }
      if (auto t = m.Get("times")) s.times = t->AsInt(1, 1000);
      if (auto b = m.Get("max_bandwidth")) s.options.max_bandwidth = b->AsUint64();
      if (auto d = m.Get("downtime_limit_ms")) s.options.downtime_limit_ms = d->AsUint64();
      if (auto p = m.Get("postcopy")) s.options.postcopy = p->AsBool();
      if (auto c = m.Get("cancel_after_ms")) {
        s.options.cancel_after = std::chrono::milliseconds(c->AsInt(0, 3600 * 1000));
      }
      if (auto o = m.Get("omit_cpu_devices")) {
        for (const auto& id : o->Items()) s.options.omit_cpu_devices.push_back(DeviceId(id));
        step.field_where["omit_cpu_devices"] = o->where();
      }
      if (auto t = m.Get("timeout")) s.options.timeout = t->AsDuration();
      if (auto e = m.Get("expect_status")) s.expect_status = e->AsEnum({"completed", "cancelled"});
      if (auto p = m.Get("probe_hotplug")) {
        s.probe_hotplug = p->AsEnum({"record", "refused", "accepted"});
        s.options.probe_hotplug = true;
      }
    }
    if (step.name.empty()) {
      step.name = std::string("migrate ") +
                  (s.options.transport == MigrationOptions::Transport::kTcp ? "tcp" : "unix") +
                  (s.times > 1 ? " x" + std::to_string(s.times) : "") +
                  (s.options.postcopy ? " postcopy" : "") +
                  (s.options.cancel_after ? " cancel" : "");
    }
    return s;
  }

  GuestLoadStep GuestLoad(const std::optional<YamlValue>& v, Step& step) {
    GuestLoadStep g;
    if (v && !v->IsNull()) {
      if (v->IsScalar()) {
        g.stop = v->AsEnum({"start", "stop"}) == "stop";
      } else {
        YamlMap m = v->AsMap({"workers", "action"});
        if (auto a = m.Get("action")) g.stop = a->AsEnum({"start", "stop"}) == "stop";
        if (auto w = m.Get("workers")) {
          if (g.stop) w->Fail("workers only applies when starting the load");
          g.workers = w->AsInt(1, 1024);
        }
      }
    }
    if (step.name.empty()) {
      step.name = g.stop ? "guest_load stop"
                         : "guest_load start" +
                               (g.workers > 0 ? " " + std::to_string(g.workers) : std::string());
    }
    return g;
  }

  RepeatStep Repeat(const YamlValue& anchor, const std::optional<YamlValue>& v, Step& step) {
    if (!v || !v->IsMap()) anchor.Fail("repeat needs a map: {times: N, steps: [...]}");
    YamlMap m = v->AsMap({"times", "duration", "steps"});
    RepeatStep r;
    if (m.Has("times") && m.Has("duration")) {
      throw ScenarioError(m.KeyWhere("duration"), v->path() + ": give times or duration, not both");
    }
    if (auto t = m.Get("times"))
      r.times = t->AsInt(1, 100000);
    else if (auto d = m.Get("duration"))
      r.duration = d->AsDuration();
    else
      v->Fail("repeat needs times or duration");
    r.steps = ParseList(m.Require("steps"));
    if (step.name.empty()) {
      step.name =
          "repeat " + (r.times > 0 ? std::to_string(r.times) + "x" : FormatDuration(*r.duration));
    }
    if (step.timeout == Clock::duration::zero() && r.duration) {
      // The last iteration may start just before the duration ends.
      step.timeout = SaturatingAdd(*r.duration, BodyTimeout(r.steps));
    } else if (step.timeout == Clock::duration::zero()) {
      step.timeout = std::max<Clock::duration>(SaturatingMultiply(BodyTimeout(r.steps), r.times),
                                               DefaultStepTimeout(StepKind::kRepeat));
    }
    return r;
  }

  SleepStep Sleep(const YamlValue& anchor, const std::optional<YamlValue>& v, Step& step) {
    if (!v || v->IsNull()) anchor.Fail("sleep needs a duration, e.g. sleep: 2s");
    SleepStep s{v->AsDuration()};
    if (step.name.empty()) step.name = "sleep " + FormatDuration(s.duration);
    return s;
  }

  WaitForConsoleStep WaitForConsole(const YamlValue& anchor, const std::optional<YamlValue>& v,
                                    Step& step) {
    if (!v || !v->IsScalar() || v->IsNull()) {
      anchor.Fail("wait_for_console needs a pattern, e.g. wait_for_console: 'CPU [0-9]+ is now offline'");
    }
    std::string why;
    std::optional<LinePattern> pattern = LinePattern::Compile(v->AsString(), &why);
    if (!pattern) v->Fail(why);
    if (step.name.empty()) step.name = "wait_for_console " + QuotedForMessage(pattern->text());
    return {*pattern};
  }
};

int ParseMemoryMib(const YamlValue& v) {
  if (v.IsScalar() && !v.IsNull()) {
    std::string text = v.Scalar();
    size_t digits = text.find_first_not_of("0123456789");
    std::string unit = digits == std::string::npos ? "" : text.substr(digits);
    std::string number = text.substr(0, digits);
    if (!number.empty() && number.size() < 8) {
      long long n = std::stoll(number);
      long long mib = -1;
      if (unit.empty() || unit == "M" || unit == "MiB" || unit == "m")
        mib = n;
      else if (unit == "G" || unit == "GiB" || unit == "g")
        mib = n * 1024;
      if (mib >= 64 && mib <= 1024 * 1024) return static_cast<int>(mib);
      if (mib >= 0) v.Fail("memory must be between 64 MiB and 1 TiB, got " + text);
    }
  }
  v.Fail("expected memory in MiB (512) or with a unit (512M, 2G), got " + v.TypeName());
}

fs::path ResolvePath(const YamlValue& v, const fs::path& scenario_file) {
  fs::path p = v.AsString();
  if (p.is_relative()) p = scenario_file.parent_path() / p;
  return p.lexically_normal();
}

MachineConfig ParseMachine(const std::optional<YamlValue>& v, const fs::path& file) {
  MachineConfig c;
  c.spec.smp = {.cpus = 1, .maxcpus = 4};
  if (!v || v->IsNull()) return c;
  YamlMap m = v->AsMap({"backend", "type", "accel", "cpu", "smp", "memory", "kit", "disk", "kernel",
                        "initrd", "append", "qemu", "extra_args", "boot_timeout"});
  if (auto b = m.Get("backend")) {
    if (b->IsScalar() && b->Scalar() == "libvirt") {
      b->Fail("backend 'libvirt' is not implemented in this build (only 'qemu' is)");
    }
    c.backend = b->AsEnum({"qemu", "libvirt"});
  }
  if (auto t = m.Get("type")) c.spec.machine_type = t->AsString();
  if (auto a = m.Get("accel")) ParseAccel(a->AsEnum({"auto", "kvm", "tcg"}), &c.spec.accel);
  if (auto cpu = m.Get("cpu")) {
    c.spec.cpu_model = cpu->AsString();
    c.cpu_model_set = true;
  }
  if (auto smp = m.Get("smp")) {
    SmpTopology t;
    if (smp->IsScalar()) {
      t.cpus = smp->AsInt(1, 1024);
    } else {
      YamlMap s = smp->AsMap({"cpus", "maxcpus", "sockets", "dies", "cores", "threads"});
      if (auto x = s.Get("cpus")) t.cpus = x->AsInt(1, 1024);
      if (auto x = s.Get("maxcpus")) t.maxcpus = x->AsInt(1, 1024);
      if (auto x = s.Get("sockets")) t.sockets = x->AsInt(1, 1024);
      if (auto x = s.Get("dies")) t.dies = x->AsInt(1, 1024);
      if (auto x = s.Get("cores")) t.cores = x->AsInt(1, 1024);
      if (auto x = s.Get("threads")) t.threads = x->AsInt(1, 1024);
    }
    std::string problem;
    if (!ResolveTopology(t, &problem)) smp->Fail("impossible topology: " + problem);
    c.spec.smp = t;
  }
  if (auto mem = m.Get("memory")) c.spec.memory_mib = ParseMemoryMib(*mem);
  if (m.Has("kit") && m.Has("disk")) {
    throw ScenarioError(m.KeyWhere("disk"), v->path() + ": give kit or disk, not both");
  }
  if (auto k = m.Get("kit")) c.kit = ResolvePath(*k, file);
  if (auto d = m.Get("disk")) c.spec.disk = ResolvePath(*d, file);
  if (auto k = m.Get("kernel")) c.spec.kernel = ResolvePath(*k, file);
  if (auto i = m.Get("initrd")) {
    if (!m.Has("kernel")) i->Fail("initrd needs kernel");
    c.spec.initrd = ResolvePath(*i, file);
  }
  if (auto a = m.Get("append")) {
    if (!m.Has("kernel") && !m.Has("kit") && m.Has("disk")) a->Fail("append needs a kernel");
    c.spec.append = a->AsString();
  }
  if (auto q = m.Get("qemu")) c.spec.qemu_binary = q->AsString();
  if (auto e = m.Get("extra_args")) {
    for (const auto& a : e->Items()) c.spec.extra_args.push_back(a.AsString());
  }
  if (auto b = m.Get("boot_timeout")) c.boot_timeout = b->AsDuration();
  return c;
}

struct Axis {
  std::string name;
  std::vector<std::pair<std::string, YAML::Node>> values;  // label -> value
};

std::string Identifier(const YamlValue& key_holder, const std::string& name, const char* what) {
  if (name.empty() ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
          std::string::npos) {
    key_holder.Fail(std::string(what) + " name '" + name +
                    "' must be letters, digits and underscores");
  }
  return name;
}

// Scenario-level keys whose values are free-form maps (vars, matrix) are read
// from the raw nodes, with our own checks.
struct RawEntry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

std::vector<RawEntry> RawEntries(const YAML::Node& map) {
  std::vector<RawEntry> out;
  for (auto it = map.begin(); it != map.end(); ++it) {
    out.push_back({it->first.IsScalar() ? it->first.Scalar() : "", it->first, it->second});
  }
  return out;
}

// The most runs one file's matrix may expand to: more is surely a mistake
// (each run boots a VM), and the combinations are counted, not built, first.
constexpr size_t kMaxRuns = 1000;

// Remembers where each key of a raw map was first given, so that a second
// one is an error as YamlMap::AsMap makes it for typed maps.
class KeyLines {
 public:
  explicit KeyLines(std::string in) : in_(std::move(in)) {}
  void Add(const YamlValue& key, const std::string& name) {
    auto [it, fresh] = first_line_.emplace(name, key.where().line);
    if (!fresh) {
      throw ScenarioError(key.where(), "duplicate key '" + name + "' in " + in_ +
                                           " (first given on line " + std::to_string(it->second) +
                                           ")");
    }
  }

 private:
  std::string in_;
  std::map<std::string, int> first_line_;
};

std::string ScenarioName(const YamlMap& m, const fs::path& file, const std::string& shown) {
  if (auto n = m.Get("name")) {
    std::string name = n->AsString();
    if (std::string problem = DirectoryNameProblem(name); !problem.empty()) {
      n->Fail("scenario name " + QuotedForMessage(name) + " " + problem);
    }
    if (name.empty() ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_-.") != std::string::npos) {
      n->Fail("scenario name '" + name + "' must be letters, digits, '-', '_' and '.'");
    }
    return name;
  }
  std::string name = file.stem().string();
  std::string problem = name.empty() ? "is empty" : DirectoryNameProblem(name);
  if (!problem.empty()) {
    throw ScenarioError({shown, 1, 1},
                        "the scenario has no name: key, and the name its file name "
                        "gives, " +
                            QuotedForMessage(name) + ", " + problem + "; add a name: key");
  }
  return name;
}

}  // namespace

std::vector<ScenarioRun> LoadScenarioRuns(const fs::path& file) {
  std::string shown = file.lexically_normal().string();
  YAML::Node root = LoadYamlFile(file, shown);
  auto base_context = std::make_shared<YamlContext>();
  base_context->file = shown;
  YamlValue top(root, "", base_context);
  if (top.IsNull()) throw ScenarioError({shown, 1, 1}, "the file is empty");
  YamlMap m = top.AsMap({"name", "description", "vars", "matrix", "machine", "steps"});

  std::string name = ScenarioName(m, file, shown);
  std::string description;
  if (auto d = m.Get("description")) description = d->AsString();

  auto vars = std::make_shared<std::map<std::string, YAML::Node>>();
  if (auto v = m.Get("vars")) {
    if (!v->IsMap()) v->Fail("expected a map of name: value, got " + v->TypeName());
    KeyLines keys("vars");
    for (const auto& e : RawEntries(root["vars"])) {
      YamlValue key(e.key_node, "vars", base_context);
      keys.Add(key, e.key);
      (*vars)[Identifier(key, e.key, "variable")] = e.value;
    }
  }
  base_context->file_vars = vars;

  std::vector<Axis> axes;
  if (auto mx = m.Get("matrix")) {
    if (!mx->IsMap()) mx->Fail("expected a map of axis: [values], got " + mx->TypeName());
    KeyLines axis_keys("matrix");
    for (const auto& e : RawEntries(root["matrix"])) {
      YamlValue key(e.key_node, "matrix", base_context);
      axis_keys.Add(key, e.key);
      Axis axis{Identifier(key, e.key, "matrix axis"), {}};
      YamlValue values(e.value, "matrix." + e.key, base_context);
      std::set<std::string> seen;
      if (e.value.IsSequence()) {
        for (const auto& item : values.Items()) {
          if (!item.IsScalar() || item.IsNull()) {
            item.Fail(
                "a list axis takes plain values; to give maps, name them: "
                "{label: {..}, other: {..}}");
          }
          if (std::string problem = DirectoryNameProblem(item.Scalar()); !problem.empty()) {
            item.Fail("the value " + QuotedForMessage(item.Scalar()) + " labels the run and " +
                      problem + "; give it a label in a map axis: {label: value}");
          }
          axis.values.emplace_back(item.Scalar(), YAML::Node(item.Scalar()));
        }
        for (size_t i = 0; i < e.value.size(); ++i) {
          if (!seen.insert(axis.values[i].first).second) {
            YamlValue(e.value[i], values.path(), base_context)
                .Fail("value '" + axis.values[i].first + "' is listed twice");
          }
          axis.values[i].second.reset(e.value[i]);
        }
      } else if (e.value.IsMap()) {
        KeyLines labels(values.path());
        for (const auto& v : RawEntries(e.value)) {
          YamlValue label(v.key_node, values.path(), base_context);
          labels.Add(label, v.key);
          if (std::string problem = DirectoryNameProblem(v.key); !problem.empty()) {
            label.Fail("the label " + QuotedForMessage(v.key) + " " + problem);
          }
          axis.values.emplace_back(v.key, v.value);
        }
      } else {
        values.Fail("expected a list of values or a map of label: value, got " + values.TypeName());
      }
      if (axis.values.empty()) values.Fail("the axis has no values");
      axes.push_back(std::move(axis));
    }
  }

  std::optional<YamlValue> steps_value = m.Get("steps");
  if (!steps_value) top.Fail("missing required key 'steps'");

  // Counted before any combination is built: 9 axes of 10 values used to
  // build 10^9 of them (bad_alloc) before this check.
  size_t run_count = 1;
  for (const auto& axis : axes) {
    if (__builtin_mul_overflow(run_count, axis.values.size(), &run_count)) {
      throw ScenarioError(m.KeyWhere("matrix"), "the matrix expands to more than " +
                                                    std::to_string(SIZE_MAX) + " runs; at most " +
                                                    std::to_string(kMaxRuns));
    }
  }
  if (run_count > kMaxRuns) {
    throw ScenarioError(m.KeyWhere("matrix"), "the matrix expands to " + std::to_string(run_count) +
                                                  " runs; at most " + std::to_string(kMaxRuns));
  }

  // Every combination, first axis slowest.
  std::vector<std::vector<size_t>> combos = {{}};
  for (const auto& axis : axes) {
    std::vector<std::vector<size_t>> next;
    for (const auto& c : combos) {
      for (size_t i = 0; i < axis.values.size(); ++i) {
        auto n = c;
        n.push_back(i);
        next.push_back(std::move(n));
      }
    }
    combos = std::move(next);
  }

  DryRunBudget dry_run_budget;
  int file_steps = 0;
  std::vector<ScenarioRun> runs;
  for (const auto& combo : combos) {
    auto context = std::make_shared<YamlContext>(*base_context);
    ScenarioRun run;
    run.scenario = name;
    run.file = file;
    run.description = description;
    run.where = {shown, 1, 1};
    std::string label;
    for (size_t a = 0; a < axes.size(); ++a) {
      const auto& [value_label, value] = axes[a].values[combo[a]];
      // erase + emplace: assigning to a YAML::Node writes through to the document.
      context->vars.erase(axes[a].name);
      context->vars.emplace(axes[a].name, value);
      run.matrix.emplace_back(axes[a].name, value_label);
      label += (label.empty() ? "" : ",") + value_label;
    }
    run.label = axes.empty() ? name : name + "[" + label + "]";
    if (run.label.size() > kMaxDirNameBytes) {
      throw ScenarioError(m.KeyWhere("matrix"), "the run label " + QuotedForMessage(run.label) +
                                                    " is " + std::to_string(run.label.size()) +
                                                    " bytes long; at most " +
                                                    std::to_string(kMaxDirNameBytes) +
                                                    " (NAME_MAX: it names the run's artifacts "
                                                    "directory)");
    }
    try {
      // Re-read with this run's variables.
      YamlValue run_top(root, "", context);
      YamlMap rm = run_top.AsMap({"name", "description", "vars", "matrix", "machine", "steps"});
      run.machine = ParseMachine(rm.Get("machine"), file);
      run.machine.spec.name = run.DirName();
      StepParser parser(file_steps);
      run.steps = parser.ParseList(rm.Require("steps"));
      DryRun(run, dry_run_budget);
    } catch (const ScenarioError& e) {
      if (axes.empty()) throw;
      throw ScenarioError(e.where(), e.detail() + " [in run " + run.label + "]");
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

std::vector<fs::path> CollectScenarioFiles(const std::vector<std::string>& paths) {
  std::vector<fs::path> out;
  for (const auto& arg : paths) {
    fs::path p = arg;
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::directory_iterator(p, ec)) {
        auto ext = entry.path().extension();
        if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
          found.push_back(entry.path());
        }
      }
      if (found.empty()) throw ScenarioError({arg, 0, 0}, "no *.yaml scenarios in this directory");
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      out.push_back(p);
    } else {
      throw ScenarioError({arg, 0, 0}, "no such file or directory");
    }
  }
  return out;
}

bool MatchesFilter(const std::string& label, const std::string& filter) {
  if (filter.find_first_of("*?[") != std::string::npos) {
    return ::fnmatch(filter.c_str(), label.c_str(), 0) == 0;
  }
  return label.find(filter) != std::string::npos;
}

}  // namespace cpuhp
