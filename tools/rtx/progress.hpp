// SPDX-License-Identifier: Apache-2.0
// The build progress display. On a terminal it is one live line, rewritten in place with a
// carriage return ("[I] Building: compiling 3/6 images, 48 kernels, 2 cache hits"); in a log or a
// pipe it prints plain lines, one per stage and one per finished image, so logs stay readable.
// The builder calls it from worker threads, so updates are serialized by a mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>

namespace rtx::cli {

/// One update, mirroring rtx::BuildProgress (kept separate so this file needs no builder).
struct ProgressEvent {
  std::string stage;      ///< "passes", "planning", "compiling", "writing", "done"
  int64_t completed = 0;  ///< compiling: images done
  int64_t total = 0;      ///< compiling: images to build
  int64_t kernels = 0;    ///< kernels per image
  int64_t cache_hits = 0;
  std::string message;  ///< e.g. "sm_90 compiled in 3.1 s"
};

class ProgressDisplay {
 public:
  /// `live`: rewrite one line (a terminal); else print plain lines.
  ProgressDisplay(std::ostream& out, bool live, bool verbose)
      : out_(out), live_(live), verbose_(verbose) {}
  ~ProgressDisplay() { finish(); }
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  void update(const ProgressEvent& e);
  /// Ends the live line (idempotent).
  void finish();

 private:
  std::string line_for(const ProgressEvent& e) const;
  std::ostream& out_;
  bool live_;
  bool verbose_;
  std::mutex mutex_;
  std::string stage_;
  int64_t last_completed_ = -1;
  size_t shown_ = 0;  // length of the live line on screen
  bool open_ = false;
  std::chrono::steady_clock::time_point stage_start_ = std::chrono::steady_clock::now();
};

}  // namespace rtx::cli
