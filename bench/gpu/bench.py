#!/usr/bin/env python3
"""`make bench-gpu`: our engine on a real GPU, natively and as the page runs it, against the peers a
user would pick instead, in one table:

- ours natively: `deepdream bench --gpu` (wgpu), and with --big `bench --gpu --dream 4000x3000`;
- ours as the page: the wasm engine in www/pkg on Dawn, Chrome's WebGPU, in Node (dawn.mjs);
- TensorFlow.js's webgpu backend on the same Dawn (dawn.mjs, bench/peers/tfjs/googlenet.js);
- PyTorch on CUDA where it sees one (bench/peers/torch_peer.py; with --big torch_big.py, untiled).

    python3 bench/gpu/bench.py [--runs N] [--quick] [--big] [--skip native,page,tfjs,torch]
                               [--tune] [--timeout S] [--budget S]

--tune: also the native figures on the register kernel (DEEPDREAM_CONV=mirrored) and on each of
TILES (DEEPDREAM_TILE) for the workgroup kernel, in a second table, to choose its tile on a GPU.

--quick: 224² steps only (the CLI still times its preset). Dawn refuses Mesa's lavapipe: when it
finds no adapter and Chromium's SwiftShader is installed, the Dawn parts run there (software) and
say so; DAWN_VK_ICD names another Vulkan ICD for them. A part that is missing or fails is a "–"
in the table with its reason below, never a stop. The parts' own output goes to stderr.
"""

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))
import table as peers  # noqa: E402  (bench/peers/table.py: paths, cells, ratios, the table)

DREAM = "canonical dream"
BIG = "4000x3000"
peers.ROWS = peers.ROWS + [(DREAM, BIG, "12 MP dream")]
SWIFTSHADER = "/usr/lib/chromium/vk_swiftshader_icd.json"
PARTS = ["native", "page", "tfjs", "torch"]
NOISE = ("error: XDG_RUNTIME_DIR",)  # Mesa's window-system probe, on every Vulkan start here
# Workgroup tiles --tune tries on every layer, after the kernel's own choice per layer (64x64/4x8,
# 64x32/4x4 where a layer has fewer than 64 channels): positions × channels a workgroup / a unit.
TILES = ["64x64/4x8", "32x64/2x8", "64x32/4x4", "64x64/8x8", "128x64/8x8"]

notes, reasons = [], []
deadline = None  # time.monotonic() by which every part must have finished (--budget)


