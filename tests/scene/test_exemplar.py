"""Exemplar fills (dioramic.scene.exemplar, the 'exemplar' inpainter of dioramic.scene.layers): holes
continued with the texture around them, never with what the caller excludes (an occluder)."""

from __future__ import annotations

import numpy as np

from dioramic.scene.exemplar import complete
from dioramic.scene.layers import fill_colours

DARK, LIGHT, OCCLUDER = (40, 40, 160), (220, 220, 120), (20, 200, 40)


def _stripes(height: int = 64, width: int = 96, period: int = 4) -> np.ndarray:
    """Vertical stripes, two columns dark and two light."""
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:] = DARK
    rgb[:, (np.arange(width) % period) >= period // 2] = LIGHT
    return rgb


def _column_contrast(rgb: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute difference of horizontally adjacent pixels inside `mask` (stripes: large)."""
    diff = np.abs(np.diff(rgb.astype(np.float64), axis=1)).sum(axis=2)
    both = mask[:, 1:] & mask[:, :-1]
    return float(diff[both].mean())


def _distance_to(rgb: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.linalg.norm(rgb.astype(np.float64) - np.array(colour, np.float64), axis=-1)


def test_stripes_behind_an_occluder_are_continued_with_stripes() -> None:
    rgb = _stripes()
    occluder = np.zeros(rgb.shape[:2], bool)
    occluder[16:48, 30:62] = True
    rgb[occluder] = OCCLUDER
    hole = occluder.copy()
    filled = complete(rgb, hole)
    np.testing.assert_array_equal(filled[~hole], rgb[~hole])  # the known pixels are untouched
    # striped like the surroundings, where a blur would be flat
    around = _column_contrast(rgb, ~hole)
    assert _column_contrast(filled, hole) > 0.5 * around
    assert _distance_to(filled[hole], OCCLUDER).min() > 100  # nothing of the occluder's colour


def test_the_source_mask_keeps_the_fill_off_the_occluder() -> None:
    """The hidden part of a layer is filled while the occluder stays in the image: the occluder is
    excluded from the source, so its colour never appears in the fill."""
    rgb = _stripes()
    occluder = np.zeros(rgb.shape[:2], bool)
    occluder[10:54, 30:62] = True
    rgb[occluder] = OCCLUDER
    hole = np.zeros_like(occluder)
    hole[10:54, 24:36] = True  # the part of the far side the move uncovers, behind the occluder's edge
    filled = complete(rgb, hole | occluder, wanted=hole)
    assert _distance_to(filled[hole], OCCLUDER).min() > 100
    assert _column_contrast(filled, hole) > 0.5 * _column_contrast(rgb, ~(hole | occluder))


def test_the_exemplar_fill_is_deterministic_and_degrades_to_interpolation() -> None:
    rgb = _stripes(32, 48)
    hole = np.zeros(rgb.shape[:2], bool)
    hole[10:20, 10:30] = True
    np.testing.assert_array_equal(complete(rgb, hole, seed=3), complete(rgb, hole, seed=3))
    # no whole patch of source pixels: interpolation, the known pixels untouched, no error
    tiny = _stripes(6, 6)
    small_hole = np.zeros((6, 6), bool)
    small_hole[2:4, 2:4] = True
    out = complete(tiny, small_hole)
    np.testing.assert_array_equal(out[~small_hole], tiny[~small_hole])


def test_a_hidden_layer_is_painted_with_the_far_side_texture() -> None:
    """`fill_colours` with the exemplar inpainter: the layer behind an occluder (near, large inverse
    depth) is striped like the wall behind it (far), never the occluder's colour."""
    rgb = _stripes(64, 96)
    z = np.full(rgb.shape[:2], 1 / 3.0, np.float32)  # the wall at 3 m
    occluder = np.zeros(rgb.shape[:2], bool)
    occluder[12:52, 36:60] = True
    rgb[occluder] = OCCLUDER
    z[occluder] = 1.0  # the occluder at 1 m
    region = np.zeros_like(occluder)
    region[12:52, 36:46] = True  # what a sideways move uncovers behind its left edge
    layer_z = np.where(region, 1 / 3.0, z).astype(np.float32)
    (layer,) = fill_colours(rgb, z, [(region, layer_z)], "exemplar")
    assert _distance_to(layer[region], OCCLUDER).min() > 100
    assert _column_contrast(layer, region) > 0.5 * _column_contrast(rgb, ~occluder)
    (smooth,) = fill_colours(rgb, z, [(region, layer_z)], "smooth")
    assert _column_contrast(smooth, region) < 0.5 * _column_contrast(layer, region)
