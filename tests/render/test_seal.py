"""Closing a frame's pinhole gaps on the CPU (`dioramic.render.seal.seal_frame`)."""

from __future__ import annotations

import numpy as np
import pytest

from dioramic.render import seal
from dioramic.render.seal import SEAL_RADIUS, seal_frame

RED, GREEN, BLUE = (220, 40, 40), (40, 200, 60), (20, 30, 200)


def _frame(width: int, open_columns: int) -> np.ndarray:
    """RGBA: red left of a 2-pixel crack at columns 100-101, green right of it, and the first
    `open_columns` columns open background (alpha 0, the background's colour)."""
    rgba = np.zeros((80, width, 4), np.uint8)
    rgba[:, :100] = (*RED, 255)
    rgba[:, 102:] = (*GREEN, 255)
    rgba[:, 100:102] = (*BLUE, 0)
    rgba[:, :open_columns] = (*BLUE, 0)
    return rgba


@pytest.mark.parametrize("open_columns", [0, 90])
def test_a_crack_takes_its_sides_and_open_background_stays(open_columns: int) -> None:
    rgba = _frame(200, open_columns)
    gaps = int((rgba[:, :, 3] < 255).sum())
    assert (gaps > seal._MANY) == bool(open_columns)  # both ways of finding the gaps to look along
    rgb = seal_frame(rgba, BLUE)
    red, green = np.array(RED), np.array(GREEN)
    np.testing.assert_allclose(rgb[:, 100], np.broadcast_to((2 * red + green) / 3, (80, 3)), atol=1)
    np.testing.assert_allclose(rgb[:, 101], np.broadcast_to((red + 2 * green) / 3, (80, 3)), atol=1)
    assert (rgb[:, :open_columns] == BLUE).all()  # nothing encloses it: it keeps the background
    np.testing.assert_array_equal(rgb[:, open_columns:100], np.broadcast_to(RED, (80, 100 - open_columns, 3)))
    np.testing.assert_array_equal(rgb[:, 102:], np.broadcast_to(GREEN, (80, 98, 3)))


def test_a_gap_wider_than_the_radius_and_a_partly_covered_pixel() -> None:
    rgba = _frame(200, 0)
    rgba[:, 100 : 102 + 2 * SEAL_RADIUS] = (*BLUE, 0)  # too wide to be a crack
    rgba[5, 50] = (120, 35, 120, 128)  # half red over the blue background, inside the red
    rgb = seal_frame(rgba, BLUE)
    assert (rgb[:, 100 : 102 + 2 * SEAL_RADIUS] == BLUE).all()
    np.testing.assert_allclose(rgb[5, 50], RED, atol=2)  # its uncovered half takes its neighbours'
