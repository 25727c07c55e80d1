#include "guest/cpuset.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include "util/text.h"

namespace cpuhp {
namespace {

// A CPU number larger than any kernel's NR_CPUS: guards against "0-4000000000".
constexpr int kMaxCpuNumber = 1 << 20;
// The kernel prints each CPU once, so honest ranges add up to at most every
// possible number; repeated full ranges ("0-1048576," x 400: 4 KB of guest
// text) would otherwise cost a set insert per CPU per range.
constexpr int64_t kMaxListedCpus = int64_t{kMaxCpuNumber} + 1;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Guest text quoted in an error: enough to recognise it, never all of it,
// and never a control character.
constexpr size_t kMaxQuotedChars = 120;

std::string Quoted(std::string_view s) {
  if (s.size() <= kMaxQuotedChars) return TerminalSafe(s);
  return TerminalSafe(s.substr(0, kMaxQuotedChars)) + "... (" + std::to_string(s.size()) +
         " bytes)";
}

}  // namespace

CpuSet CpuSet::Parse(std::string_view text, std::string_view source) {
  CpuSet out;
  std::string_view rest = Trim(text);
  auto fail = [&](const std::string& why) -> CpuListError {
    return CpuListError(std::string(source) + ": bad cpulist \"" + Quoted(Trim(text)) +
                        "\": " + why);
  };
  auto number = [&](std::string_view s) {
    int v = -1;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || v < 0 ||
        v > kMaxCpuNumber) {
      throw fail("\"" + Quoted(s) + "\" is not a CPU number");
    }
    return v;
  };
  int64_t listed = 0;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (item.empty()) throw fail("empty item");
    if (comma != std::string_view::npos && rest.empty()) throw fail("trailing comma");
    size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      out.Insert(number(item));
      continue;
    }
    int first = number(item.substr(0, dash));
    int last = number(item.substr(dash + 1));
    if (last < first) throw fail("range " + std::string(item) + " runs backwards");
    listed += int64_t{last} - first + 1;
    if (listed > kMaxListedCpus) {
      throw fail("its ranges list more than " + std::to_string(kMaxListedCpus) +
                 " CPUs (each CPU appears once in a kernel cpulist)");
    }
    for (int c = first; c <= last; ++c) out.Insert(c);
  }
  return out;
}

CpuSet CpuSet::Range(int first, int last) {
  CpuSet out;
  for (int c = first; c <= last; ++c) out.Insert(c);
  return out;
}

std::string CpuSet::ToString() const {
  std::string out;
  auto it = cpus_.begin();
  while (it != cpus_.end()) {
    int first = *it, last = *it;
    for (++it; it != cpus_.end() && *it == last + 1; ++it) last = *it;
    if (!out.empty()) out += ',';
    out += std::to_string(first);
    if (last != first) out += "-" + std::to_string(last);
  }
  return out;
}

bool CpuSet::IsSubsetOf(const CpuSet& other) const {
  return std::includes(other.cpus_.begin(), other.cpus_.end(), cpus_.begin(), cpus_.end());
}

CpuSet CpuSet::Minus(const CpuSet& other) const {
  CpuSet out;
  for (int c : cpus_) if (!other.Contains(c)) out.Insert(c);
  return out;
}

CpuSet CpuSet::Union(const CpuSet& other) const {
  CpuSet out = *this;
  for (int c : other.cpus_) out.Insert(c);
  return out;
}

CpuSet CpuSet::Intersect(const CpuSet& other) const {
  CpuSet out;
  for (int c : cpus_) if (other.Contains(c)) out.Insert(c);
  return out;
}

}  // namespace cpuhp
