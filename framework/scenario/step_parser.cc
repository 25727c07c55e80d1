#include "scenario/step_parser.h"

#include <algorithm>

#include "check/checker.h"
#include "scenario/duration.h"
#include "scenario/topology.h"
#include "scenario/yaml_value.h"
#include "util/text.h"

namespace cpuhp {
namespace {

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

// A cpulist value ("1-3,5") that must name at least one CPU: `expected` is
// the error when it is not a cpulist, `empty` when it names none.
CpuSet NonEmptyCpuList(const YamlValue& v, std::string_view key, const std::string& expected,
                       const std::string& empty = "the cpulist is empty") {
  CpuSet cpus;
  try {
    cpus = CpuSet::Parse(v.AsString(), key);
  } catch (const CpuListError&) {
    v.Fail(expected);
  }
  if (cpus.Empty()) v.Fail(empty);
  return cpus;
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
      case StepKind::kCgroup:
        step.params = Cgroup(anchor, params, step);
        break;
      case StepKind::kSmt:
        step.params = Smt(anchor, params, step);
        break;
      case StepKind::kReboot:
        step.params = Reboot(params, step);
        break;
      case StepKind::kFailAt:
        step.params = FailAt(anchor, params, step);
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
      YamlMap m = v->AsMap(StepKindInfoOf(StepKind::kHotplug).keys);
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
      YamlMap m = v->AsMap(StepKindInfoOf(StepKind::kUnplug).keys);
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
        s.cpus = NonEmptyCpuList(
            c, "cpus", "expected all, a cpulist such as \"1-3,5\" or a list of CPU numbers, got " + c.TypeName());
      }
    };
    if (v && !v->IsNull()) {
      if (v->IsMap()) {
        YamlMap m = v->AsMap(StepKindInfoOf(step.kind).keys);
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
      YamlMap m = v->AsMap(StepKindInfoOf(StepKind::kCheck).keys);
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
      if (auto deep = m.Get("deep")) {
        std::vector<YamlValue> words = deep->IsSequence() ? deep->Items() : std::vector<YamlValue>{*deep};
        std::vector<std::string> known(std::begin(kDeepProbeNames), std::end(kDeepProbeNames));
        for (const auto& w : words) {
          std::string word = w.AsString();
          if (std::find(known.begin(), known.end(), word) == known.end()) {
            w.Fail("unknown probe '" + word + "'; probes: " + Join(known));
          }
          c.deep.push_back(word);
        }
        if (c.deep.empty()) deep->Fail("the list of probes is empty");
      }
      if (auto online = m.Get("expect_online")) {
        c.expect_online = NonEmptyCpuList(*online, "expect_online", "expected a cpulist such as \"0-3\"",
                                          "the cpulist is empty (CPU 0 is always online)");
      }
    }
    if (step.name.empty()) step.name = c.only.empty() ? "check" : "check " + Join(c.only, ",");
    return c;
  }

