#!/usr/bin/env python3
"""One canonical dream of a 12 MP photo in PyTorch on CUDA, untiled (every gradient pass takes the
whole image), for `make bench-gpu --big`: bench/peers/torch_peer.py's network, checks and dream,
timed once in a fresh process as `deepdream bench --dream` is. Prints the CLI's lines.

    python bench/gpu/torch_big.py [--size 4000x3000] [weights]
"""

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "peers"))
import torch_peer as peer  # noqa: E402

torch = peer.torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="?", default=peer.DEFAULT_WEIGHTS, help="the caffejs directory")
    ap.add_argument("--size", default="4000x3000", help="WxH")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    if not torch.cuda.is_available():
        sys.exit("this PyTorch sees no CUDA GPU")
    # As torch_peer.py --device cuda: float32 throughout, cuDNN's autotuner on.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda")
    net = peer.GoogLeNet(args.weights).eval().to(device)
    print(f"backend\tPyTorch {torch.__version__}, CUDA, {torch.cuda.get_device_name(device)}, float32 (no TF32)",
          flush=True)
    err = peer.grad_check(net, device)
    print(f"gradient check\trel L2 {err:.2e}", flush=True)
    if not err <= 1e-3:
        sys.exit(f"gradient check failed: relative L2 error {err:.2e} > 1e-3")

    photo = peer.Image.open(os.path.join(peer.IMAGES, "coffee.png")).convert("RGB")
    rgb = peer.to_tensor(photo.resize((w, h), peer.Image.BILINEAR)).to(device)
    torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    try:
        peer.sync(peer.dream(net, rgb, random.Random(0)))
    except torch.cuda.OutOfMemoryError as e:
        sys.exit(f"out of GPU memory untiled at {w}x{h}: {e}")
    print(f"canonical dream\t{w}x{h}\t{time.perf_counter() - start:.1f} s")
    print("tile\tnone: untiled, each gradient pass takes the whole image")
    print(f"device memory (PyTorch allocator, peak)\t{torch.cuda.max_memory_allocated(device) / 2**20:.0f} MB")


if __name__ == "__main__":
    main()
