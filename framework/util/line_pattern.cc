#include "util/line_pattern.h"

#include <cctype>
#include <charconv>

namespace cpuhp {

namespace {

// Why `pattern` asks for more than matching may cost, or "" when it does not:
// a back-reference (\1..\9, which makes glibc backtrack) or a repeat count
// over kMaxRepeat.
std::string Unbounded(std::string_view pattern) {
  bool in_bracket = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (in_bracket) {
      if (c == '[' && i + 1 < pattern.size() && (pattern[i + 1] == ':' || pattern[i + 1] == '.' ||
                                                 pattern[i + 1] == '=')) {
        // [:digit:], [.x.], [=e=]: their ']' does not end the bracket.
        const size_t close = pattern.find(std::string{pattern[i + 1], ']'}, i + 2);
        if (close != std::string_view::npos) i = close + 1;
        continue;
      }
      if (c == ']' && pattern[i - 1] != '[' && !(i >= 2 && pattern.substr(i - 2, 2) == "[^")) {
        in_bracket = false;
      }
      continue;
    }
    if (c == '[') {
      in_bracket = true;
    } else if (c == '\\' && i + 1 < pattern.size()) {
      if (std::isdigit(static_cast<unsigned char>(pattern[i + 1]))) {
        return "back-references (\\" + std::string(1, pattern[i + 1]) + ") are not supported";
      }
      ++i;
    } else if (c == '{') {
      for (size_t j = i + 1; j < pattern.size() && pattern[j] != '}'; ++j) {
        if (!std::isdigit(static_cast<unsigned char>(pattern[j]))) continue;
        size_t end = j;
        while (end < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[end]))) ++end;
        int count = 0;
        auto [ptr, ec] = std::from_chars(pattern.data() + j, pattern.data() + end, count);
        if (ec != std::errc() || count > LinePattern::kMaxRepeat) {
          return "a repeat count over " + std::to_string(LinePattern::kMaxRepeat) + " (" +
                 std::string(pattern.substr(j, end - j)) + ")";
        }
        j = end - 1;
      }
    }
  }
  return "";
}

}  // namespace

std::optional<LinePattern> LinePattern::Compile(std::string_view pattern, std::string* why) {
  if (pattern.empty()) {
    *why = "an empty pattern";
    return std::nullopt;
  }
  if (pattern.size() > kMaxPatternBytes) {
    *why = "a pattern of " + std::to_string(pattern.size()) + " bytes (at most " +
           std::to_string(kMaxPatternBytes) + ")";
    return std::nullopt;
  }
  if (pattern.find('\0') != std::string_view::npos) {
    *why = "a pattern with a NUL byte";
    return std::nullopt;
  }
  if (std::string unbounded = Unbounded(pattern); !unbounded.empty()) {
    *why = unbounded;
    return std::nullopt;
  }
  std::string text(pattern);
  auto compiling = std::make_unique<regex_t>();
  if (int rc = ::regcomp(compiling.get(), text.c_str(), REG_EXTENDED | REG_NOSUB); rc != 0) {
    // A regcomp that failed holds nothing to regfree.
    char message[256];
    ::regerror(rc, compiling.get(), message, sizeof message);
    *why = std::string("not a POSIX extended regular expression: ") + message;
    return std::nullopt;
  }
  std::shared_ptr<const regex_t> re(compiling.release(), [](const regex_t* r) {
    ::regfree(const_cast<regex_t*>(r));
    delete r;
  });
  return LinePattern(std::move(text), std::move(re));
}

bool LinePattern::Matches(std::string_view line) const {
  // REG_STARTEND: the line need not be NUL-terminated, and a NUL the guest
  // printed does not end it early.
  regmatch_t range[1];
  range[0].rm_so = 0;
  range[0].rm_eo = static_cast<regoff_t>(line.size());
  return ::regexec(re_.get(), line.data(), 1, range, REG_STARTEND) == 0;
}

}  // namespace cpuhp
