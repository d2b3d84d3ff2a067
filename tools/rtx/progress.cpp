// SPDX-License-Identifier: Apache-2.0
// Build progress display (see progress.hpp).
#include "tools/rtx/progress.hpp"

#include <cstdio>

namespace rtx::cli {

std::string ProgressDisplay::line_for(const ProgressEvent& e) const {
  std::string s = "[I] Building: " + e.stage;
  if (e.stage == "compiling" && e.total > 0) {
    s += " " + std::to_string(e.completed) + "/" + std::to_string(e.total) + " images";
    if (e.kernels > 0) s += ", " + std::to_string(e.kernels) + " kernels each";
    s += ", " + std::to_string(e.cache_hits) + " cache hit" + (e.cache_hits == 1 ? "" : "s");
  }
  if (!e.message.empty()) s += " (" + e.message + ")";
  return s;
}

void ProgressDisplay::update(const ProgressEvent& e) {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  const bool new_stage = e.stage != stage_;
  if (new_stage && !stage_.empty() && verbose_) {
    const double s = std::chrono::duration<double>(now - stage_start_).count();
    char b[96];
    std::snprintf(b, sizeof(b), "[I] Building: %s took %.2f s", stage_.c_str(), s);
    if (live_ && open_) {
      out_ << "\r" << std::string(shown_, ' ') << "\r";
      open_ = false;
      shown_ = 0;
    }
    out_ << b << "\n";
  }
  if (new_stage) stage_start_ = now;
  const std::string line = line_for(e);
  if (live_) {
    // Pad with spaces over the previous, longer text instead of relying on ANSI escapes.
    out_ << "\r" << line;
    if (line.size() < shown_) out_ << std::string(shown_ - line.size(), ' ') << "\r" << line;
    shown_ = line.size();
    open_ = true;
    out_.flush();
    if (e.stage == "done") {
      out_ << "\n";
      open_ = false;
      shown_ = 0;
    }
  } else if (new_stage || e.completed != last_completed_) {
    out_ << line << "\n";
    out_.flush();
  }
  stage_ = e.stage;
  last_completed_ = e.completed;
}

void ProgressDisplay::finish() {
  std::lock_guard lock(mutex_);
  if (live_ && open_) {
    out_ << "\n";
    out_.flush();
    open_ = false;
    shown_ = 0;
  }
}

}  // namespace rtx::cli
