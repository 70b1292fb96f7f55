#!/usr/bin/env bash
# `make bench-gpu` from the pack alone (bench/gpu/pack.sh puts this file at the pack's top): on a GPU
# machine with no network, its own Node (or ../pack-node) and its driver's Vulkan ICD. PyTorch runs
# when the machine's python3 (or DEEPDREAM_PEER_PYTHON) has it. Arguments go to bench.py; without
# any: --runs 5 --big --tune --budget 420, so the table comes within 8 minutes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export PATH="$PATH:/sbin:/usr/sbin" # ldconfig
args=("$@")
((${#args[@]})) || args=(--runs 5 --big --tune --budget 420)

# What travels xz-compressed, unpacked with Python's lzma (no xz needed); kept, so that the next
# run can unpack it again.
for xz in node_modules/webgpu/dist/linux-x64/dawn.node.xz www/pkg/deepdream_bg.wasm.xz bin/deepdream.xz; do
  if [[ -f "$xz" ]]; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$xz" "${xz%.xz}"
  fi
done
if [[ -f bin/deepdream ]]; then chmod +x bin/deepdream; fi

# The Vulkan loader (wgpu and Dawn both open libvulkan.so.1) and libglvnd (NVIDIA's ICD loads
# libGLdispatch and libGLX through it), from the pack for what the machine lacks.
for lib in libvulkan.so.1:libvulkan1 libGLdispatch.so.0:libglvnd0 libGLX.so.0:libglx0; do
  if ! ldconfig -p | grep "${lib%%:*} " >/dev/null; then
    dpkg -x "${lib#*:}"_*.deb vulkan
    echo "run.sh: ${lib%%:*} from the pack ($(ls "${lib#*:}"_*.deb))" >&2
  fi
done
if [[ -d vulkan ]]; then
  export LD_LIBRARY_PATH="$here/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# NVIDIA's ICD: the driver's own JSON, else one written here for the driver's library.
icds=(/usr/share/vulkan/icd.d/nvidia*.json /etc/vulkan/icd.d/nvidia*.json)
if [[ -z "${VK_ICD_FILENAMES:-}" && ! -e "${icds[0]}" && ! -e "${icds[1]}" ]] &&
  ldconfig -p | grep 'libGLX_nvidia\.so\.0 ' >/dev/null; then
  echo '{"file_format_version": "1.0.0", "ICD": {"library_path": "libGLX_nvidia.so.0", "api_version": "1.3.0"}}' \
    >nvidia_icd.json
  export VK_ICD_FILENAMES="$here/nvidia_icd.json"
  echo "run.sh: no NVIDIA Vulkan ICD file; wrote nvidia_icd.json for libGLX_nvidia.so.0" >&2
fi
if ! command -v node >/dev/null && [[ -f ../pack-node/node.gz ]]; then
  gunzip -kf ../pack-node/node.gz && chmod +x ../pack-node/node
  export PATH="$(cd ../pack-node && pwd):$PATH"
fi
if [[ -z "${DEEPDREAM_PEER_PYTHON:-}" ]] && python3 -c 'import torch, numpy, PIL' 2>/dev/null; then
  export DEEPDREAM_PEER_PYTHON="$(command -v python3)"
fi
echo "run.sh: node $(node --version 2>/dev/null || echo 'missing: the Dawn parts cannot run')," \
  "$(nvidia-smi -L 2>/dev/null | head -1)" >&2

export DEEPDREAM_CLI="$here/bin/deepdream" DEEPDREAM_WEIGHTS="$here/weights/googlenet.safetensors" \
  DEEPDREAM_WEIGHTS_SRC="$here/caffejs"
exec python3 bench/gpu/bench.py "${args[@]}"
