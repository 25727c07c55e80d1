// Text on its way into messages, reports and onto terminals: lists joined
// for a message, strict UTF-8 decoding of guest-controlled text (shared by
// the JSON framing and the JUnit writer) and a one-line, control-free form
// for terminals.
//
//   throw Error("unknown invariant (known: " + Join(InvariantNames()) + ")");
//   std::fputs(TerminalSafe(result.FailureLine()).c_str(), stderr);
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cpuhp {

// The items (strings or C strings) with `sep` between them: "a, b, c"; ""
// for none.
template <typename Items>
std::string Join(const Items& items, std::string_view sep = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

// The length (1-4) of the well-formed UTF-8 sequence at s[i], with its code
// point in *cp; 0 for anything else: a stray continuation byte, a truncated
// sequence, an overlong form, a surrogate (U+D800-U+DFFF) or a value above
// U+10FFFF. Requires i < s.size().
size_t DecodeUtf8(std::string_view s, size_t i, char32_t* cp);

// Text that cannot move a terminal's cursor, change its colours or set its
// title, and stays on one line: newline, CR and tab as \n, \r, \t, other C0
// controls, DEL, C1 controls (U+0080-U+009F) and bytes that are not
// well-formed UTF-8 as visible \xHH. Valid printable UTF-8 stays as it is,
// backslashes too: this is for reading, not for parsing back.
std::string TerminalSafe(std::string_view text);

// True if `text` has a C0 control character or DEL: such names would reach
// terminals, progress lines and JUnit.
bool HasControlCharacter(std::string_view text);

}  // namespace cpuhp
