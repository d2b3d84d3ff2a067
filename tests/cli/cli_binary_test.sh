#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The real `rtx` executable (argv, streams and exit codes, which the in-process tests cannot see):
# --help and --version succeed, a wrong command line exits 2 with the error id on stderr and
# nothing on stdout, inspect of a missing file exits 1, and a reference run of a bundled model
# prints the trtexec-style RUNNING/PASSED lines. Args: <rtx binary> <source dir>
set -uo pipefail
rtx=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {  # description, expected exit code, actual exit code
  if [ "$2" != "$3" ]; then
    echo "FAIL: $1: exit $3, expected $2"
    fail=1
  else
    echo "ok: $1"
  fi
}
contains() {  # description, file, text
  if grep -qF -- "$3" "$2"; then echo "ok: $1"; else echo "FAIL: $1: '$3' not in $2:"; cat "$2"; fail=1; fi
}

"$rtx" --help >"$tmp/help" 2>&1; check "--help" 0 $?
contains "--help lists --loadEngine" "$tmp/help" "--loadEngine"
"$rtx" --version >"$tmp/version" 2>&1; check "--version" 0 $?
contains "--version" "$tmp/version" "rtx 0."

"$rtx" --onnx=m.onnx --iterations=zero >"$tmp/out" 2>"$tmp/err"; check "malformed value" 2 $?
contains "malformed value names the flag" "$tmp/err" "rtx.cli.003: --iterations: 'zero' is not an integer"
[ -s "$tmp/out" ] && { echo "FAIL: a usage error wrote to stdout"; fail=1; }
"$rtx" --fp16 >"$tmp/out" 2>"$tmp/err"; check "refused trtexec flag" 2 $?
contains "refused flag explains" "$tmp/err" "strongly typed"
"$rtx" inspect "$tmp/missing.rtxe" >"$tmp/out" 2>"$tmp/err"; check "inspect of a missing file" 1 $?
contains "inspect error id" "$tmp/err" "rtx.cli.401"

model="$src/tests/models/resnet_tiny/model.onnx"
if [ -f "$model" ]; then
  "$rtx" --onnx="$model" --backend=reference --shapes=image:1x3x32x32 --saveOutputs="$tmp/out_dir" >"$tmp/ref" 2>&1
  check "reference run of resnet_tiny" 0 $?
  contains "RUNNING line" "$tmp/ref" "&&&& RUNNING rtx # rtx --onnx="
  contains "PASSED line" "$tmp/ref" "&&&& PASSED rtx # rtx --onnx="
  [ -n "$(ls "$tmp/out_dir"/*.npy 2>/dev/null)" ] || { echo "FAIL: no .npy written"; fail=1; }
fi
exit $fail
