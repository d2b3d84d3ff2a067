#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Compiles one compile-fail test source with the C++ compiler Meson uses (-fsyntax-only: no code
# is generated, so each check takes about a second).
#   --mode ok: the source as written must compile cleanly; exit 0 if it does, 1 if not.
#   --mode ko: the source with -DRTX_MISUSE must fail *for the intended reason*. Exit 1 only if
#              compilation failed AND an error line carries the expected text (the static_assert
#              or #error message); exit 0 otherwise. Meson registers ko tests with should_fail, so
#              a misuse that compiles, or fails for some other reason, makes the test fail.
# Usage: check.py --mode ok|ko [--expect TEXT] --source FILE -- COMPILER [ARGS...]
import argparse
import os
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["ok", "ko"], required=True)
    parser.add_argument("--expect", default="")
    parser.add_argument("--source", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = [c for c in args.command if c != "--"]
    # A compiler launcher (ccache) adds nothing to a syntax-only check.
    if command and os.path.basename(command[0]) in ("ccache", "sccache"):
        command = command[1:]
    command = command + ([] if args.mode == "ok" else ["-DRTX_MISUSE"]) + [args.source]
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout
    print("$ " + " ".join(command))
    print(output)
    if args.mode == "ok":
        if proc.returncode == 0:
            print("ok: the correct variant compiles")
            return 0
        print("FAIL: the correct variant does not compile")
        return 1
    if proc.returncode == 0:
        print("FAIL (reported as exit 0): the misuse compiled; the front end does not reject it")
        return 0
    matching = [line for line in output.splitlines() if "error" in line and args.expect in line]
    if matching:
        print("ok: rejected for the intended reason: " + matching[0].strip())
        return 1
    print("FAIL (reported as exit 0): the misuse failed to compile, but no error says: "
          + args.expect)
    return 0


if __name__ == "__main__":
    sys.exit(main())
