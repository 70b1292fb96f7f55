#!/usr/bin/env bash
# `make bench-gpu-pack`: everything `make bench-gpu` takes, in one folder for a GPU machine with no
# network and no checkout (bench/gpu/pack, git-ignored; the device tool carries it: at most 64 MiB).
# The repository's layout inside it, so the benchmark's own paths hold; its run.sh runs it there.
# What barely compresses (weights) travels as is, the binaries xz-compressed (run.sh unpacks them
# with Python's lzma; gzip left the pack over 64 MiB with the working tree, which travels too).
#
#   bash bench/gpu/pack.sh [--node]
#
# --node: also /usr/bin/node, gzipped, in bench/gpu/pack-node (a second carry: with it the pack is
# over 64 MiB), for a machine without Node; run.sh finds it there.
# Inputs: DEEPDREAM_CLI or $CARGO_TARGET_DIR/release/deepdream, www/pkg (make wasm), the weights
# (make weights), DEEPDREAM_WEIGHTS_SRC (caffejs), the root's and bench/peers' node_modules (npm ci).
# A missing input is listed as MISSING in the MANIFEST and fails the script at the end.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/bench/gpu/pack"
cli="${DEEPDREAM_CLI:-${CARGO_TARGET_DIR:-$HOME/.cache/deepdream/target}/release/deepdream}"
caffejs="${DEEPDREAM_WEIGHTS_SRC:-$root/../shared/weights/bvlc_googlenet_caffejs}"
missing=()

rm -rf "$out"
mkdir -p "$out"
cd "$root"
# put SRC [DEST]: one file into the pack at DEST (default: SRC's path in the repository).
put() {
  if [[ -f "$1" ]]; then
    install -D -m "$([[ -x "$1" ]] && echo 755 || echo 644)" "$1" "$out/${2:-$1}"
  else
    missing+=("$1")
  fi
}
# squeeze DEST: compresses a packed file (DEST.xz); run.sh unpacks it.
squeeze() { [[ ! -f "$out/$1" ]] || xz -9 -T0 "$out/$1"; }

# The benchmark and what it imports.
for f in package.json bench/gpu/{bench.py,dawn.mjs,torch_big.py} bench/peers/{table.py,torch_peer.py,package.json,fixture.mjs} \
  bench/peers/tfjs/googlenet.js www/png.mjs; do put "$f"; done
put bench/gpu/run.sh run.sh
# dawn.node for linux-x64 only (the package carries five platforms, 132 MB); its index.js needs
# nothing but Node's own modules.
webgpu=node_modules/webgpu
for f in package.json index.js dist/linux-x64/dawn.node; do put "$webgpu/$f"; done
squeeze "$webgpu/dist/linux-x64/dawn.node"
# TF.js: the two UMD bundles bench/peers/tfjs/index.html loads.
for f in tfjs/dist/tf.min.js tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js; do
  put "bench/peers/node_modules/@tensorflow/$f"
done
# The page's engine: wasm-bindgen's glue (and any snippets) and the wasm.
if [[ -f www/pkg/deepdream_bg.wasm ]]; then
  (cd www/pkg && find . -type f ! -name '*.d.ts' ! -name package.json ! -name .gitignore) |
    while read -r f; do install -D -m 644 "www/pkg/$f" "$out/www/pkg/$f"; done
  squeeze www/pkg/deepdream_bg.wasm
else
  missing+=(www/pkg/deepdream_bg.wasm)
fi
# The native CLI, stripped.
if [[ -x "$cli" ]]; then
  mkdir -p "$out/bin" && strip -o "$out/bin/deepdream" "$cli" && squeeze bin/deepdream
else
  missing+=("$cli")
fi
put weights/googlenet.safetensors
# The photos and the reference gradient the peers check against.
for f in tests/images/{coffee,chelsea}.png tests/reference/golden/{reference.json,grad-square.f32}; do put "$f"; done
# The caffejs files TF.js and PyTorch read: the layers up to inception_4c/output (googlenet.js,
# torch_peer.py), not the rest of the network.
for layer in conv1 conv2 inception_3a inception_3b inception_4a inception_4b inception_4c; do
  dir="$caffejs/models/bvlc_googlenet/weights/$layer"
  if [[ -d "$dir" ]]; then
    for f in "$dir"/*.bin; do put "$f" "caffejs/models/bvlc_googlenet/weights/$layer/$(basename "$f")"; done
  else
    missing+=("$dir")
  fi
done
# The Vulkan loader, and libglvnd which NVIDIA's ICD (libGLX_nvidia.so.0) loads, for a machine
# whose driver brought only its ICD (README, "Troubleshooting").
for deb in libvulkan1 libglvnd0 libglx0; do
  (cd "$out" && apt-get download -q "$deb" >/dev/null 2>&1) ||
    missing+=("$deb .deb (apt-get download $deb)")
done

if [[ "${1:-}" == --node ]]; then
  rm -rf "$root/bench/gpu/pack-node" && mkdir -p "$root/bench/gpu/pack-node"
  gzip -9 -c "$(command -v node)" >"$root/bench/gpu/pack-node/node.gz"
  echo "bench/gpu/pack-node: $(du -sh "$root/bench/gpu/pack-node" | cut -f1) (node $(node --version))"
fi

cd "$out"
{
  find . -type f ! -name MANIFEST -printf '%s\t%P\n' | sort -t$'\t' -k2
  for m in "${missing[@]}"; do printf 'MISSING\t%s\n' "$m"; done
} >MANIFEST
# The MANIFEST has every file; here the caffejs files are one line.
grep -v $'\tcaffejs/' MANIFEST
echo "$(du -sb caffejs | cut -f1)	caffejs/ ($(find caffejs -type f | wc -l) files: conv1 to inception_4c)"
total=$(du -sb . | cut -f1)
echo "bench/gpu/pack: $((total / 1048576)) MiB ($total bytes; the device tool carries at most 64 MiB)"
if ((${#missing[@]})); then
  echo "missing: ${missing[*]}" >&2
  exit 1
fi
