#!/usr/bin/env python3
"""`make bench-peers`: our engine and the peers a user would pick instead, timed in one run on
this machine and printed as one table with ratios (ours / peer; below 1 means we are faster).

Natively: `deepdream bench` on the CPU (flex) and on wgpu, against PyTorch on the CPU with the same
number of threads (bench/peers/torch_peer.py), and against PyTorch on CUDA where its PyTorch sees an
NVIDIA GPU. In one headless Chromium: our page on WebGPU and on
its CPU engine, against TensorFlow.js's webgpu and wasm backends (bench/peers/web.mjs). Every peer
first checks its gradient against the JAX reference (relative L2 <= 1e-3), so the race is fair.

    python3 bench/peers/table.py [--runs N] [--gpu-runs N] [--threads N] [--skip native-gpu,web,...] [--big]

DEEPDREAM_PEER_PYTHON names another Python for the PyTorch peer (one that already has torch, numpy
and Pillow) instead of the venv that setup.sh makes.

The tools' own lines go to stderr as they come; the table goes to stdout at the end.
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("DEEPDREAM_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "deepdream"))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(CACHE, "target"))
CLI = os.environ.get("DEEPDREAM_CLI", os.path.join(TARGET, "release", "deepdream"))
PYTHON = os.environ.get("DEEPDREAM_PEER_PYTHON") or os.path.join(CACHE, "peers", "venv", "bin", "python")

STEP = "gradient step (inception_4c/output)"
PRESET = "canonical preset (4 octaves x 10 steps)"
ROWS = [(STEP, "224x224", "step 224²"), (STEP, "512x512", "step 512²"), (PRESET, "512x512", "canonical 512²")]
PARTS = ["native-cpu", "native-gpu", "torch", "torch-cuda", "web"]


def run(name, cmd):
    """Runs one tool, echoing its output to stderr; returns its blocks: {backend: {(what, size): ms}}."""
    print(f"## {name}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    sys.stderr.write(proc.stdout)
    if proc.returncode != 0:
        sys.exit(f"{name} failed (exit {proc.returncode}); nothing was printed")
    return parse(proc.stdout)[0]


def parse(stdout):
    """A tool's tab-separated output: its blocks {backend: {(what, size): ms, 'check': …}}, and
    the fields of every other line with the block they came under ((backend, fields))."""
    blocks, current, name, others = {}, None, None, []
    for line in stdout.splitlines():
        fields = line.split("\t")
        if fields[0] == "backend":
            name, current = fields[1], blocks.setdefault(fields[1], {})
        elif fields[0] == "gradient check" and current is not None:
            current["check"] = fields[1]
        elif fields[0] in (STEP, PRESET) and current is not None and len(fields) >= 3:
            current[(fields[0], fields[1])] = float(fields[2])
        else:
            others.append((name, fields))
    return blocks, others


def cell(block, key):
    ms = block.get(key) if block else None
    if ms is None:
        return "–"
    return f"{ms / 1000:.1f} s" if ms >= 10_000 else f"{ms:.0f} ms"


def ratio(ours, peer, key):
    a, b = (ours or {}).get(key), (peer or {}).get(key)
    return f"{a / b:.2f}×" if a and b else "–"


def table(title, columns, pairs):
    """columns: [(heading, block)]; pairs: [(heading, ours, peer)] ratio columns."""
    heads = [h for h, _ in columns] + [h for h, _, _ in pairs]
    print(f"\n{title}\n")
    print("| | " + " | ".join(heads) + " |")
    print("|---" * (len(heads) + 1) + "|")
    for what, size, label in ROWS:
        key = (what, size)
        if not any(b and key in b for _, b in columns):
            continue
        row = [cell(b, key) for _, b in columns] + [ratio(o, p, key) for _, o, p in pairs]
        print(f"| {label} | " + " | ".join(row) + " |")


def find(blocks, *words):
    for name, block in blocks.items():
        if all(w.lower() in name.lower() for w in words):
            return name, block
    return None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="timed runs per figure (after a warm-up)")
    ap.add_argument("--gpu-runs", type=int, default=1,
                    help="timed runs per figure on wgpu (1 by default: a software adapter is slow)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch's threads")
    ap.add_argument("--skip", default="", help=f"comma-separated parts to leave out: {', '.join(PARTS)}")
    ap.add_argument("--big", action="store_true", help="512² steps in the browser too (slow on SwiftShader)")
    args = ap.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    if skip - set(PARTS):
        sys.exit(f"--skip: unknown {', '.join(sorted(skip - set(PARTS)))} (one of {', '.join(PARTS)})")
    sizes = "224,512"
    native, web = {}, {}
    if "native-cpu" not in skip:
        native |= run("ours, CPU", [CLI, "bench", "--cpu", "--runs", str(args.runs), "--sizes", sizes])
    if "native-gpu" not in skip:
        gpu_blocks = run("ours, wgpu", [CLI, "bench", "--gpu", "--runs", str(args.gpu_runs), "--sizes", sizes])
        # Without an adapter the CLI falls back to the CPU: those figures must not stand in for wgpu's.
        native |= {name: block for name, block in gpu_blocks.items() if "wgpu" in name}
        if not any("wgpu" in name for name in gpu_blocks):
            print("## ours, wgpu: no wgpu adapter was found, so that column is left out", file=sys.stderr)
    if "torch" not in skip:
        native |= run("PyTorch", [PYTHON, os.path.join(HERE, "torch_peer.py"), "--threads", str(args.threads),
                                  "--runs", str(args.runs)])
    if "torch-cuda" not in skip:
        has_cuda = subprocess.run([PYTHON, "-c", "import sys, torch; sys.exit(not torch.cuda.is_available())"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
        if has_cuda:
            native |= run("PyTorch, CUDA", [PYTHON, os.path.join(HERE, "torch_peer.py"), "--device", "cuda",
                                            "--runs", str(args.runs)])
        else:
            print("## PyTorch, CUDA: this PyTorch sees no CUDA GPU, so that column is left out", file=sys.stderr)
    if "web" not in skip:
        web = run("browser", ["node", os.path.join(HERE, "web.mjs"), "--runs", str(max(1, min(args.runs, 3)))]
                  + (["--big"] if args.big else []))

    cpu_name, cpu = find(native, "flex")
    gpu_name, gpu = find(native, "wgpu")
    torch_name, torch = find(native, "pytorch", "cpu")
    cuda_name, cuda = find(native, "pytorch", "cuda")
    print(f"# bench-peers, {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.platform(terse=True)}")
    if native:
        table("Native (ms per gradient step to inception_4c/output and back; canonical preset on a 512² photo)",
              [(f"ours, {cpu_name or 'CPU'}", cpu), (f"ours, {gpu_name or 'wgpu'}", gpu), (torch_name or "PyTorch", torch)]
              + ([(cuda_name, cuda)] if cuda else []),
              [("ours CPU / PyTorch", cpu, torch)] + ([("ours wgpu / PyTorch CUDA", gpu, cuda)] if cuda else []))
    if web:
        ours_gpu = find(web, "ours", "webgpu")[1]
        ours_cpu = find(web, "ours", "cpu")[1]
        tf_gpu_name, tf_gpu = find(web, "tensorflow", "webgpu")
        tf_wasm_name, tf_wasm = find(web, "tensorflow", "wasm")
        table("Browser (same headless Chromium; ms per gradient step)",
              [("ours, WebGPU", ours_gpu), (tf_gpu_name or "TF.js webgpu", tf_gpu),
               ("ours, CPU engine", ours_cpu), (tf_wasm_name or "TF.js wasm", tf_wasm)],
              [("ours / TF.js webgpu", ours_gpu, tf_gpu), ("ours CPU / TF.js wasm", ours_cpu, tf_wasm)])
    checks = [(n, b["check"]) for n, b in {**native, **web}.items() if "check" in b]
    if checks:
        print("\nGradient checks against the JAX reference: " + "; ".join(f"{n}: {c}" for n, c in checks))


if __name__ == "__main__":
    main()
