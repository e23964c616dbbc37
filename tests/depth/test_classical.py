"""The classical estimator on synthetic scenes whose depth is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from dioramic.depth.base import DEPTH_BACKENDS, Prediction
from dioramic.depth.classical import ClassicalBackend, estimate_inverse_depth, find_horizon
from dioramic.types import Photo

HORIZON = 0.4


def ground_and_sky(height: int = 240, width: int = 320) -> np.ndarray:
    """A chequered floor seen by a level pinhole camera below a blue sky; horizon at HORIZON * height."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    horizon = HORIZON * height
    f, cam_height = 300.0, 1.5
    below = np.maximum(v - horizon, 1e-6)
    z = f * cam_height / below  # depth along the optical axis of the floor point seen at (u, v)
    x = (u - width / 2) * z / f
    checker = ((np.floor(x / 1.0) + np.floor(z / 2.0)) % 2).astype(bool)
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:] = np.where(checker[..., None], [150, 120, 90], [90, 70, 50])
    sky = v < horizon
    t = (v / horizon)[..., None]
    rgb[sky] = (np.array([90, 150, 235]) * (1 - 0.2 * t) + 40 * t).astype(np.uint8)[sky]
    return rgb


def test_registered_with_name_and_description() -> None:
    cls = DEPTH_BACKENDS.get("classical")
    assert cls is ClassicalBackend
    assert cls.name == "classical" and cls.description


def test_horizon_found_at_the_vanishing_row() -> None:
    rgb = ground_and_sky()
    import cv2

    horizon = find_horizon(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    assert horizon is not None
    assert abs(horizon.row - HORIZON * 240) < 0.05 * 240
    assert abs(horizon.column - 160) < 0.1 * 320


def test_ground_recedes_to_the_horizon_and_sky_is_farthest() -> None:
    rgb = ground_and_sky()
    inv = estimate_inverse_depth(rgb)
    h, w = inv.shape
    col = inv[:, w // 2]
    ground = col[int(HORIZON * h) + 6 :]
    # inverse depth shrinks going up the floor towards the horizon (larger = nearer)
    assert np.all(np.diff(ground) >= -1e-3)
    assert ground[-1] > 5 * ground[0] > 0
    sky = inv[: int(HORIZON * h) - 6]
    assert sky.max() < inv[int(HORIZON * h) + 6 :].min()
    assert sky.max() <= 1e-3


def test_backend_prediction_shape_dtype_kind() -> None:
    rgb = ground_and_sky(150, 500)
    pred = ClassicalBackend().predict(Photo(rgb))
    assert isinstance(pred, Prediction)
    assert pred.kind == "inverse"
    assert pred.values.shape == (150, 500) and pred.values.dtype == np.float32
    assert np.isfinite(pred.values).all()


def test_featureless_photo_falls_back_to_the_ground_plane() -> None:
    rgb = np.full((120, 90, 3), 128, np.uint8)
    inv = estimate_inverse_depth(rgb)
    assert np.isfinite(inv).all()
    rows = inv.mean(axis=1)
    assert np.all(np.diff(rows) >= -1e-4) and rows[-1] > rows[0]


@pytest.mark.parametrize("shape", [(16, 16), (1, 1), (2, 3), (8, 600), (600, 8), (5, 1000)])
def test_tiny_and_extreme_aspect_photos(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    inv = estimate_inverse_depth(rgb)
    assert inv.shape == shape and inv.dtype == np.float32
    assert np.isfinite(inv).all()


def test_rejects_non_rgb() -> None:
    with pytest.raises(ValueError):
        estimate_inverse_depth(np.zeros((10, 10), np.uint8))
