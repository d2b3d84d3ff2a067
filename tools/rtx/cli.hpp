// SPDX-License-Identifier: Apache-2.0
// The `rtx` program as a function: parse the command line, then inspect, or import/build/refit,
// then run on the GPU or on the reference evaluator, and report. main() only forwards argv and
// the real streams; tests call run_cli with string streams and check the text and exit code.
#pragma once

#include <ostream>
#include <span>
#include <string>

namespace rtx::cli {

/// What the program needs to know about where it runs.
struct Environment {
  bool terminal = false;  ///< stdout is a terminal: the build progress is one live line
};

/// Runs `rtx` with `args` (argv without the program name). Progress and reports go to `out`,
/// errors ("[E] rtx.cli.001: ...") to `err`. Returns the exit code (options.hpp: kExit*).
int run_cli(std::span<const std::string> args, std::ostream& out, std::ostream& err,
            const Environment& env = {});

}  // namespace rtx::cli
