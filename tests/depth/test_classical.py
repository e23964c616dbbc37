"""The classical estimator on synthetic scenes whose depth is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from dioramic.depth.base import DEPTH_BACKENDS, Prediction
from dioramic.depth.classical import (
    ClassicalBackend,
    estimate_inverse_depth,
    find_horizon,
    segment_bottoms,
    superpixels,
)
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


def test_segment_bottoms_known_values() -> None:
    labels = np.array([[1, 1, 2], [1, 3, 2], [1, 3, 3], [4, 4, 4]])
    bottoms = segment_bottoms(labels, quantile=1.0)
    expected = np.array([[2, 2, 1], [2, 2, 1], [2, 2, 2], [3, 3, 3]], np.float32)
    np.testing.assert_array_equal(bottoms, expected)
    # the 0.75 quantile of segment 1's rows (0, 0, 1, 2) is 1
    assert segment_bottoms(labels, quantile=0.75)[0, 0] == 1


def test_segments_ending_above_the_horizon_rest_on_the_segment_below() -> None:
    # 2 sits on 1 (most of its lower boundary), 5 on 2, hence on 1; 3 ends below the horizon
    labels = np.array(
        [
            [5, 5, 3, 3],
            [2, 2, 2, 3],
            [1, 1, 4, 3],
            [1, 1, 4, 4],
        ]
    )
    plain = segment_bottoms(labels, quantile=1.0)
    rested = segment_bottoms(labels, quantile=1.0, horizon_row=2.0)
    assert plain[0, 0] == 0 and plain[1, 0] == 1
    assert rested[0, 0] == 3 and rested[1, 0] == 3  # 5 and 2 take 1's bottom
    still = (labels == 3) | (labels == 4)  # 3 ends at the horizon, 4 at the bottom: they stay
    np.testing.assert_array_equal(rested[still], plain[still])
    # no horizon: nothing moves
    np.testing.assert_array_equal(segment_bottoms(labels, quantile=1.0, horizon_row=None), plain)
    # one segment, or one row: nothing to rest on
    assert np.all(segment_bottoms(np.ones((4, 4), int), horizon_row=3.0) == 3)
    assert np.all(segment_bottoms(np.array([[1, 2, 2]]), horizon_row=3.0) == 0)


def test_superpixels_cover_the_image_and_follow_colour_edges() -> None:
    rgb = np.zeros((96, 128, 3), np.uint8)
    rgb[:, :64] = (200, 40, 40)
    rgb[:, 64:] = (40, 40, 200)
    labels = superpixels(rgb, count=48)
    assert labels.shape == (96, 128) and labels.dtype == np.int32
    assert labels.min() >= 1
    assert 24 <= len(np.unique(labels)) <= 96
    left, right = set(np.unique(labels[:, :62])), set(np.unique(labels[:, 66:]))
    assert not left & right  # no segment crosses the colour edge


def box_on_floor(height: int = 240, width: int = 320) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A plain wall above a grey floor, with a red box standing on the floor near the camera.

    Returns the photo and the box's (top, bottom, left, right) pixel bounds.
    """
    rng = np.random.default_rng(1)
    rgb = np.empty((height, width, 3), np.uint8)
    wall_base = int(0.55 * height)
    rgb[:wall_base] = (215, 205, 180)
    rgb[wall_base:] = (110, 110, 115)
    rgb = np.clip(rgb + rng.normal(0, 2, rgb.shape), 0, 255).astype(np.uint8)
    box = (int(0.35 * height), int(0.85 * height), int(0.3 * width), int(0.55 * width))
    rgb[box[0] : box[1], box[2] : box[3]] = (190, 30, 30)
    return rgb, box


def test_upright_box_stands_at_its_ground_contact() -> None:
    rgb, (top, bottom, left, right) = box_on_floor()
    inv = estimate_inverse_depth(rgb)
    box = inv[top + 8 : bottom - 8, left + 8 : right - 8]
    quarter = box.shape[0] // 4
    upper, lower = box[:quarter].mean(), box[-quarter:].mean()
    rows = (np.arange(top + 8, bottom - 8) + 0.5) / inv.shape[0]  # the ground-plane prior alone
    # pop-up: the box's top is pulled well towards its foot's depth (the prior falls by half)...
    assert upper / lower > 1.2 * rows[:quarter].mean() / rows[-quarter:].mean()
    assert upper > 1.3 * rows[:quarter].mean()
    # ...and it is nearer than the wall beside it at the same height
    wall = inv[top + 8 : top + 20, right + 30 : right + 60].mean()
    assert upper > 1.1 * wall


def test_upright_thing_above_the_horizon_stands_on_the_ground() -> None:
    # a tree or building standing on the floor rises above the horizon: the part above keeps the depth
    # of its ground contact instead of being sent to the horizon's depth
    height, width = 240, 320
    rgb = ground_and_sky(height, width)
    horizon = int(HORIZON * height)
    top, bottom, left, right = horizon - 50, horizon + 60, 30, 90
    rgb[top:bottom, left:right] = (40, 110, 40)
    inv = estimate_inverse_depth(rgb)
    above = inv[top + 8 : horizon - 8, left + 8 : right - 8]
    at_horizon = inv[horizon + 1, left + 8 : right - 8].min()
    foot = inv[bottom - 16 : bottom - 8, left + 8 : right - 8].mean()
    sky = inv[5:30, width // 2 + 40 :].max()
    assert foot > at_horizon > 0.1
    # no part above the horizon is farther than the object where it crosses the horizon
    assert above.min() > 0.95 * at_horizon
    assert above.min() > 100 * max(sky, 1e-4)
