"""The browser of the end-to-end tests: Debian's headless Chromium driven by Playwright.

Needs `chromium` (apt-get install chromium) and Playwright for Python (pip install playwright; never
`playwright install`: the system browser is used). WebGL runs on SwiftShader, on the CPU. Set
DIORAMIC_WEB_SCREENSHOTS=/some/folder to keep the screenshots; otherwise they go to the test's tmp_path.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

CHROMIUM = os.environ.get("DIORAMIC_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
BACKGROUND = np.array([0x11, 0x15, 0x1D])
"""The 3D viewer's clear colour."""


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DIORAMIC_WEB_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        except sync_api.Error as exc:
            pytest.skip(f"Chromium does not start here: {str(exc).splitlines()[0]}")
        yield browser
        browser.close()


def canvas_pixels(page: Any) -> np.ndarray:
    """(H, W, 3) uint8: what the 3D view shows now."""
    return np.asarray(Image.open(io.BytesIO(page.locator("#stage3d canvas").screenshot())).convert("RGB"))


def covered(pixels: np.ndarray) -> float:
    """The fraction of the 3D view that shows something other than its background."""
    return float((np.abs(pixels.astype(int) - BACKGROUND).sum(axis=2) > 30).mean())
