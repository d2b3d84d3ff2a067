#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The GPU run in one script, for the lent GPU machine (which has the driver and the CUDA toolkit
# but not our Debian build dependencies):
#   scripts/gpu_suite.sh pack   here: build the gpu suite, the CLI and the benchmarks (release,
#                               in build-gpu; RTX_GPU_BUILD=build reuses an existing build folder
#                               instead of a third build on a 2-core machine), strip them and
#                               stage them with the shared libraries they need into .carry/gpu
#                               (git-ignored; carried by the device tool)
#   scripts/gpu_suite.sh bundle here: pack, then build the GPU suite's engines on this machine
#                               (no GPU: rtx_make_test_engines into .carry/test-engines) and put
#                               everything in one compressed file, .carry-bundle/bundle.tgz
#                               (git-ignored; carry .carry-bundle: under the device tool's 64 MiB)
#   scripts/gpu_suite.sh run    there (unpacks the bundle first when it is there): run every gpu test, then the benchmarks; logs go to
#                               $OUT (or ./gpu-logs) as three files that grow as the run goes
#                               (tests.log, bench.log, summary.txt: the device tool returns at
#                               most 8 files); a short summary is printed last.
#                               RTX_GPU_BUDGET=S stops starting new work S seconds after the
#                               start (what is left is listed as not run), RTX_GPU_ONLY="a b"
#                               runs only those tests (in that order) and benchmarks, RTX_GPU_SKIP_BENCH=1 none.
# Tests find source-tree data through RTX_SOURCE_ROOT, set here to the repository root.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
stage="$root/.carry/gpu"
mode=${1:-}

pack() {
  export CCACHE_NOHASHDIR=true
  local build="$root/${RTX_GPU_BUILD:-build-gpu}"
  [ -f "$build/build.ninja" ] || meson setup "$build" -Dbuildtype=release -Db_ndebug=if-release >/dev/null
  local tests
  # "name executable args...": arguments naming files of the source tree become @ROOT@/...; an
  # ONNX node-test root (--root LABEL=DIR) is staged under .carry/gpu/node/LABEL, with only the
  # test folders of the family the test asks for (the GPU machine has no such data).
  rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/lib"
  tests=$(meson introspect "$build" --tests | python3 -c '
import json, os, shutil, sys
root, stage = sys.argv[1], sys.argv[2]
ops = {"quantization": ("quantizelinear",)}
for t in json.load(sys.stdin):
    if not ("gpu" in t["suite"] or any(s.endswith(":gpu") for s in t["suite"])):
        continue
    cmd = t["cmd"]
    args = cmd[1:]
    family = args[args.index("--family") + 1] if "--family" in args else None
    out = []
    for i, a in enumerate(args):
        if i > 0 and args[i - 1] == "--root" and "=" in a:
            label, src = a.split("=", 1)
            dst = os.path.join(stage, "node", label)
            os.makedirs(dst, exist_ok=True)
            if os.path.isdir(src):
                for d in os.listdir(src):
                    if any(k in d.lower() for k in ops.get(family, ("",))):
                        shutil.copytree(os.path.join(src, d), os.path.join(dst, d), dirs_exist_ok=True)
            a = label + "=@ROOT@/.carry/gpu/node/" + label
        elif a.startswith(root + "/"):
            a = "@ROOT@/" + a[len(root) + 1:]
        out.append(a)
    print(t["name"], cmd[0], *out)' "$root" "$stage")
  local benches
  benches=$(meson introspect "$build" --targets | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    # compile_time measures NVRTC on the build machine and needs no GPU: not run there.
    if t["type"] == "executable" and t["name"] != "compile_time" and (
            t["defined_in"].endswith("bench/meson.build") or t["name"] == "rtx"):
        print(t["name"], t["filename"][0])')
  local targets
  targets=$(printf '%s\n%s\n' "$tests" "$benches" | awk 'NF {print $2}' | grep "^$build/" | sed "s|^$build/||")
  # shellcheck disable=SC2086
  # Keep going past a target that fails to build: the others still get staged and run.
  ninja -C "$build" -j2 -k 0 $targets 2>&1 | grep -E '^FAILED|error:' | head -20
  : > "$stage/tests.txt"
  while read -r name path args; do
    [ -n "$name" ] || continue
    case "$path" in
      *.sh|*.py) cp "$path" "$stage/bin/"; echo "$name $(basename "$path") $args" >> "$stage/tests.txt";;
      *) [ -f "$path" ] || { echo "not built: $name"; continue; }
         cp "$path" "$stage/bin/" && strip "$stage/bin/$(basename "$path")"; echo "$name $(basename "$path") $args" >> "$stage/tests.txt";;
    esac
  done <<< "$tests"
  : > "$stage/benches.txt"
  while read -r name path; do
    [ -n "$name" ] || continue
    [ -f "$path" ] || { echo "not built: $name"; continue; }
    cp "$path" "$stage/bin/" && strip "$stage/bin/$(basename "$path")"
    [ "$name" = rtx ] || echo "$(basename "$path")" >> "$stage/benches.txt"
  done <<< "$benches"
  [ -f "$build/librtx.so" ] && cp -L "$build/librtx.so" "$stage/lib/librtx.so" && strip "$stage/lib/librtx.so"
  for lib in $(ldd "$stage"/bin/* "$stage"/lib/* 2>/dev/null | awk '/=> \// {print $3}' | sort -u); do
    case "$lib" in
      */libprotobuf*|*/libonnx*|*/libabsl*) cp -L "$lib" "$stage/lib/";;
    esac
  done
  du -sh "$stage"
}

