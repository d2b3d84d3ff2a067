// SPDX-License-Identifier: Apache-2.0
// Entry point of the `rtx` command-line tool: forwards argv to rtx::cli::run_cli (cli.hpp) with
// the real streams. Whether stdout is a terminal decides how build progress is shown.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "tools/rtx/cli.hpp"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  rtx::cli::Environment env;
  env.terminal = isatty(STDOUT_FILENO) == 1;
  const int code = rtx::cli::run_cli(args, std::cout, std::cerr, env);
  std::cout.flush();
  return code;
}
