#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""rtx side by side with PyTorch, on the GPU machine.

For BERT-base (sequence 128), ResNet-50, ViT-B/16 and an MLP, all with random weights built from
their configs (nothing is downloaded), in fp32 and fp16, at batch 1 and 32:

  1. export the model to ONNX (torch.onnx.export, opset 17);
  2. build an engine with `rtx` for this GPU (one static-shape engine per batch, or one engine
     with a profile over the batches with --dynamic) and benchmark it with `rtx`
     (--exportTimes: the median of the per-inference GPU compute times; CUDA graph, spin wait and
     no data transfers: rtx's defaults);
  3. in the same run, time PyTorch eager, eager replayed as a CUDA graph, and
     torch.compile(mode="reduce-overhead"), each with CUDA events around every inference
     (inputs already on the GPU, so the numbers compare with rtx's GPU compute time);
  4. compare rtx's outputs (--saveOutputs) with PyTorch eager's on the same inputs.

It prints one table of medians (ms) and the ratio rtx / best PyTorch (below 1: rtx is faster),
plus the GPU, the library versions and the date. A step that fails marks its cell FAILED and the
reason is listed under the table: the script never stops at the first problem.

  python3 bench/pytorch_compare.py --rtx build/tools/rtx
  python3 bench/pytorch_compare.py --models mlp,resnet50 --batches 1 --precisions fp16 --markdown out.md

Needs: torch (with CUDA), torchvision, transformers, onnx, numpy; a built `rtx` (and its shared
libraries: point LD_LIBRARY_PATH at them when the build came from another machine).
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time
import traceback

import numpy as np

MODELS = ["bert-base", "resnet50", "vit-b16", "mlp"]


# ---- models --------------------------------------------------------------------------------------

class BertWrapper:
    """BERT-base (hidden 768, 12 layers, 12 heads) from BertConfig(): returns last_hidden_state."""

    @staticmethod
    def make(torch, attention="eager"):
        """attention="eager" exports to plain MatMul/Softmax (rtx fuses it back); "sdpa" is
        what PyTorch users run (fused attention kernels), so PyTorch is timed with it."""
        from transformers import BertConfig, BertModel

        class Bert(torch.nn.Module):
            def __init__(self):
                super().__init__()
                config = BertConfig(attn_implementation=attention) if _accepts_attn_impl() else BertConfig()
                self.bert = BertModel(config, add_pooling_layer=False)

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids).last_hidden_state

        return Bert()


def _accepts_attn_impl():
    try:
        from transformers import BertConfig
        BertConfig(attn_implementation="eager")
        return True
    except Exception:
        return False


def make_model(torch, name):
    """The module and a function giving its example inputs (name -> tensor) for a batch."""
    if name == "bert-base":
        model = BertWrapper.make(torch)
        seq = 128

        def inputs(batch, dtype, device):
            g = torch.Generator().manual_seed(batch)
            ids = torch.randint(0, 30522, (batch, seq), generator=g)
            return {"input_ids": ids.to(device),
                    "attention_mask": torch.ones(batch, seq, dtype=torch.int64, device=device),
                    "token_type_ids": torch.zeros(batch, seq, dtype=torch.int64, device=device)}
        return model, inputs
    if name in ("resnet50", "vit-b16"):
        import torchvision
        model = torchvision.models.resnet50(weights=None) if name == "resnet50" else torchvision.models.vit_b_16(weights=None)
        if name == "vit-b16":
            # torchvision zero-initializes the classifier head: every output would be 0 and the
            # output comparison meaningless.
            torch.nn.init.normal_(model.heads.head.weight, std=0.02)
            torch.nn.init.normal_(model.heads.head.bias, std=0.02)

        def inputs(batch, dtype, device):
            g = torch.Generator().manual_seed(batch)
            return {"image": torch.randn(batch, 3, 224, 224, generator=g).to(device=device, dtype=dtype)}
        return model, inputs
    if name == "mlp":
        model = torch.nn.Sequential(torch.nn.Linear(1024, 4096), torch.nn.GELU(), torch.nn.Linear(4096, 4096),
                                    torch.nn.GELU(), torch.nn.Linear(4096, 1024))

        def inputs(batch, dtype, device):
            g = torch.Generator().manual_seed(batch)
            return {"x": torch.randn(batch, 1024, generator=g).to(device=device, dtype=dtype)}
        return model, inputs
    raise ValueError(f"unknown model {name}")


# ---- timing ----------------------------------------------------------------------------------------

def time_cuda(torch, fn, warmup, iters):
    """Median milliseconds of `fn` between CUDA events, one pair per call."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    for i in range(iters):
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    return statistics.median(s.elapsed_time(e) for s, e in zip(starts, ends))


def cuda_graph_fn(torch, fn):
    """`fn` captured once as a CUDA graph; the returned function replays it."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def rel_l2(got, want):
    got = np.asarray(got, dtype=np.float64).ravel()
    want = np.asarray(want, dtype=np.float64).ravel()
    if got.shape != want.shape:
        return float("inf")
    if not np.all(np.isfinite(got)):
        return float("inf")
    den = np.linalg.norm(want)
    return float(np.linalg.norm(got - want) / (den if den > 0 else 1.0))


# ---- rtx -------------------------------------------------------------------------------------------

class RtxError(Exception):
    pass


def run_rtx(rtx, args, log_path, timeout):
    """Runs rtx; raises RtxError with the first error line (or the tail) when it fails."""
    start = time.time()
    try:
        proc = subprocess.run([rtx] + args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RtxError(f"timed out after {timeout} s")
    except OSError as e:
        raise RtxError(f"cannot run {rtx}: {e}")
    with open(log_path, "w") as f:
        f.write("$ " + " ".join([rtx] + args) + "\n" + proc.stdout + proc.stderr)
    if proc.returncode != 0:
        errors = [line for line in (proc.stderr + proc.stdout).splitlines() if line.startswith("[E]")]
        reason = errors[0][4:] if errors else (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]
        raise RtxError(reason[:300])
    return proc.stdout, time.time() - start


def shape_flag(inputs, names=None):
    return ",".join(f"{n}:{'x'.join(str(d) for d in t.shape)}" for n, t in inputs.items() if names is None or n in names)


# ---- the benchmark --------------------------------------------------------------------------------

def export_onnx(torch, model, inputs, path, dynamic):
    names = list(inputs)
    kwargs = dict(input_names=names, output_names=["output"], opset_version=17, do_constant_folding=True)
    if dynamic:
        kwargs["dynamic_axes"] = {n: {0: "batch"} for n in names + ["output"]}
    args = tuple(inputs.values())
    try:
        torch.onnx.export(model, args, path, dynamo=False, **kwargs)
    except TypeError:  # torch without the dynamo switch: the TorchScript exporter is the default
        torch.onnx.export(model, args, path, **kwargs)


def bench_model(torch, opts, name, precision, results, notes):
    dtype = torch.float16 if precision == "fp16" else torch.float32
    device = "cuda"
    work = os.path.join(opts.workdir, f"{name}-{precision}")
    os.makedirs(work, exist_ok=True)
    model, make_inputs = make_model(torch, name)
    model = model.eval().to(device=device, dtype=dtype)
    rows = {b: {"model": name, "precision": precision, "batch": b} for b in opts.batches}

    def fail(batch, column, reason):
        key = f"{name} {precision} b{batch} {column}"
        notes.append(f"{key}: {reason}")
        rows[batch][column] = None

    # 1. ONNX export (one static file per batch, or one dynamic file). Not under inference_mode:
    # with autograd on, nn.MultiheadAttention (ViT) takes its exportable path instead of the
    # fused _native_multi_head_attention, which the ONNX exporter does not know.
    onnx_paths = {}
    for b in opts.batches:
        path = os.path.join(work, "model.onnx" if opts.dynamic else f"model_b{b}.onnx")
        if opts.dynamic and onnx_paths:
            onnx_paths[b] = path
            continue
        try:
            if not (opts.reuse and os.path.exists(path)):
                export_onnx(torch, model, make_inputs(b, dtype, device), path, opts.dynamic)
            onnx_paths[b] = path
        except Exception as e:
            for bb in opts.batches:
                fail(bb, "rtx", f"ONNX export failed: {type(e).__name__}: {str(e)[:200]}")
            onnx_paths = {}
            break

    # 2. rtx: build and benchmark.
    engines = {}
    if onnx_paths:
        if opts.dynamic:
            lo, hi = min(opts.batches), max(opts.batches)
            prof = lambda bb: shape_flag(make_inputs(bb, dtype, "cpu"))  # noqa: E731
            engine = os.path.join(work, "model.rtxe")
            try:
                _, secs = run_rtx(opts.rtx, [f"--onnx={onnx_paths[lo]}", f"--minShapes={prof(lo)}", f"--optShapes={prof(hi)}",
                                             f"--maxShapes={prof(hi)}", "--useGpu", f"--saveEngine={engine}", "--skipInference"],
                                  os.path.join(work, "build.log"), opts.timeout)
                for b in opts.batches:
                    engines[b] = engine
                print(f"  rtx build {name} {precision} (batch {lo}..{hi}): {secs:.1f} s", flush=True)
            except RtxError as e:
                for b in opts.batches:
                    fail(b, "rtx", f"build: {e}")
        else:
            for b in opts.batches:
                engine = os.path.join(work, f"model_b{b}.rtxe")
                try:
                    if not (opts.reuse and os.path.exists(engine)):
                        _, secs = run_rtx(opts.rtx, [f"--onnx={onnx_paths[b]}", "--useGpu", f"--saveEngine={engine}",
                                                     "--skipInference"], os.path.join(work, f"build_b{b}.log"), opts.timeout)
                        print(f"  rtx build {name} {precision} batch {b}: {secs:.1f} s", flush=True)
                    engines[b] = engine
                except RtxError as e:
                    fail(b, "rtx", f"build: {e}")

    rtx_outputs = {}
    for b, engine in engines.items():
        inputs = make_inputs(b, dtype, "cpu")
        load = []
        for n, t in inputs.items():
            p = os.path.join(work, f"in_b{b}_{n}.npy")
            np.save(p, t.numpy())
            load.append(f"{n}:{p}")
        out_dir = os.path.join(work, f"out_b{b}")
        times = os.path.join(work, f"times_b{b}.json")
        try:
            run_rtx(opts.rtx, [f"--loadEngine={engine}", f"--shapes={shape_flag(inputs)}", f"--loadInputs={','.join(load)}",
                               f"--iterations={opts.iterations}", "--duration=0", f"--warmUp={opts.warmup_ms}",
                               f"--exportTimes={times}", f"--saveOutputs={out_dir}"],
                    os.path.join(work, f"run_b{b}.log"), opts.timeout)
            with open(times) as f:
                compute = [t["computeMs"] for t in json.load(f)]
            rows[b]["rtx"] = statistics.median(compute)
            rtx_outputs[b] = np.load(os.path.join(out_dir, "output.npy"))
        except (RtxError, OSError, ValueError, KeyError) as e:
            fail(b, "rtx", f"run: {e}")

    # 3. PyTorch: eager, eager + CUDA graph, torch.compile(mode="reduce-overhead").
    # BERT is timed with SDPA attention and the same weights (PyTorch's fastest attention; the
    # eager attention's mask code also copies a CPU scalar, which a CUDA graph capture refuses).
    if name == "bert-base" and _accepts_attn_impl():
        try:
            timed = BertWrapper.make(torch, "sdpa")
            timed.load_state_dict(model.state_dict())
            model = timed.eval().to(device=device, dtype=dtype)
            notes.append(f"{name} {precision}: PyTorch timed with attn_implementation='sdpa' (same weights)")
        except Exception as e:
            notes.append(f"{name} {precision}: SDPA model failed ({type(e).__name__}: {str(e)[:120]}); "
                         "PyTorch timed with eager attention")
    compiled = None
    if not opts.skip_compile:
        try:
            compiled = torch.compile(model, mode="reduce-overhead")
        except Exception as e:
            for b in opts.batches:
                fail(b, "compile", f"torch.compile: {type(e).__name__}: {str(e)[:200]}")
    with torch.inference_mode():
        for b in opts.batches:
            inputs = make_inputs(b, dtype, device)
            args = tuple(inputs.values())
            eager = lambda: model(*args)  # noqa: E731
            try:
                reference = eager().float().cpu().numpy()
                rows[b]["eager"] = time_cuda(torch, eager, opts.torch_warmup, opts.iterations)
            except Exception as e:
                fail(b, "eager", f"{type(e).__name__}: {str(e)[:200]}")
                reference = None
            try:
                rows[b]["graph"] = time_cuda(torch, cuda_graph_fn(torch, eager), opts.torch_warmup, opts.iterations)
            except Exception as e:
                fail(b, "graph", f"{type(e).__name__}: {str(e)[:200]}")
            if compiled is not None:
                try:
                    fn = lambda: compiled(*args)  # noqa: E731
                    for _ in range(5):  # compile and record the graphs before timing
                        fn()
                    rows[b]["compile"] = time_cuda(torch, fn, opts.torch_warmup, opts.iterations)
                except Exception as e:
                    fail(b, "compile", f"{type(e).__name__}: {str(e)[:200]}")
            if reference is not None and b in rtx_outputs:
                rows[b]["error"] = rel_l2(rtx_outputs[b], reference)
            torch.cuda.synchronize()
    for b in opts.batches:
        results.append(rows[b])
    del model, compiled
    torch.cuda.empty_cache()


def fmt(v, digits=3):
    return "FAILED" if v is None else ("-" if v == "" else f"{v:.{digits}f}")


def table(results):
    header = ["model", "precision", "batch", "eager ms", "eager+graph ms", "compile ms", "rtx ms", "rtx / best torch",
              "rtx rel. error"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * 6) + "|"]
    for r in results:
        torch_times = [r.get(k) for k in ("eager", "graph", "compile") if r.get(k) is not None]
        best = min(torch_times) if torch_times else None
        ratio = r["rtx"] / best if r.get("rtx") is not None and best else None
        err = r.get("error")
        cells = [r["model"], r["precision"], str(r["batch"]), fmt(r.get("eager", "")), fmt(r.get("graph", "")),
                 fmt(r.get("compile", "")), fmt(r.get("rtx", "")),
                 ("**%.2f**" % ratio) if ratio is not None else "FAILED" if "rtx" in r and r["rtx"] is None else "-",
                 "%.1e" % err if err is not None else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rtx", default=os.environ.get("RTX", "build/tools/rtx"), help="the rtx executable")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ",".join(MODELS))
    p.add_argument("--precisions", default="fp32,fp16")
    p.add_argument("--batches", default="1,32")
    p.add_argument("--iterations", type=int, default=200, help="timed inferences per measurement")
    p.add_argument("--warmup-ms", type=int, default=500, help="rtx warm-up (ms)")
    p.add_argument("--torch-warmup", type=int, default=20, help="PyTorch warm-up calls")
    p.add_argument("--dynamic", action="store_true", help="one rtx engine per model with a batch profile")
    p.add_argument("--skip-compile", action="store_true", help="leave out torch.compile (slow to compile)")
    p.add_argument("--reuse", action="store_true", help="reuse ONNX files and engines of an earlier run")
    p.add_argument("--workdir", default="pytorch_compare_work")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per rtx command")
    p.add_argument("--markdown", help="also write the table (with GPU and date) to this file")
    p.add_argument("--json", help="also write the raw results to this file")
    p.add_argument("--budget", type=float, default=0,
                   help="seconds: start no new model after this long (0: no limit); the table so far "
                        "is printed (and written) after every model, so a run cut short keeps its rows")
    opts = p.parse_args()
    opts.batches = [int(b) for b in opts.batches.split(",")]
    models = [m for m in opts.models.split(",") if m]
    precisions = [x for x in opts.precisions.split(",") if x]
    for m in models:
        if m not in MODELS:
            p.error(f"unknown model {m}; choose from {','.join(MODELS)}")
    for x in precisions:
        if x not in ("fp32", "fp16"):
            p.error(f"unknown precision {x}")

    import torch
    if not torch.cuda.is_available():
        print("pytorch_compare: no CUDA device; this benchmark runs on the GPU machine", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 on both sides
    torch.backends.cudnn.allow_tf32 = False
    os.makedirs(opts.workdir, exist_ok=True)
    props = torch.cuda.get_device_properties(0)
    gpu = f"{props.name} (sm_{props.major}{props.minor}, {props.multi_processor_count} SMs)"
    try:
        rtx_version = subprocess.run([opts.rtx, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    except Exception as e:
        rtx_version = f"rtx not runnable: {e}"
    import torchvision
    import transformers
    versions = (f"torch {torch.__version__}, torchvision {torchvision.__version__}, transformers {transformers.__version__}, "
                f"CUDA {torch.version.cuda}; {rtx_version}")
    print(f"GPU: {gpu}\n{versions}\n", flush=True)

    results, notes = [], []
    started = time.time()
    for m in models:
        for x in precisions:
            if opts.budget and time.time() - started > opts.budget:
                notes.append(f"{m} {x}: not run (--budget {opts.budget:.0f} s spent)")
                continue
            print(f"{m} {x} ...", flush=True)
            try:
                bench_model(torch, opts, m, x, results, notes)
            except Exception as e:  # a model that fails entirely still gets its rows
                traceback.print_exc()
                for b in opts.batches:
                    results.append({"model": m, "precision": x, "batch": b, "eager": None, "graph": None,
                                    "compile": None, "rtx": None})
                notes.append(f"{m} {x}: {type(e).__name__}: {str(e)[:300]}")
            torch.cuda.empty_cache()
            print(f"\n{table(results)}\n", flush=True)  # the rows so far, in case the run is cut short
            if opts.markdown:
                with open(opts.markdown, "w") as f:
                    f.write(f"(partial) {gpu}\n\n{table(results)}\n")

    date = datetime.date.today().isoformat()
    text = table(results)
    method = (f"Medians of {opts.iterations} inferences, in ms, inputs on the GPU. PyTorch: CUDA events around each call "
              f"(eager; eager replayed as a CUDA graph; torch.compile(mode=\"reduce-overhead\")), TF32 off. rtx: GPU compute "
              f"time per inference from --exportTimes ({'one engine with a batch profile' if opts.dynamic else 'one static engine per batch'}, "
              f"built with --useGpu; CUDA graph, spin wait, no transfers). Ratio < 1: rtx is faster than the best PyTorch "
              f"variant. rtx rel. error: ||rtx - eager|| / ||eager|| on the same inputs and precision.")
    print(f"\n{gpu}, {date}\n{versions}\n\n{text}\n\n{method}")
    if notes:
        print("\nFailures and notes:")
        for n in notes:
            print(f"- {n}")
    if opts.markdown:
        with open(opts.markdown, "w") as f:
            f.write(f"**GPU:** {gpu}. **Date:** {date}. {versions}.\n\n{text}\n\n{method}\n")
            if notes:
                f.write("\nFailures and notes:\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"gpu": gpu, "date": date, "versions": versions, "results": results, "notes": notes}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
