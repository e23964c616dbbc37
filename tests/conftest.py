"""Shared fixtures: tiny synthetic photos, and paths to the bundled ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "assets" / "photos"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the network: the Hugging Face hub is offline for all of them."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def photo_paths() -> list[Path]:
    return sorted(PHOTOS.glob("*.jpg"))


@pytest.fixture
def gradient_rgb() -> np.ndarray:
    """(48, 64, 3) uint8 test image with distinct rows and columns."""
    y, x = np.mgrid[0:48, 0:64]
    return np.stack([x * 4, y * 5, (x + y) * 2], axis=2).astype(np.uint8)
