#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# GPU tests of the `rtx` tool on the bundled models (tests/models): build + run + benchmark +
# --check, every timing switch (CUDA graph, spin wait, data transfers) with --exportTimes,
# --exportOutput and --saveOutputs, a dynamic-shape BERT with a profile and ONNX TensorProto
# inputs, weight streaming at several budgets, the PTX path with a runtime cache, --useGpu,
# a weightless engine run in the same command, and a bad --device. Exits 77 (skipped, with the
# reason) when there is no usable GPU. Args: <rtx binary> <source dir>
set -uo pipefail
rtx=$1
src=$2
models="$src/tests/models"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# rtx itself decides whether this machine can run engines: it checks for a GPU before anything else.
"$rtx" --loadEngine="$tmp/none.rtxe" >"$tmp/probe.out" 2>"$tmp/probe.err"
if grep -q "rtx.cli.301" "$tmp/probe.err"; then
  echo "SKIP: $(grep -o 'no usable GPU.*' "$tmp/probe.err" | head -c 300)"
  exit 77
fi

fail=0
n=0
run() {  # name, expected exit code, rtx args...
  local name=$1 want=$2
  shift 2
  n=$((n + 1))
  "$rtx" "$@" >"$tmp/$n.out" 2>"$tmp/$n.err"
  local rc=$?
  last="$tmp/$n"
  if [ "$rc" != "$want" ]; then
    echo "FAIL: $name: exit $rc, expected $want"
    echo "--- rtx $*"; cat "$tmp/$n.out" "$tmp/$n.err"
    fail=1
    return 1
  fi
  echo "ok: $name"
}
expect() {  # description, text that must be in the last run's stdout+stderr
  if cat "$last.out" "$last.err" | grep -qF -- "$2"; then
    echo "ok:   $1"
  else
    echo "FAIL: $1: '$2' not in the output of the last run:"
    cat "$last.out" "$last.err"
    fail=1
  fi
}

resnet="$models/resnet_tiny/model.onnx"
bert="$models/bert_tiny/model.onnx"

# 1. Build for every default target, run, benchmark, check (the defaults: graph, spin, no copies).
run "resnet: build + benchmark + check" 0 --onnx="$resnet" --shapes=image:4x3x32x32 --check \
  --iterations=50 --duration=0 --warmUp=100 --saveEngine="$tmp/resnet.rtxe"
expect "throughput reported" "[I] Throughput: "
expect "GPU compute time reported" "[I] GPU Compute Time: min = "
expect "CUDA graph on by default" "CUDA graph: on"
expect "check passed" "[I] Check passed: 1 output(s)"
expect "PASSED line" "&&&& PASSED rtx"

# 2. The engine file with the TensorRT 11 switches and every export.
run "resnet: loadEngine, no graph, no spin, transfers, exports" 0 --loadEngine="$tmp/resnet.rtxe" --check \
  --noCudaGraph --noSpinWait --includeDataTransfers --iterations=30 --duration=0 --warmUp=0 \
  --percentile=50,99 --exportTimes="$tmp/times.json" --exportOutput="$tmp/out.json" --saveOutputs="$tmp/out"
expect "graph off" "CUDA graph: off"
expect "transfers timed" "data transfers: timed"
expect "asked percentiles" "percentile(50%) = "
expect "check passed" "Check passed"
python3 - "$tmp/times.json" "$tmp/out.json" "$tmp/out/logits.npy" <<'PY' || fail=1
import json, sys, struct
times = json.load(open(sys.argv[1]))
assert len(times) >= 30, f"{len(times)} timed inferences"
assert all(t["h2dMs"] > 0 and t["d2hMs"] > 0 and t["computeMs"] > 0 for t in times), "copies not timed"
assert all(abs(t["latencyMs"] - (t["h2dMs"] + t["computeMs"] + t["d2hMs"])) < 1e-6 for t in times)
out = json.load(open(sys.argv[2]))
assert out[0]["name"] == "logits" and out[0]["dimensions"] == "4x10" and len(out[0]["values"]) == 40
npy = open(sys.argv[3], "rb").read()
assert npy[:6] == b"\x93NUMPY"
print("ok:   exportTimes / exportOutput / saveOutputs files")
PY

# 2b. Per-step profile: the table and trtexec's JSON, one entry per step, times over 20 runs.
run "resnet: dumpProfile + exportProfile" 0 --loadEngine="$tmp/resnet.rtxe" --iterations=20 \
  --duration=0 --warmUp=0 --dumpProfile --exportProfile="$tmp/profile.json"
