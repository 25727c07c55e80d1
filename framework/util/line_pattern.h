// A pattern that a line of guest output is searched for: what a
// wait_for_console step waits on.
//
// POSIX extended regular expressions (grep -E), compiled by the C library.
// The guest writes the text, so matching must stay cheap whatever it prints:
// glibc matches EREs without back-references in time polynomial in the
// line, where std::regex backtracks (exponential time and a recursion as
// deep as the line for patterns like (a*)*b). So back-references are
// refused, patterns and repeat counts are bounded, and the lines themselves
// are cut short by whoever keeps them (SerialLogPump::kMaxLineBytes).
//
//   std::string why;
//   std::optional<LinePattern> p = LinePattern::Compile("CPU [0-9]+ is now offline", &why);
//   if (!p) throw ...(why);
//   p->Matches(line);
#pragma once

#include <regex.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cpuhp {

// Copies share the compiled form, which regexec only reads: steps are copied
// when a matrix expands, and runs match on threads of their own.
class LinePattern {
 public:
  static constexpr size_t kMaxPatternBytes = 256;
  // The most a {n,m} may ask for: each count copies the expression that much.
  static constexpr int kMaxRepeat = 255;

  // The compiled pattern; nullopt with *why (one phrase) when it is not one.
  static std::optional<LinePattern> Compile(std::string_view pattern, std::string* why);

  // True when some part of `line` matches (as grep -E finds it, not a whole-line match).
  bool Matches(std::string_view line) const;
  const std::string& text() const { return text_; }

 private:
  LinePattern(std::string text, std::shared_ptr<const regex_t> re)
      : text_(std::move(text)), re_(std::move(re)) {}

  std::string text_;
  std::shared_ptr<const regex_t> re_;
};

}  // namespace cpuhp