  // The step a wrapper holds; `may_wrap` says, from the kind's table row,
  // whether this wrapper takes it.
  Step Inner(const YamlValue& v, const char* wrapper, bool StepKindInfo::*may_wrap) {
    Step inner = Parse(v);
    if (!(StepKindInfoOf(inner.kind).*may_wrap)) {
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
    YamlMap m = v->AsMap(StepKindInfoOf(StepKind::kExpectError).keys);
    ExpectErrorStep e;
    YamlValue error_class = m.Require("class");
    e.error_class = error_class.AsString();
    if (HasControlCharacter(e.error_class)) {
      error_class.Fail("the class " + QuotedForMessage(e.error_class) +
                       " contains a control character");
    }
    if (auto msg = m.Get("message")) e.message = msg->AsString();
    e.step.push_back(Inner(m.Require("step"), "expect_error", &StepKindInfo::sends_command));
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
    YamlMap m = v->AsMap(StepKindInfoOf(StepKind::kExpectFailure).keys);
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
      f.error = e->AsEnum({"check", "migration", "timeout", "qmp", "agent", "any", "libvirt"});
    }
    if (auto msg = m.Get("message")) f.message = msg->AsString();
    YamlValue inner_value = m.Require("step");
    f.step.push_back(Inner(inner_value, "expect_failure", &StepKindInfo::can_fail));
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
      YamlMap m = v->AsMap(StepKindInfoOf(StepKind::kMigrate).keys);
      if (auto t = m.Get("transport")) {
        s.options.transport = t->AsEnum({"unix", "tcp"}) == "tcp"
                                  ? MigrationOptions::Transport::kTcp
                                  : MigrationOptions::Transport::kUnix;
      }
      if (auto t = m.Get("times")) s.times = t->AsInt(1, 1000);
      if (auto b = m.Get("max_bandwidth")) s.options.max_bandwidth = b->AsUint64();
      if (auto d = m.Get("downtime_limit_ms")) s.options.downtime_limit_ms = d->AsUint64();
      if (auto p = m.Get("postcopy")) s.options.postcopy = p->AsBool();
      if (auto r = m.Get("return_path")) {
        s.options.return_path = r->AsBool();
        if (!s.options.return_path && s.options.postcopy) {
          r->Fail("postcopy needs the return path (the destination asks the source for pages over it)");
        }
      }
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
        YamlMap m = v->AsMap(StepKindInfoOf(StepKind::kGuestLoad).keys);
        if (auto a = m.Get("action")) g.stop = a->AsEnum({"start", "stop"}) == "stop";
        if (auto w = m.Get("workers")) {
          if (g.stop) w->Fail("workers only applies when starting the load");
          g.workers = w->AsInt(1, 1024);
        }
        if (auto pin = m.Get("pin")) {
          if (g.stop) pin->Fail("pin only applies when starting the load");
          if (!pin->IsSequence()) pin->Fail("pin needs a list of cpulists, one per worker: [\"3\", \"1-2\"]");
          for (const auto& p : pin->Items()) {
            g.pin.push_back(NonEmptyCpuList(p, "pin", "expected a cpulist such as \"3\" or \"1-2\""));
          }
          if (g.pin.empty()) pin->Fail("the list of pins is empty");
          if (g.workers == 0) g.workers = static_cast<int>(g.pin.size());
          if (static_cast<int>(g.pin.size()) > g.workers) {
            pin->Fail("more pins (" + std::to_string(g.pin.size()) + ") than workers (" +
                      std::to_string(g.workers) + ")");
          }
        }
        if (auto on = m.Get("lands_on")) {
          if (g.stop) on->Fail("lands_on only applies when starting the load");
          g.lands_on = NonEmptyCpuList(*on, "lands_on", "expected a cpulist such as \"3\" or \"1-2\"");
          if (g.workers != 0 && g.workers <= static_cast<int>(g.pin.size())) {
            on->Fail("every worker is pinned: lands_on needs an unpinned one (raise workers)");
          }
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
    YamlMap m = v->AsMap(StepKindInfoOf(StepKind::kRepeat).keys);
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

  CgroupStep Cgroup(const YamlValue& anchor, const std::optional<YamlValue>& v, Step& step) {
    if (!v || !v->IsMap()) anchor.Fail("cgroup needs a map: {name: NAME, cpus: \"1-3\"}");
    YamlMap m = v->AsMap(StepKindInfoOf(StepKind::kCgroup).keys);
    CgroupStep c;
    auto name = m.Get("name");
    if (!name) anchor.Fail("cgroup needs a name");
    c.name = name->AsString();
    // It goes into a guest path and a shell command: a plain word only.
    bool plain = !c.name.empty() && c.name.size() <= kMaxCgroupNameBytes;
    for (char ch : c.name) {
      plain = plain && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '-' || ch == '_');
    }
    if (!plain) {
      name->Fail("a cgroup name is 1-" + std::to_string(kMaxCgroupNameBytes) +
                 " letters, digits, '-' or '_'");
    }
    auto cpus = m.Get("cpus");
    if (!cpus) anchor.Fail("cgroup needs cpus (a cpulist)");
    c.cpus = NonEmptyCpuList(*cpus, "cpus", "expected a cpulist such as \"1-3\"");
    if (step.name.empty()) step.name = "cgroup " + c.name + " cpus " + c.cpus.ToString();
    return c;
  }

  SmtStep Smt(const YamlValue& anchor, const std::optional<YamlValue>& v, Step& step) {
    if (!v || !v->IsScalar() || v->IsNull()) anchor.Fail("smt needs on or off");
    SmtStep s{v->AsEnum({"on", "off"})};
    if (step.name.empty()) step.name = "smt " + s.control;
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

  RebootStep Reboot(const std::optional<YamlValue>& v, Step& step) {
    RebootStep r;
    if (v && !v->IsNull()) {
      YamlMap m = v->AsMap(StepKindInfoOf(StepKind::kReboot).keys);
      if (auto via = m.Get("via")) {
        r.via = via->AsEnum({"guest", "system_reset"}) == "guest" ? RebootVia::kGuest
                                                                   : RebootVia::kSystemReset;
      }
    }
    if (step.name.empty()) {
      step.name = r.via == RebootVia::kGuest ? "reboot (guest)" : "reboot (system_reset)";
    }
    return r;
  }

  FailAtStep FailAt(const YamlValue& anchor, const std::optional<YamlValue>& v, Step& step) {
    if (!v || !v->IsMap()) {
      anchor.Fail("fail_at needs a map: {cpu: N, state: NAME} (a state from hotplug/states)");
    }
    YamlMap m = v->AsMap(StepKindInfoOf(StepKind::kFailAt).keys);
    FailAtStep f;
    YamlValue cpu = m.Require("cpu");
    f.cpu = cpu.AsInt(0, 8191);  // as online/offline's cpus
    step.field_where["cpu"] = cpu.where();
    YamlValue state = m.Require("state");
    f.state = state.AsString();
    if (f.state.empty() || HasControlCharacter(f.state)) {
      state.Fail("state must name an entry of hotplug/states (\"sched:active\") or give its number");
    }
    step.field_where["state"] = state.where();
    if (auto a = m.Get("action")) f.online = a->AsEnum({"online", "offline"}) == "online";
    if (step.name.empty()) {
      step.name = "fail_at cpu" + std::to_string(f.cpu) + " " + f.state +
                  (f.online ? (*f.online ? " online" : " offline") : "");
    }
    return f;
  }
};

}  // namespace

std::vector<Step> ParseSteps(const YamlValue& list, int& file_steps) {
  return StepParser(file_steps).ParseList(list);
}

}  // namespace cpuhp