expect "profile table" "=== Profile (20 iterations) ==="
expect "profile total row" "Total"
expect "profile written" "runs written to"
python3 - "$tmp/profile.json" <<'PY' || fail=1
import json, sys
prof = json.load(open(sys.argv[1]))
assert prof[0] == {"count": 20}, prof[0]
steps = prof[1:]
assert len(steps) >= 10, f"{len(steps)} steps"
assert all(s["timeMs"] >= 0 and s["medianMs"] >= 0 for s in steps)
assert any("[kernel conv]" in s["name"] for s in steps), [s["name"] for s in steps]
assert abs(sum(s["percentage"] for s in steps) - 100.0) < 1e-3
assert sum(s["timeMs"] for s in steps) > 0
print("ok:   exportProfile JSON:", len(steps), "steps")
PY

# 3. Dynamic shapes: a profile, ONNX TensorProto inputs from the test data set, --check.
prof_min="input_ids:1x1,attention_mask:1x1,token_type_ids:1x1"
prof_opt="input_ids:2x16,attention_mask:2x16,token_type_ids:2x16"
prof_max="input_ids:8x128,attention_mask:8x128,token_type_ids:8x128"
data="$models/bert_tiny/test_data_set_0"
run "bert: dynamic profile, .pb inputs, check" 0 --onnx="$bert" --useGpu --minShapes="$prof_min" --optShapes="$prof_opt" \
  --maxShapes="$prof_max" --saveEngine="$tmp/bert.rtxe" --check --iterations=20 --duration=0 --warmUp=50 \
  --loadInputs="input_ids:$data/input_0.pb,attention_mask:$data/input_1.pb,token_type_ids:$data/input_2.pb"
expect "check passed for both outputs" "[I] Check passed: 2 output(s)"
run "bert: another shape from the same engine" 0 --loadEngine="$tmp/bert.rtxe" --shapes=input_ids:3x40 --check \
  --iterations=10 --duration=0 --warmUp=0
expect "shared dim names give every input 3x40" "[I] Input 'token_type_ids': i64 3x40"
expect "check passed" "Check passed"

# 4. Weight streaming at several budgets gives results within the check's bound.
run "bert: build for weight streaming" 0 --onnx="$bert" --useGpu --shapes=input_ids:2x16 --allowWeightStreaming \
  --saveEngine="$tmp/bert_ws.rtxe" --skipInference
for budget in 100% 50% 0 -1 64K; do
  run "bert: weight streaming budget $budget" 0 --loadEngine="$tmp/bert_ws.rtxe" --weightStreamingBudget="$budget" \
    --check --iterations=10 --duration=0 --warmUp=0
  expect "budget applied" "[I] Weight streaming: budget "
  expect "check passed" "Check passed"
done

# 5. An engine without a cubin for this GPU (sm_80 + PTX on a 9.0 GPU) runs through the PTX path;
#    the runtime cache keeps the driver's compilation for the next run.
run "resnet: PTX path, runtime cache written" 0 --onnx="$resnet" --shapes=image:1x3x32x32 --computeCapabilities=80 \
  --runtimeCacheFile="$tmp/runtime.cache" --check --iterations=10 --duration=0 --warmUp=0 --saveEngine="$tmp/r80.rtxe"
expect "suboptimal noted" "suboptimal"
expect "cache written" "written to $tmp/runtime.cache"
run "resnet: PTX path, runtime cache read" 0 --loadEngine="$tmp/r80.rtxe" --runtimeCacheFile="$tmp/runtime.cache" \
  --check --iterations=10 --duration=0 --warmUp=0
expect "cache read" "compiled image(s) from $tmp/runtime.cache"

# 6. This GPU only; a weightless engine built and run in one command; a duration-bound run;
#    --backend=auto picks the GPU.
run "resnet: --useGpu" 0 --onnx="$resnet" --shapes=image:2x3x32x32 --useGpu --check --iterations=10 --duration=0
run "resnet: stripped engine runs with the model's weights" 0 --onnx="$resnet" --useGpu --shapes=image:2x3x32x32 \
  --stripWeights --saveEngine="$tmp/stripped.rtxe" --check --iterations=10 --duration=0
expect "refit note" "refit into it"
run "resnet: refit the stripped engine from ONNX and run it" 0 --loadEngine="$tmp/stripped.rtxe" \
  --refitFromOnnx="$resnet" --check --iterations=10 --duration=0
run "resnet: --backend=auto on a GPU machine" 0 --loadEngine="$tmp/resnet.rtxe" --backend=auto --check \
  --iterations=10 --duration=0
expect "auto ran on the GPU" "[I] Throughput: "
run "resnet: --duration=1" 0 --loadEngine="$tmp/resnet.rtxe" --duration=1 --iterations=1 --warmUp=0
python3 - "$last.out" <<'PY' || fail=1
import re, sys
wall = float(re.search(r"Total Host Walltime: ([0-9.e+-]+) s", open(sys.argv[1]).read()).group(1))
assert wall >= 1.0, f"walltime {wall} s < --duration=1"
print("ok:   --duration=1 ran at least one second")
PY

# 7. Errors.
run "bad --device" 1 --loadEngine="$tmp/resnet.rtxe" --device=99
expect "device error" "--device=99 but this machine has"
exit $fail
