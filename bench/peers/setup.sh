#!/usr/bin/env bash
# Sets up the Python venv for the PyTorch peer of `deepdream bench` (bench/peers/torch_peer.py):
#   ${DEEPDREAM_CACHE:-~/.cache/deepdream}/peers/venv, with the packages in requirements.txt.
# Idempotent: when the venv already holds this requirements.txt and imports, it prints nothing.
set -euo pipefail
# DEEPDREAM_PEER_PYTHON: a Python that already has the packages (say, a machine's own PyTorch).
if [[ -n "${DEEPDREAM_PEER_PYTHON:-}" ]]; then
  "$DEEPDREAM_PEER_PYTHON" -c 'import torch, numpy, PIL' ||
    { echo "DEEPDREAM_PEER_PYTHON=$DEEPDREAM_PEER_PYTHON cannot import torch, numpy and PIL" >&2; exit 1; }
  exit 0
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${DEEPDREAM_CACHE:-$HOME/.cache/deepdream}/peers/venv"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] &&
  "$venv/bin/python" -c 'import torch, numpy, PIL' 2>/dev/null; then
  exit 0
fi

echo "setting up $venv (torch from PyPI comes with its CUDA libraries: a few GB)" >&2
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
# The peer needs a convolution's gradient on the CPU; check that before stamping the venv.
"$venv/bin/python" -c '
import torch
x = torch.ones(1, 1, 8, 8, requires_grad=True)
torch.nn.functional.conv2d(x, torch.ones(1, 1, 3, 3)).sum().backward()
assert x.grad.sum().item() > 0
'
echo "$want" >"$stamp"
echo "ready: $venv/bin/python bench/peers/torch_peer.py" >&2
