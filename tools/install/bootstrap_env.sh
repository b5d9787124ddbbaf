#!/usr/bin/env bash
# Create (or reuse) the project-local virtual environment and install everything pointdet
# needs. Idempotent: a second run with the same requirements installs nothing.
#
# Environment options:
#   POINTDET_VENV=path        where the venv lives (default: <repo>/.venv)
#   POINTDET_SYSTEM_SITE=1    create the venv with --system-site-packages, so a detectron2
#                             (and torch) already installed in the base interpreter is reused
#   POINTDET_D2=source        install the official detectron2 from its git source (GPU machines
#                             with internet; needs CUDA toolkit + compiler) instead of the
#                             repacked pure-Python wheel
#   POINTDET_TORCH="torch==2.14.1 torchvision==0.29.1"   override the torch pair
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${POINTDET_VENV:-$repo/.venv}"
torch_spec="${POINTDET_TORCH:-torch==2.14.1 torchvision==0.29.1}"
d2_route="${POINTDET_D2:-wheel}"
reqs="$repo/tools/install/requirements.txt"
stamp="$venv/.pointdet-install-stamp"
want="$( (cat "$reqs" "$repo/setup.py" "${BASH_SOURCE[0]}" "$repo/tools/install/repack_detectron2.py"; echo "$torch_spec $d2_route") | sha256sum | cut -c1-16)"

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

py="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "[pointdet] creating virtual environment $venv"
  if [ "${POINTDET_SYSTEM_SITE:-0}" = 1 ]; then
    "$py" -m venv --system-site-packages "$venv"
  else
    "$py" -m venv "$venv"
  fi
fi
vpy="$venv/bin/python"
# pip install, quiet; this machine's extra local indexes make pip warn about every missing
# folder, which hides real messages: drop those lines, print everything on failure
pipi() {
  local log
  log="$(mktemp)"
  if ! "$vpy" -m pip install --disable-pip-version-check -q "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  grep -v "is ignored: it is neither a file nor a directory" "$log" || true
  rm -f "$log"
}

echo "[pointdet] installing build tools"
pipi "pip>=23" "setuptools<81" wheel

if "$vpy" -c "import torch, torchvision" 2>/dev/null; then
  echo "[pointdet] torch $("$vpy" -c 'import torch; print(torch.__version__)') already importable: kept"
else
  echo "[pointdet] installing $torch_spec (large; taken from the local wheel cache when present)"
  # shellcheck disable=SC2086
  pipi $torch_spec
fi

echo "[pointdet] installing requirements"
pipi -r "$reqs"

if "$vpy" -c "import detectron2" 2>/dev/null; then
  echo "[pointdet] detectron2 $("$vpy" -c 'import detectron2; print(detectron2.__version__)') already importable: kept"
elif [ "$d2_route" = source ]; then
  echo "[pointdet] installing the official detectron2 source build"
  pipi --no-build-isolation "git+https://github.com/facebookresearch/detectron2.git"
else
  echo "[pointdet] installing detectron2 (pure-Python repack of sal-detectron2==0.7.2)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  "$vpy" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.10 --platform linux_x86_64 -d "$tmp/src" sal-detectron2==0.7.2
  whl="$("$vpy" "$repo/tools/install/repack_detectron2.py" "$tmp"/src/*.whl "$tmp/out")"
  pipi "$whl"  # its declared dependencies (omegaconf, hydra-core, ...) come along
fi

echo "[pointdet] installing pointdet (editable)"
pipi --no-deps --no-build-isolation -e "$repo"
"$vpy" -c "import detectron2, torch, torchvision, pointdet; from torchvision.ops import nms"
echo "$want" > "$stamp"
echo "[pointdet] environment ready: $venv"
