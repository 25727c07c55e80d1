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

// Text made safe for XML 1.0 content and attributes: escapes markup, drops
// ASCII control characters XML forbids, and decodes UTF-8 strictly: each
// byte that does not start a well-formed sequence (overlong, surrogate,
// above U+10FFFF, truncated), and each code point outside XML's Char
// (U+FFFE, U+FFFF), becomes U+FFFD.
std::string XmlEscape(std::string_view text);

}  // namespace cpuhp
