# The README's commands. Both work on a fresh Debian machine with Python >= 3.11, as root:
#   make demo   install everything, then film the bundled photo into ./dioramic-out/
#   make test   install everything, then run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_PHOTO := assets/photos/product_coffee_cup.jpg

.PHONY: demo test bench lint system install web blender clean

demo: install
	$(BIN)/dioramic run $(DEMO_PHOTO) -o dioramic-out

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/pipeline.py $(DEMO_PHOTO)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

install: $(STAMP)

# System packages: EGL + Mesa (llvmpipe) for offscreen OpenGL; python3-venv; Node.js for the glTF
# validator and Chromium for the web app's browser test; libusb-1.0, libGL and libX11, which the Open3D
# wheel links (dioramic reconstruct). Installed with apt only when missing.
system:
	@missing=""; \
	ldconfig -p | grep -q 'libusb-1.0.so.0 ' || missing="$$missing libusb-1.0-0"; \
	ldconfig -p | grep -q 'libGL.so.1 ' || missing="$$missing libgl1"; \
	ldconfig -p | grep -q 'libX11.so.6 ' || missing="$$missing libx11-6"; \
	$(PYTHON) -c 'import ctypes.util as u, sys; sys.exit(0 if u.find_library("EGL") else 1)' || missing="$$missing libegl1 libegl-mesa0 libgl1-mesa-dri libgles2"; \
	[ -e /usr/share/glvnd/egl_vendor.d/50_mesa.json ] || missing="$$missing libegl-mesa0 libgl1-mesa-dri"; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	command -v node >/dev/null && command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml tools/gltf-validator/package-lock.json tools/threejs-player/package-lock.json | system
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	cd tools/gltf-validator && npm ci --no-audit --no-fund --loglevel=error
	cd tools/threejs-player && npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

# Blender as a Python module (bpy 5.0.1: Python 3.11, numpy<2) in its own environment, .venv-blender,
# for `dioramic export --blend`, `--renderer blender` and the Blender tests (skipped without it).
blender: install
	@missing=""; for l in libX11.so.6:libx11-6 libXrender.so.1:libxrender1 libXfixes.so.3:libxfixes3 \
	  libXi.so.6:libxi6 libxkbcommon.so.0:libxkbcommon0 libXext.so.6:libxext6 libSM.so.6:libsm6 libGL.so.1:libgl1; do \
	  ldconfig -p | grep -q "$${l%%:*}" || missing="$$missing $${l##*:}"; done; \
	if [ -n "$$missing" ]; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; fi
	$(BIN)/python -m dioramic.blender setup

# Rebuild the web app's front end (three.js bundle) into src/dioramic/web/static (committed).
web:
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

clean:
	rm -rf $(VENV) .venv-blender dioramic-out tools/gltf-validator/node_modules tools/threejs-player/node_modules