bundle() {
  pack
  local build="$root/${RTX_GPU_BUILD:-build-gpu}"
  ninja -C "$build" tests/gpu/rtx_make_test_engines >/dev/null || return 1
  rm -rf "$root/.carry/test-engines"
  "$build/tests/gpu/rtx_make_test_engines" "$root/.carry/test-engines" || return 1
  mkdir -p "$root/.carry-bundle"
  local parts=(gpu test-engines)
  [ -d "$root/.carry/rtx-cache" ] && parts+=(rtx-cache)
  tar czf "$root/.carry-bundle/bundle.tgz" -C "$root/.carry" "${parts[@]}"
  du -sh "$root/.carry-bundle/bundle.tgz"
}

run() {
  if [ -f "$root/.carry-bundle/bundle.tgz" ]; then
    mkdir -p "$root/.carry" && tar xzf "$root/.carry-bundle/bundle.tgz" -C "$root/.carry" || return 1
  fi
  # Engines built on the machine without a GPU: the runtime tests run these very files.
  if [ -z "${RTX_TEST_ENGINES:-}" ] && [ -d "$root/.carry/test-engines" ]; then
    export RTX_TEST_ENGINES="$root/.carry/test-engines"
    echo "engines built without a GPU: $RTX_TEST_ENGINES"
  fi
  local logs=${OUT:-$root/gpu-logs}
  mkdir -p "$logs"
  : > "$logs/tests.log"; : > "$logs/bench.log"
  export LD_LIBRARY_PATH="$stage/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  export RTX_SOURCE_ROOT="$root" RTX_CACHE_DIR="${RTX_CACHE_DIR:-/tmp/rtx-cache}"
  local gpu
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n1)
  echo "$gpu"
  local t0 budget=${RTX_GPU_BUDGET:-100000}
  t0=$(date +%s)
  local pass=0 fail=0 skip=0 summary=""
  # Seconds left before the budget runs out (the per-item timeout is capped by it).
  left() { echo $(( budget - ($(date +%s) - t0) )); }
  wanted() { [ -z "${RTX_GPU_ONLY:-}" ] || [[ " $RTX_GPU_ONLY " == *" $1 "* ]]; }
  while read -r name exe rest; do
    [ -n "$name" ] || continue
    wanted "$name" || continue
    local limit
    limit=$(left)
    if [ "$limit" -lt 20 ]; then summary+="  NOT RUN $name (budget spent)\n"; continue; fi
    [ "$limit" -gt 300 ] && limit=300
    local start rc
    start=$(date +%s.%N)
    local args=()
    # Script tests drive the staged CLI; others get their own arguments (no spaces in them).
    # shellcheck disable=SC2206
    case "$exe" in *.sh) args=("$stage/bin/rtx" "$root");; *) [ -n "$rest" ] && args=(${rest//@ROOT@/$root});; esac
    (cd "$root" && timeout "$limit" "$stage/bin/$exe" "${args[@]}") > "/tmp/test_$name.log" 2>&1
    rc=$?
    local secs
    secs=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
    { echo "===== $name (exit $rc, ${secs}s)"; cat "/tmp/test_$name.log"; } >> "$logs/tests.log"
    case $rc in
      0) pass=$((pass + 1)); summary+="  PASS $name (${secs}s)\n";;
      77) skip=$((skip + 1)); summary+="  SKIP $name: $(grep -m1 SKIP "/tmp/test_$name.log")\n";;
      *) fail=$((fail + 1)); summary+="  FAIL $name (exit $rc, ${secs}s): $(grep -m3 -E 'ERROR|FAILED|error' "/tmp/test_$name.log" | tr '\n' ' ' | cut -c1-300)\n";;
    esac
    printf "%b" "$summary" > "$logs/summary.txt"
  done < <(if [ -n "${RTX_GPU_ONLY:-}" ]; then  # in the order RTX_GPU_ONLY names them
              for want in $RTX_GPU_ONLY; do grep "^$want " "$stage/tests.txt"; done
            else cat "$stage/tests.txt"; fi)
  if [ "${RTX_GPU_SKIP_BENCH:-0}" != 1 ]; then
    while read -r bench; do
      [ -n "$bench" ] || continue
      wanted "$bench" || continue
      local limit
      limit=$(left)
      if [ "$limit" -lt 20 ]; then summary+="  NOT RUN $bench (budget spent)\n"; continue; fi
      [ "$limit" -gt 240 ] && limit=240
      (cd "$root" && timeout "$limit" "$stage/bin/$bench") > "/tmp/bench_$bench.log" 2>&1
      local rc=$?
      { echo "===== $bench (exit $rc)"; cat "/tmp/bench_$bench.log"; } >> "$logs/bench.log"
      echo "== $bench (exit $rc)"; tail -n 25 "/tmp/bench_$bench.log"
      summary+="  BENCH $bench (exit $rc)\n"
      printf "%b" "$summary" > "$logs/summary.txt"
    done < "$stage/benches.txt"
  fi
  printf "\nGPU suite on %s:\n%b" "$gpu" "$summary" | tee "$logs/summary.txt"
  echo "$pass passed, $fail failed, $skip skipped" | tee -a "$logs/summary.txt"
  [ $fail -eq 0 ]
}

case "$mode" in
  pack) pack;;
  bundle) bundle;;
  run) run;;
  *) echo "usage: $0 pack|bundle|run" >&2; exit 2;;
esac
