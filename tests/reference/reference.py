"""Independent reference for the engine's fidelity tests: BVLC GoogLeNet and DeepDream written
from scratch in JAX (float64), straight from deploy.prototxt and the caffejs dumps.

It writes the small golden files under tests/reference/golden/ that `tests/fidelity.rs` compares
the Burn engine against. Run it only when the fixtures change (needs `pip install jax pillow`):

    python3 tests/reference/reference.py [CAFFEJS_DIR]
"""

import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from PIL import Image

jax.config.update("jax_enable_x64", True)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GOLDEN = os.path.join(HERE, "golden")
SRC = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
    "DEEPDREAM_WEIGHTS_SRC", os.path.join(ROOT, "..", "shared", "weights", "bvlc_googlenet_caffejs"))

# name, input channels, 1x1, 3x3_reduce, 3x3, 5x5_reduce, 5x5, pool_proj (deploy.prototxt)
INCEPTIONS = [
    ("inception_3a", 192, 64, 96, 128, 16, 32, 32),
    ("inception_3b", 256, 128, 128, 192, 32, 96, 64),
    ("inception_4a", 480, 192, 96, 208, 16, 48, 64),
    ("inception_4b", 512, 160, 112, 224, 24, 64, 64),
    ("inception_4c", 512, 128, 128, 256, 24, 64, 64),
    ("inception_4d", 512, 112, 144, 288, 32, 64, 64),
    ("inception_4e", 528, 256, 160, 320, 32, 128, 128),
    ("inception_5a", 832, 256, 160, 320, 32, 128, 128),
    ("inception_5b", 832, 384, 192, 384, 48, 128, 128),
]
POOL_AFTER = {"inception_3b": "pool3/3x3_s2", "inception_4e": "pool4/3x3_s2"}


def load_conv(name, out_c, in_c, k):
    base = os.path.join(SRC, "models", "bvlc_googlenet", "weights", name)
    w = np.fromfile(base + "_filter.bin", dtype="<f4").astype(np.float64)
    b = np.fromfile(base + "_bias.bin", dtype="<f4").astype(np.float64)
    # caffejs stores OHWI; lax wants HWIO.
    return jnp.asarray(w.reshape(out_c, k, k, in_c).transpose(1, 2, 3, 0)), jnp.asarray(b)


def load_params():
    p = {
        "conv1/7x7_s2": load_conv("conv1/7x7_s2", 64, 3, 7),
        "conv2/3x3_reduce": load_conv("conv2/3x3_reduce", 64, 64, 1),
        "conv2/3x3": load_conv("conv2/3x3", 192, 64, 3),
    }
    for name, cin, c1, c3r, c3, c5r, c5, pp in INCEPTIONS:
        p[name + "/1x1"] = load_conv(name + "/1x1", c1, cin, 1)
        p[name + "/3x3_reduce"] = load_conv(name + "/3x3_reduce", c3r, cin, 1)
        p[name + "/3x3"] = load_conv(name + "/3x3", c3, c3r, 3)
        p[name + "/5x5_reduce"] = load_conv(name + "/5x5_reduce", c5r, cin, 1)
        p[name + "/5x5"] = load_conv(name + "/5x5", c5, c5r, 5)
        p[name + "/pool_proj"] = load_conv(name + "/pool_proj", pp, cin, 1)
    return p


def conv_relu(x, wb, stride=1, pad=0):
    w, b = wb
    y = lax.conv_general_dilated(x, w, (stride, stride), [(pad, pad), (pad, pad)],
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                 precision=lax.Precision.HIGHEST)
    return jnp.maximum(y + b, 0.0)


def caffe_pool_size(n, k, s, p):
    out = -(-(n + 2 * p - k) // s) + 1  # ceil
    if p > 0 and (out - 1) * s >= n + p:
        out -= 1
    return out


def max_pool(x, k, s, p):
    _, h, w, _ = x.shape
    oh, ow = caffe_pool_size(h, k, s, p), caffe_pool_size(w, k, s, p)
    pad_h = (oh - 1) * s + k - h - p
    pad_w = (ow - 1) * s + k - w - p
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, k, k, 1), (1, s, s, 1),
                             [(0, 0), (p, pad_h), (p, pad_w), (0, 0)])


