// A set of CPU numbers in the kernel's cpulist syntax ("0-3,5,7-8").
#pragma once

#include <initializer_list>
#include <set>
#include <string>
#include <string_view>

#include "util/error.h"

namespace cpuhp {

// Bad cpulist text; the message names the source (a sysfs file) and the text.
class CpuListError : public Error {
 public:
  using Error::Error;
};

class CpuSet {
 public:
  CpuSet() = default;
  CpuSet(std::initializer_list<int> cpus) : cpus_(cpus) {}

  // Parses cpulist syntax; surrounding whitespace and an empty list are fine.
  // Throws CpuListError naming `source` (e.g. the sysfs path) on bad syntax.
  static CpuSet Parse(std::string_view text, std::string_view source = "cpulist");
  static CpuSet Range(int first, int last);  // [first, last]

  // Canonical cpulist text: "0-3,5"; "" when empty.
  std::string ToString() const;

  void Insert(int cpu) { cpus_.insert(cpu); }
  void Erase(int cpu) { cpus_.erase(cpu); }
  bool Contains(int cpu) const { return cpus_.count(cpu) != 0; }
  size_t Size() const { return cpus_.size(); }
  bool Empty() const { return cpus_.empty(); }
  bool IsSubsetOf(const CpuSet& other) const;
  CpuSet Minus(const CpuSet& other) const;
  CpuSet Union(const CpuSet& other) const;
  CpuSet Intersect(const CpuSet& other) const;

  auto begin() const { return cpus_.begin(); }
  auto end() const { return cpus_.end(); }
  bool operator==(const CpuSet&) const = default;

 private:
  std::set<int> cpus_;
};

}  // namespace cpuhp
