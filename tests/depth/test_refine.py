"""Edge-aware refinement: depth edges move onto the photo's edges, NaNs stay NaNs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dioramic.depth.refine import refine

EDGE = 190  # the colour edge lies between columns EDGE - 1 and EDGE (x = EDGE in pixel-corner units)


def two_colour_photo(height: int = 256, width: int = 384) -> np.ndarray:
    rgb = np.zeros((height, width, 3), np.float64)
    rgb[:, :EDGE] = (200, 60, 40)
    rgb[:, EDGE:] = (40, 90, 200)
    rgb += np.random.default_rng(0).normal(0, 6, rgb.shape)  # sensor noise
    return np.clip(rgb, 0, 255).astype(np.uint8)


def blurred_step(height: int, width: int, at: int, sigma: float) -> np.ndarray:
    step = np.where(np.arange(width) < at, 1.0, 3.0).astype(np.float32)
    return cv2.GaussianBlur(np.tile(step, (height, 1)), (0, 0), sigma)


def crossing(row: np.ndarray) -> float:
    """Position (pixel-corner units) where `row` crosses halfway between its ends."""
    half = (row[0] + row[-1]) / 2
    i = int(np.argmax(row > half))
    return i - 1 + (half - row[i - 1]) / (row[i] - row[i - 1]) + 0.5


@pytest.mark.parametrize("offset", [-3, 0, 3])
def test_step_snaps_to_colour_edge(offset: int) -> None:
    rgb = two_colour_photo()
    values = blurred_step(*rgb.shape[:2], EDGE + offset, sigma=3.0)
    before = crossing(values[128])
    assert abs(before - (EDGE + offset)) < 0.5
    out = refine(values, rgb)
    for r in (10, 128, 250):
        assert abs(crossing(out[r]) - EDGE) <= 1.0


def test_nans_stay_nans_and_do_not_spread() -> None:
    rgb = two_colour_photo(64, 384)
    values = blurred_step(64, 384, EDGE, 3.0)
    values[10:20, 30:60] = np.nan
    values[:, -3:] = np.nan
    out = refine(values, rgb)
    assert out.dtype == np.float32 and out.shape == values.shape
    np.testing.assert_array_equal(np.isnan(out), np.isnan(values))


def test_all_nan_and_constant_inputs() -> None:
    rgb = two_colour_photo(32, 384)
    assert np.isnan(refine(np.full((32, 384), np.nan, np.float32), rgb)).all()
    np.testing.assert_allclose(refine(np.full((32, 384), 2.5, np.float32), rgb), 2.5)


def test_linear_in_units_and_bounded() -> None:
    rgb = two_colour_photo(64, 384)
    values = blurred_step(64, 384, EDGE + 2, 3.0)
    a, b = refine(values, rgb), refine(values * 1000.0, rgb)
    np.testing.assert_allclose(b, a * 1000.0, rtol=1e-4)
    assert a.min() >= values.min() - 1e-6 and a.max() <= values.max() + 1e-6


@pytest.mark.parametrize("shape", [(1, 1), (1, 50), (16, 16), (3, 700)])
def test_tiny_and_thin_inputs(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    out = refine(rng.random(shape, dtype=np.float32), rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    assert out.shape == shape and np.isfinite(out).all()


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        refine(np.zeros((4, 5), np.float32), np.zeros((5, 4, 3), np.uint8))
