#!/usr/bin/env bash
# The renderer's speed on a machine with an NVIDIA GPU: bench/render.py through EGL on the NVIDIA
# driver, the four bundled photos at 1280x720 and 1920x1080, render only (frames drawn and read
# back, 20 s of video each) then render + encode as `dioramic run` does it (5 s each). About three
# minutes. Prints which OpenGL renderer each run used: if it says llvmpipe, the GPU was not used.
#
#   bench/gpu.sh                    # with .venv/bin/python, or python3 where there is no .venv
#   PYTHON=/path/to/python bench/gpu.sh
#
# The tables go to stdout and to $OUT (default /tmp/dioramic-gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
OUT=${OUT:-/tmp/dioramic-gpu}
mkdir -p "$OUT"

"$PY" -c 'import numpy, cv2, moderngl, av, PIL, scipy' 2>/dev/null || {
    echo "missing Python packages: install the project first (make install, or pip install -e '.[render]')" >&2
    exit 1
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "(no nvidia-smi)"
# glvnd may hand EGL to Mesa (llvmpipe) first: ask for the NVIDIA vendor where its file is installed
for vendor in /usr/share/glvnd/egl_vendor.d/10_nvidia.json /etc/glvnd/egl_vendor.d/10_nvidia.json; do
    if [ -e "$vendor" ]; then
        export __EGL_VENDOR_LIBRARY_FILENAMES="$vendor"
        break
    fi
done
"$PY" -c 'from dioramic.render.context import create_context
ctx = create_context("egl"); print("EGL renderer:", ctx.info["GL_RENDERER"], ctx.info["GL_VERSION"])'

timeout 420 "$PY" bench/render.py --photos all --sizes 1280x720,1920x1080 --render-only --duration 20 \
    | tee "$OUT/render_only.txt"
timeout 420 "$PY" bench/render.py --photos all --sizes 1280x720,1920x1080 --no-reference \
    | tee "$OUT/render_encode.txt"
