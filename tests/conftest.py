"""Shared fixtures: tiny synthetic photos, and paths to the bundled ones."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "assets" / "photos"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the network: the Hugging Face hub is offline for all of them."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def gl_available() -> None:
    """Skip a test that draws when this machine cannot create an EGL OpenGL 3.3 context."""
    from dioramic.errors import DioramicError
    from dioramic.render.context import create_context

    try:
        ctx = create_context("egl")
    except DioramicError as exc:
        pytest.skip(f"no EGL OpenGL context on this machine: {exc}")
    ctx.release()


@pytest.fixture
def photo_paths() -> list[Path]:
    return sorted(PHOTOS.glob("*.jpg"))


@pytest.fixture
def gradient_rgb() -> np.ndarray:
    """(48, 64, 3) uint8 test image with distinct rows and columns."""
    y, x = np.mgrid[0:48, 0:64]
    return np.stack([x * 4, y * 5, (x + y) * 2], axis=2).astype(np.uint8)


# What `make test` installs must be there in CI: a skip for a missing tool is a failure there.
_INSTALLED_BY_MAKE = ("is not installed", "no Chromium", "no EGL OpenGL context")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        if any(marker in reason for marker in _INSTALLED_BY_MAKE):
            report.outcome = "failed"
            report.longrepr = f"CI: a tool that 'make test' installs is missing: {reason}"
