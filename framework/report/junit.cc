#include "report/junit.h"

#include <cstdio>
#include <map>
#include <sstream>

#include "util/text.h"

namespace cpuhp {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// XML 1.0's Char production (ASCII controls are dropped before it is asked).
bool IsXmlChar(char32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s);
  return buf;
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      // Strictly: an overlong form, a surrogate or a truncated sequence would
      // make the whole report "not well-formed" to every XML parser.
      char32_t cp;
      size_t n = DecodeUtf8(text, i, &cp);
      if (n == 0) {
        out += kReplacement;
        ++i;
      } else {
        out.append(IsXmlChar(cp) ? text.substr(i, n) : std::string_view(kReplacement));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\t':
      case '\n':
      case '\r':
        out += static_cast<char>(c);
        break;
      default:
        if (c >= 0x20 && c != 0x7F) out += static_cast<char>(c);
    }
    ++i;
  }
  return out;
}

std::string JunitXml(const Invocation& inv) {
  // One suite per scenario file, in the order files were run.
  std::vector<std::string> files;
  std::map<std::string, std::vector<const RunResult*>> by_file;
  for (const auto& r : inv.runs) {
    std::string f = r.file.string();
    if (!by_file.count(f)) files.push_back(f);
    by_file[f].push_back(&r);
  }
  auto counts = [](const std::vector<const RunResult*>& runs, RunOutcome o) {
    int n = 0;
    for (const auto* r : runs) n += r->outcome == o ? 1 : 0;
    return n;
  };
  std::vector<const RunResult*> all;
  for (const auto& r : inv.runs) all.push_back(&r);
  auto skipped = [&](const std::vector<const RunResult*>& runs) {
    return counts(runs, RunOutcome::kSkipped) + counts(runs, RunOutcome::kCancelled) +
           counts(runs, RunOutcome::kKnownBug);
  };

  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x << "<testsuites name=\"cpuhp\" tests=\"" << all.size() << "\" failures=\""
    << counts(all, RunOutcome::kFailed) << "\" errors=\"" << counts(all, RunOutcome::kError)
    << "\" skipped=\"" << skipped(all) << "\" time=\"" << Seconds(ToSeconds(inv.duration))
    << "\" timestamp=\"" << XmlEscape(inv.started_utc) << "\">\n";
  int suite_id = 0;
  for (const auto& file : files) {
    const auto& runs = by_file[file];
    double time = 0;
    for (const auto* r : runs) time += ToSeconds(r->duration);
    x << "  <testsuite name=\"" << XmlEscape(file) << "\" id=\"" << suite_id++ << "\" tests=\""
      << runs.size() << "\" failures=\"" << counts(runs, RunOutcome::kFailed) << "\" errors=\""
      << counts(runs, RunOutcome::kError) << "\" skipped=\"" << skipped(runs) << "\" time=\""
      << Seconds(time) << "\" timestamp=\"" << XmlEscape(inv.started_utc) << "\" hostname=\""
      << XmlEscape(inv.hostname.empty() ? "localhost" : inv.hostname) << "\">\n";
    for (const auto* r : runs) {
      x << "    <testcase classname=\"" << XmlEscape(file) << "\" name=\"" << XmlEscape(r->label)
        << "\" time=\"" << Seconds(ToSeconds(r->duration)) << "\"";
      std::ostringstream out;
      out << "artifacts: " << r->artifacts_dir.string() << "\n";
      if (!r->accel.empty()) out << "accel: " << r->accel << " (" << r->accel_reason << ")\n";
      for (const auto& s : r->steps) {
        out << "step " << s.path << " " << s.name << ": " << s.outcome << " ("
            << Seconds(s.duration_s) << " s)\n";
      }
      x << ">\n";
      // The stack the run had: what a nightly's dashboard groups by.
      std::vector<std::pair<std::string, std::string>> props;
      for (const auto& [axis, name] : r->target) props.emplace_back("target." + axis, name);
      for (const auto& [key, value] : {std::pair{"qemu_version", r->qemu_version},
                                       {"guest_kernel", r->guest_kernel},
                                       {"accel", r->accel},
                                       {"machine_type", r->machine_type}}) {
        if (!value.empty()) props.emplace_back(key, value);
      }
      if (!props.empty()) {
        x << "      <properties>\n";
        for (const auto& [key, value] : props) {
          x << "        <property name=\"" << XmlEscape(key) << "\" value=\"" << XmlEscape(value)
            << "\"/>\n";
        }
        x << "      </properties>\n";
      }
      if (r->outcome == RunOutcome::kFailed || r->outcome == RunOutcome::kError) {
        const char* tag = r->outcome == RunOutcome::kFailed ? "failure" : "error";
        std::string type = "error";
        if (r->failure) {
          type = FailureKindName(r->failure->kind);
          if (!r->failure->invariants.empty()) {
            type.clear();
            for (const auto& i : r->failure->invariants) type += (type.empty() ? "" : ",") + i;
          }
        }
        std::string body = r->failure ? r->failure->message : "";
        if (r->failure && !r->failure->where.empty()) body = r->failure->where + ": " + body;
        if (!r->serial_tail.empty()) body += "\n\nserial log (last lines):\n" + r->serial_tail;
        body += "\nartifacts: " + r->artifacts_dir.string();
        x << "      <" << tag << " message=\"" << XmlEscape(r->FailureLine()) << "\" type=\""
          << XmlEscape(type) << "\">" << XmlEscape(body) << "</" << tag << ">\n";
      } else if (r->outcome == RunOutcome::kSkipped || r->outcome == RunOutcome::kCancelled) {
        x << "      <skipped message=\""
          << XmlEscape(r->outcome == RunOutcome::kSkipped
                           ? "not run: an earlier run failed (use --keep-going)"
                           : "interrupted")
          << "\"/>\n";
      } else if (r->outcome == RunOutcome::kKnownBug) {
        // As pytest reports an xfail: skipped, with why; the failure itself
        // is in the body, the way a dashboard shows it.
        std::string body = r->failure ? r->failure->message : "";
        body += "\nartifacts: " + r->artifacts_dir.string();
        x << "      <skipped message=\"" << XmlEscape(r->known_bug) << "\">" << XmlEscape(body)
          << "</skipped>\n";
      }
      x << "      <system-out>" << XmlEscape(out.str()) << "</system-out>\n";
      x << "    </testcase>\n";
    }
    x << "  </testsuite>\n";
  }
  x << "</testsuites>\n";
  return x.str();
}

}  // namespace cpuhp
