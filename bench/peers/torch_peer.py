#!/usr/bin/env python3
"""The native peer of `deepdream bench`: BVLC GoogLeNet and DeepDream in PyTorch (float32, NCHW),
timed on the CPU (or, with --device cuda, on an NVIDIA GPU), so the Rust engine's figures have a
yardstick.

Written for the benchmark from the caffejs weights, with Caffe's semantics as in
tests/reference/reference.py, and checked against that reference's gradient before it times
anything. Prints the same tab-separated lines as `deepdream bench`:

    bash bench/peers/setup.sh
    ~/.cache/deepdream/peers/venv/bin/python bench/peers/torch_peer.py [--threads N] [--runs N] [--device cuda]

On CUDA, TF32 is switched off so both sides compute in float32, and each timed call ends with a
synchronisation, as `deepdream bench` waits for its result.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time

import numpy as np

# PyTorch's OpenMP threads spin between parallel regions by default. When anything else wants the
# cores (a build, a browser) the spinning threads starve each other: measured here with 2 threads
# on 2 busy cores, a 224 px step took 4.7 s spinning and 0.11 s sleeping. Set before torch loads
# libgomp; OMP_WAIT_POLICY=ACTIVE in the environment restores the default.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn.functional as F
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "reference", "golden")
IMAGES = os.path.join(ROOT, "tests", "images")
DEFAULT_WEIGHTS = os.environ.get(
    "DEEPDREAM_WEIGHTS_SRC", os.path.join(ROOT, "..", "shared", "weights", "bvlc_googlenet_caffejs"))

# name, input channels, 1x1, 3x3_reduce, 3x3, 5x5_reduce, 5x5, pool_proj (deploy.prototxt),
# up to the objective, inception_4c/output; pool3/3x3_s2 follows inception_3b.
INCEPTIONS = [
    ("inception_3a", 192, 64, 96, 128, 16, 32, 32),
    ("inception_3b", 256, 128, 128, 192, 32, 96, 64),
    ("inception_4a", 480, 192, 96, 208, 16, 48, 64),
    ("inception_4b", 512, 160, 112, 224, 24, 64, 64),
    ("inception_4c", 512, 128, 128, 256, 24, 64, 64),
]
BGR_MEAN = torch.tensor([104.0, 117.0, 123.0]).view(1, 3, 1, 1)


def load_conv(src, name, out_c, in_c, k):
    base = os.path.join(src, "models", "bvlc_googlenet", "weights", name)
    w = np.fromfile(base + "_filter.bin", dtype="<f4").reshape(out_c, k, k, in_c)  # OHWI
    b = np.fromfile(base + "_bias.bin", dtype="<f4")
    return torch.from_numpy(w.transpose(0, 3, 1, 2).copy()), torch.from_numpy(b)  # OIHW


def key(name):
    return name.replace("/", "__")  # a Caffe layer name as a parameter name


class GoogLeNet(torch.nn.Module):
    """BVLC GoogLeNet from the RGB 0..255 image to inception_4c/output."""

    def __init__(self, src):
        super().__init__()
        convs = {"conv1/7x7_s2": (64, 3, 7), "conv2/3x3_reduce": (64, 64, 1),
                 "conv2/3x3": (192, 64, 3)}
        for name, cin, c1, c3r, c3, c5r, c5, pp in INCEPTIONS:
            convs.update({name + "/1x1": (c1, cin, 1), name + "/3x3_reduce": (c3r, cin, 1),
                          name + "/3x3": (c3, c3r, 3), name + "/5x5_reduce": (c5r, cin, 1),
                          name + "/5x5": (c5, c5r, 5), name + "/pool_proj": (pp, cin, 1)})
        self.w = torch.nn.ParameterDict()
        self.b = torch.nn.ParameterDict()
        for name, shape in convs.items():
            w, b = load_conv(src, name, *shape)
            # Only the image gets a gradient: the weights are constants of the objective.
            self.w[key(name)] = torch.nn.Parameter(w, requires_grad=False)
            self.b[key(name)] = torch.nn.Parameter(b, requires_grad=False)

    def conv(self, x, name, stride=1, pad=0):
        return F.relu(F.conv2d(x, self.w[key(name)], self.b[key(name)], stride, pad))

    @staticmethod
    def pool(x, k, s, p=0):
        # Caffe rounds the output size up, but drops a last window that would start in the
        # padding; PyTorch's ceil_mode applies that same rule, and pads max pooling with -inf.
        return F.max_pool2d(x, k, s, p, ceil_mode=True)

    @staticmethod
    def lrn(x):
        # x / (1 + alpha/size * sum over 5 channels of x^2)^beta, as Caffe's ACROSS_CHANNELS.
        return F.local_response_norm(x, size=5, alpha=1e-4, beta=0.75, k=1.0)

    def forward(self, rgb):
        x = rgb.flip(1) - BGR_MEAN.to(rgb.device)  # conv1 was trained on BGR, mean subtracted
        x = self.lrn(self.pool(self.conv(x, "conv1/7x7_s2", 2, 3), 3, 2))
        x = self.conv(self.conv(x, "conv2/3x3_reduce"), "conv2/3x3", 1, 1)
        x = self.pool(self.lrn(x), 3, 2)
        for name, *_ in INCEPTIONS:
            x = torch.cat([
                self.conv(x, name + "/1x1"),
                self.conv(self.conv(x, name + "/3x3_reduce"), name + "/3x3", 1, 1),
                self.conv(self.conv(x, name + "/5x5_reduce"), name + "/5x5", 1, 2),
                self.conv(self.pool(x, 3, 1, 1), name + "/pool_proj"),
            ], dim=1)
            if name == "inception_3b":
                x = self.pool(x, 3, 2)  # pool3/3x3_s2
        return x


def sync(t):
    """Waits for the device's queue: a CUDA call returns before its kernels have run."""
    if t.is_cuda:
        torch.cuda.synchronize(t.device)


