// JUnit XML as Jenkins (junit plugin) and GitLab (artifacts:reports:junit)
// read it: <testsuites>, one <testsuite> per scenario file, one <testcase>
// per run (classname = the scenario file, name = the run label, time in
// seconds). A failed run carries <failure message type> with the failing
// invariants (type) and the failure message, the serial log tail in its
// text; a run that could not be carried out carries <error>; skipped and
// cancelled runs <skipped>. <system-out> names the run's artifacts.
// framework/tests/data/junit.xsd is the schema the tests validate against.
#pragma once

#include <string>

#include "report/invocation.h"

namespace cpuhp {

std::string JunitXml(const Invocation& invocation);

// Text made safe for XML 1.0 content and attributes: escapes markup,
// drops control characters XML forbids, replaces invalid UTF-8 with '?'.
std::string XmlEscape(std::string_view text);

}  // namespace cpuhp