def lrn(x, size=5, alpha=1e-4, beta=0.75):
    sq = lax.reduce_window(x * x, 0.0, lax.add, (1, 1, 1, size), (1, 1, 1, 1),
                           [(0, 0), (0, 0), (0, 0), (size // 2, size // 2)])
    return x / (1.0 + alpha / size * sq) ** beta


def forward(params, rgb):
    """rgb: [1, H, W, 3] on 0..255. Returns every blob by its Caffe name (NHWC)."""
    blobs = {}
    x = rgb[..., ::-1] - jnp.array([104.0, 117.0, 123.0])
    x = blobs["conv1/7x7_s2"] = conv_relu(x, params["conv1/7x7_s2"], 2, 3)
    x = blobs["pool1/3x3_s2"] = max_pool(x, 3, 2, 0)
    x = blobs["pool1/norm1"] = lrn(x)
    x = blobs["conv2/3x3_reduce"] = conv_relu(x, params["conv2/3x3_reduce"])
    x = blobs["conv2/3x3"] = conv_relu(x, params["conv2/3x3"], 1, 1)
    x = blobs["conv2/norm2"] = lrn(x)
    x = blobs["pool2/3x3_s2"] = max_pool(x, 3, 2, 0)
    for name, *_ in INCEPTIONS:
        b1 = blobs[name + "/1x1"] = conv_relu(x, params[name + "/1x1"])
        r3 = blobs[name + "/3x3_reduce"] = conv_relu(x, params[name + "/3x3_reduce"])
        b3 = blobs[name + "/3x3"] = conv_relu(r3, params[name + "/3x3"], 1, 1)
        r5 = blobs[name + "/5x5_reduce"] = conv_relu(x, params[name + "/5x5_reduce"])
        b5 = blobs[name + "/5x5"] = conv_relu(r5, params[name + "/5x5"], 1, 2)
        pl = blobs[name + "/pool"] = max_pool(x, 3, 1, 1)
        bp = blobs[name + "/pool_proj"] = conv_relu(pl, params[name + "/pool_proj"])
        x = blobs[name + "/output"] = jnp.concatenate([b1, b3, b5, bp], axis=-1)
        if name in POOL_AFTER:
            x = blobs[POOL_AFTER[name]] = max_pool(x, 3, 2, 0)
    return blobs


def resize(img, h, w):
    """Bilinear, half-pixel centres, no anti-aliasing (PyTorch align_corners=False). img: [H, W, C]."""
    def axis(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0
    y0, y1, fy = axis(img.shape[0], h)
    x0, x1, fx = axis(img.shape[1], w)
    top = img[y0][:, x0] * (1 - fx)[None, :, None] + img[y0][:, x1] * fx[None, :, None]
    bot = img[y1][:, x0] * (1 - fx)[None, :, None] + img[y1][:, x1] * fx[None, :, None]
    return top * (1 - fy)[:, None, None] + bot * fy[:, None, None]


def photo(name, top, left, h, w):
    img = np.asarray(Image.open(os.path.join(ROOT, "tests", "images", name)).convert("RGB"))
    return img[top:top + h, left:left + w].astype(np.float64)


# Fixtures: (id, photo, top, left, height, width). Kept in step with tests/fidelity.rs.
FIXTURES = [("square", "chelsea.png", 60, 180, 128, 128), ("odd", "coffee.png", 100, 200, 91, 119)]
STAT_LAYERS = ["conv1/7x7_s2", "pool1/3x3_s2", "pool1/norm1", "conv2/3x3_reduce", "conv2/3x3",
               "conv2/norm2", "pool2/3x3_s2", "inception_3a/output", "inception_3b/pool_proj",
               "pool3/3x3_s2", "inception_4a/5x5", "inception_4c/output", "inception_4d/3x3_reduce",
               "inception_4e/output", "pool4/3x3_s2", "inception_5b/output"]
OBJECTIVE = "inception_4c/output"
DREAM = ("dream", "coffee.png", 140, 220, 120, 160)


def main():
    os.makedirs(GOLDEN, exist_ok=True)
    params = load_params()
    blobs_of = jax.jit(lambda x: forward(params, x))

    def objective(x):
        a = forward(params, x)[OBJECTIVE]
        return jnp.mean(a * a)

    grad_of = jax.jit(jax.grad(objective))
    summary = {"objective": OBJECTIVE, "fixtures": {}}
    for fid, name, top, left, h, w in FIXTURES:
        x = jnp.asarray(photo(name, top, left, h, w))[None]
        blobs = blobs_of(x)
        stats = {}
        for layer in STAT_LAYERS:
            a = np.asarray(blobs[layer])[0]
            stats[layer] = {"shape": [a.shape[2], a.shape[0], a.shape[1]],
                            "mean": float(a.mean()), "mean_sq": float((a * a).mean())}
        g = np.asarray(grad_of(x))[0].transpose(2, 0, 1)  # [3, H, W], RGB
        g.astype("<f4").tofile(os.path.join(GOLDEN, f"grad-{fid}.f32"))
        summary["fixtures"][fid] = {"photo": name, "top": top, "left": left, "height": h,
                                    "width": w, "stats": stats,
                                    "objective_value": float(objective(x)),
                                    "grad_l2": float(np.sqrt((g * g).sum()))}
        print(fid, h, w, "objective", summary["fixtures"][fid]["objective_value"])

    # A short dream without jitter: 3 octaves x 1 step, one tile, clipped after every step.
    fid, name, top, left, h, w = DREAM
    octave_n, scale, steps, step_size = 3, 1.4, 1, 1.5
    img = photo(name, top, left, h, w)
    details = []
    for _ in range(octave_n - 1):
        hh, ww = img.shape[:2]
        lo = resize(img, int(hh / scale), int(ww / scale))
        details.append(img - resize(lo, hh, ww))
        img = lo
    for octave in range(octave_n):
        if octave > 0:
            hi = details[-octave]
            img = resize(img, hi.shape[0], hi.shape[1]) + hi
        for _ in range(steps):
            g = np.asarray(grad_of(jnp.asarray(img)[None]))[0]
            img = np.clip(img + g * (step_size / (np.abs(g).mean() + 1e-7)), 0.0, 255.0)
    out = np.clip(np.round(img), 0, 255).astype(np.uint8)
    Image.fromarray(out).save(os.path.join(GOLDEN, "dream-3x1.png"))
    summary["dream"] = {"photo": name, "top": top, "left": left, "height": h, "width": w,
                        "octaves": octave_n, "octave_scale": scale, "steps": steps,
                        "step_size": step_size, "layer": OBJECTIVE, "jitter": 0}
    with open(os.path.join(GOLDEN, "reference.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", GOLDEN)


if __name__ == "__main__":
    main()