def run(name, cmd, env=None, timeout=None):
    """Runs one tool; its blocks {backend: {(what, size): ms, 'check': …}} and its other lines, or
    ({}, []) with the reason recorded."""
    if deadline is not None:
        left = int(deadline - time.monotonic())
        if left < 10:
            reasons.append(f"{name}: not run, the --budget was spent")
            return {}, []
        timeout = min(timeout or left, left)
    print(f"## {name}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
    except OSError as e:
        reasons.append(f"{name}: {cmd[0]}: {e.strerror}")
        return {}, []
    except subprocess.TimeoutExpired:
        reasons.append(f"{name}: stopped after {timeout} s (--timeout, --budget)")
        return {}, []
    err = [line for line in proc.stderr.replace("\r", "\n").splitlines() if line and not line.startswith(NOISE)]
    sys.stderr.write(proc.stdout + "".join(f"{line}\n" for line in err))
    if proc.returncode != 0:
        reasons.append(f"{name}: exit {proc.returncode}: {err[-1] if err else 'no message'}")
        return {}, []
    blocks, others = peers.parse(proc.stdout)
    lines = []
    for backend, fields in others:
        if fields[0] == DREAM and backend is not None and len(fields) >= 3:
            blocks[backend][(DREAM, fields[1])] = float(fields[2].split()[0]) * 1000  # "26.4 s"
        else:
            lines.append(fields)
    return blocks, lines


def only(blocks, *words):
    """The one block whose backend names all `words`, else {}."""
    return peers.find(blocks, *words)[1] or {}


def dawn_env():
    """The Vulkan ICD the Dawn parts use: DAWN_VK_ICD, else what Dawn finds itself, else SwiftShader."""
    if os.environ.get("DAWN_VK_ICD"):
        return {"VK_ICD_FILENAMES": os.environ["DAWN_VK_ICD"]}
    try:
        if subprocess.run(["node", os.path.join(HERE, "dawn.mjs"), "adapter"], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=120).returncode == 0:
            return {}
    except (OSError, subprocess.TimeoutExpired):
        return {}  # the parts themselves say why
    if os.path.exists(SWIFTSHADER):
        notes.append(f"Dawn found no adapter of its own, so its parts ran on Chromium's SwiftShader ({SWIFTSHADER}): "
                     "a GPU emulated on the CPU")
        return {"VK_ICD_FILENAMES": SWIFTSHADER}
    return {}


def main():
    global deadline
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5,
                    help="timed runs per step figure, after a warm-up (presets: at most 3)")
    ap.add_argument("--quick", action="store_true", help="224² steps only, no preset in the Dawn parts")
    ap.add_argument("--big", action="store_true", help=f"a {BIG} canonical dream natively and in PyTorch, last")
    ap.add_argument("--skip", default="", help=f"comma-separated parts to leave out: {', '.join(PARTS)}")
    ap.add_argument("--tune", action="store_true",
                    help="native figures on the register kernel and on each workgroup tile too (a second table)")
    ap.add_argument("--timeout", type=int, default=None, help="seconds each part may take before it is stopped")
    ap.add_argument("--budget", type=int, default=None, help="seconds all parts together may take")
    args = ap.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    if skip - set(PARTS):
        sys.exit(f"--skip: unknown {', '.join(sorted(skip - set(PARTS)))} (one of {', '.join(PARTS)})")
    if args.budget:
        deadline = time.monotonic() + args.budget
    runs = str(max(1, args.runs))
    quick = ["--quick"] if args.quick else []
    weights = os.environ.get("DEEPDREAM_WEIGHTS", os.path.join(ROOT, "weights", "googlenet.safetensors"))
    env = {"DEEPDREAM_WEIGHTS": weights}
    native, page, tfjs, torch, adapters = {}, {}, {}, {}, {}

    if "native" not in skip:
        blocks, lines = run("ours, native", [peers.CLI, "bench", "--gpu", "--runs", runs,
                                            "--sizes", "224" if args.quick else "224,512"], env, args.timeout)
        # Without an adapter the CLI falls back to the CPU: those figures must not stand in for wgpu's.
        name, native = peers.find(blocks, "wgpu")
        native = native or {}
        if blocks and not native:
            reasons.append(f"ours, native: no wgpu adapter (the CLI ran on {', '.join(blocks)})")
        if native:
            adapters["native"] = name
        said = [f for f in lines if f[0].startswith(("dispatches", "most dispatched", "convolutions"))]
        notes.extend(f"native, {' '.join(f[:-1])}: {f[-1]}" for f in said)

    if not {"page", "tfjs"} <= skip:
        env |= dawn_env()
        for part in ("page", "tfjs"):
            if part in skip:
                continue
            cmd = ["node", os.path.join(HERE, "dawn.mjs"), part, "--runs", runs] + quick
            blocks, lines = run(f"{part} on Dawn", cmd, env, args.timeout)
            if part == "page":
                page = only(blocks, "page")
            else:
                tfjs = only(blocks, "tensorflow")
            said = dict(f[:2] for f in lines if len(f) >= 2)
            if "convolutions" in said:
                notes.append(f"{part}, convolutions: {said['convolutions']}")
            if "adapter" in said:
                adapters[part] = f"{said['adapter']} (fallback adapter: {said.get('fallback adapter', '?')})"
        if "tfjs" not in skip:
            reasons.append("TF.js webgpu: googlenet.js times single steps only (no preset, no 12 MP)")

    python = shutil.which(peers.PYTHON) or shutil.which("python3") or "python3"
    if "torch" not in skip:
        cuda = subprocess.run([python, "-c", "import sys, torch; sys.exit(not torch.cuda.is_available())"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
        if cuda:
            blocks, _ = run("PyTorch, CUDA", [python, os.path.join(ROOT, "bench", "peers", "torch_peer.py"),
                                               "--device", "cuda", "--runs", runs], timeout=args.timeout)
            torch = only(blocks, "pytorch", "cuda")
        else:
            reasons.append(f"PyTorch CUDA: {python} has no PyTorch that sees a CUDA GPU "
                           "(DEEPDREAM_PEER_PYTHON names one)")

    # The 12 MP dreams last, so that a slow one cannot starve the rest of the --budget.
    if args.big and native:
        big, lines = run("ours, native, 12 MP", [peers.CLI, "bench", "--gpu", "--dream", BIG], env, args.timeout)
        native.update(only(big, "wgpu"))
        notes.extend(f"native, 12 MP: {f[0]} {f[1]}" for f in lines if len(f) == 2)
    if args.big and torch:
        big, lines = run("PyTorch, CUDA, 12 MP", [python, os.path.join(HERE, "torch_big.py")], timeout=args.timeout)
        torch.update({k: v for k, v in only(big, "pytorch").items() if k != "check"})
        notes.extend(f"PyTorch, 12 MP: {f[0]} {f[1]}" for f in lines if len(f) == 2)
    if not args.big:
        reasons.append("12 MP dream: run with --big")

    # Tuning last: the table's own figures come first within the --budget.
    tuned = []
    if args.tune and not native:
        reasons.append("--tune: not run, the native part gave no wgpu figures")
    if args.tune and native:
        sizes = "224" if args.quick else "224,512"
        for label, extra in [("register kernel", {"DEEPDREAM_CONV": "mirrored"}),
                             ("workgroup, own tiles", {"DEEPDREAM_CONV": "workgroup"})] + [
                (f"workgroup {t}", {"DEEPDREAM_CONV": "workgroup", "DEEPDREAM_TILE": t}) for t in TILES]:
            blocks, _ = run(f"ours, native, {label}", [peers.CLI, "bench", "--gpu", "--runs", runs, "--sizes", sizes],
                            env | extra, args.timeout)
            tuned.append((label, only(blocks, "wgpu")))

    print(f"# bench-gpu, {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.platform(terse=True)}")
    peers.table("ms per gradient step to inception_4c/output and back; canonical preset on a 512² photo",
                [("ours, native wgpu", native), ("ours, page engine on Dawn", page),
                 ("TF.js webgpu on Dawn", tfjs), ("PyTorch CUDA", torch)],
                [("page / native", page, native), ("page / TF.js", page, tfjs), ("native / PyTorch", native, torch)])
    if tuned:
        print()
        peers.table("the native engine's convolution kernels and workgroup tiles (--tune)", tuned, [])
    print("\nAdapters: " + ("; ".join(f"{k}: {v}" for k, v in adapters.items()) or "none reported"))
    checks = [f"{n}: {b['check']}" for n, b in (("TF.js", tfjs), ("PyTorch CUDA", torch)) if "check" in b]
    for line in (["Gradient checks against the JAX reference: " + "; ".join(checks)] if checks else []) + notes:
        print(f"- {line}")
    for line in reasons:
        print(f"- –: {line}")


if __name__ == "__main__":
    main()