def gradient(net, img):
    """d mean(inception_4c/output^2) / d img, for img [1, 3, H, W] on 0..255."""
    x = img.detach().requires_grad_(True)
    a = net(x)
    return torch.autograd.grad((a * a).mean(), x)[0]


def step(net, img, rng, jitter=32, step_size=1.5):
    """One DeepDream step in place: roll, gradient, roll back, normalised ascent, clip."""
    dy, dx = rng.randint(-jitter, jitter), rng.randint(-jitter, jitter)
    g = gradient(net, torch.roll(img, (dy, dx), (2, 3)))
    g = torch.roll(g, (-dy, -dx), (2, 3))
    with torch.no_grad():
        img += g * (step_size / (g.abs().mean() + 1e-7))
        img.clamp_(0.0, 255.0)
    return img


def resize(img, h, w):
    # Bilinear, half-pixel centres, no anti-aliasing: reference.py's resize.
    return F.interpolate(img, size=(h, w), mode="bilinear", align_corners=False, antialias=False)


def dream(net, img, rng, octaves=4, scale=1.4, steps=10):
    """Google's canonical preset with detail re-injection, as reference.py's dream."""
    details = []
    for _ in range(octaves - 1):
        h, w = img.shape[-2:]
        lo = resize(img, int(h / scale), int(w / scale))
        details.append(img - resize(lo, h, w))
        img = lo
    for octave in range(octaves):
        if octave > 0:
            hi = details[-octave]
            img = resize(img, *hi.shape[-2:]) + hi
        for _ in range(steps):
            step(net, img, rng)
    return img


def to_tensor(rgb):
    """uint8 or float [H, W, 3] -> float32 [1, 3, H, W]."""
    return torch.from_numpy(np.asarray(rgb, dtype=np.float32).transpose(2, 0, 1).copy())[None]


def grad_check(net, device):
    """Relative L2 error of our gradient against the float64 JAX reference's, on 'square'."""
    fx = json.load(open(os.path.join(GOLDEN, "reference.json")))["fixtures"]["square"]
    top, left, h, w = fx["top"], fx["left"], fx["height"], fx["width"]
    rgb = np.asarray(Image.open(os.path.join(IMAGES, fx["photo"])).convert("RGB"))
    g = gradient(net, to_tensor(rgb[top:top + h, left:left + w]).to(device))[0].double().cpu().numpy()
    want = np.fromfile(os.path.join(GOLDEN, "grad-square.f32"), dtype="<f4").reshape(3, h, w)
    return float(np.linalg.norm(g - want) / np.linalg.norm(want))


def median_ms(runs, f):
    """One warm-up, then the median of `runs` timed calls, in milliseconds."""
    f()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="?", default=DEFAULT_WEIGHTS, help="the caffejs directory")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = ap.parse_args()
    runs = max(1, args.runs)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("--device cuda: this PyTorch sees no CUDA GPU")
        # PyTorch lets cuDNN convolve in TF32 by default (10-bit mantissas); the engine is float32.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.benchmark = True  # cuDNN's autotuner, as a PyTorch user would set it
        where = f"CUDA, {torch.cuda.get_device_name(device)}, float32 (no TF32)"
    else:
        where = f"CPU, {torch.get_num_threads()} threads"
    net = GoogLeNet(args.weights).eval().to(device)
    print(f"backend\tPyTorch {torch.__version__}, {where}", flush=True)

    # Time nothing unless this is the same network and objective as the engine's.
    err = grad_check(net, device)
    print(f"gradient check\trel L2 {err:.2e}", flush=True)
    if not err <= 1e-3:
        sys.exit(f"gradient check failed: relative L2 error {err:.2e} > 1e-3")

    photo = Image.open(os.path.join(IMAGES, "coffee.png")).convert("RGB")
    rng = random.Random(0)
    for side in (224, 512):
        rgb = to_tensor(photo.resize((side, side), Image.BILINEAR)).to(device)
        # A fresh copy per run, as the Rust bench starts each run from the photo.
        ms = median_ms(runs, lambda: sync(step(net, rgb.clone(), rng)))
        print(f"gradient step (inception_4c/output)\t{side}x{side}\t{ms:.1f}\t{runs}", flush=True)

    rgb = to_tensor(photo.resize((512, 512), Image.BILINEAR)).to(device)
    preset_runs = min(runs, 3)
    ms = median_ms(preset_runs, lambda: sync(dream(net, rgb.clone(), rng)))
    print(f"canonical preset (4 octaves x 10 steps)\t512x512\t{ms:.1f}\t{preset_runs}")


if __name__ == "__main__":
    main()
