// One invariant's findings and notes as they are collected, for the
// invariants of RunChecks (invariants.cc) and of check/lifecycle.h.
#pragma once

#include <string>
#include <vector>

#include "check/checker.h"

namespace cpuhp {

// Collects one invariant's findings and notes.
class Outcome {
 public:
  void Fail(Finding f) { findings_.push_back(std::move(f)); }
  void Note(const std::string& note) {
    if (!note_.empty()) note_ += "; ";
    note_ += note;
  }
  InvariantResult Finish(std::string name) && {
    InvariantResult r;
    r.name = std::move(name);
    r.verdict = findings_.empty() ? Verdict::kPass : Verdict::kFail;
    for (const auto& f : findings_) {
      if (!r.detail.empty()) r.detail += "; ";
      r.detail += f.Text();
    }
    r.findings = std::move(findings_);
    r.note = std::move(note_);
    return r;
  }

 private:
  std::vector<Finding> findings_;
  std::string note_;
};

}  // namespace cpuhp
