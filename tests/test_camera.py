"""Camera intrinsics, unprojection and projection (dioramic.camera)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dioramic.camera import camera_for_photo, project, texture_coords, unproject, unproject_pixels
from dioramic.errors import UsageError
from dioramic.types import DEFAULT_FOCAL_35MM, Camera, Photo


def _photo(width: int, height: int, focal: float | None = None) -> Photo:
    return Photo(np.zeros((height, width, 3), np.uint8), focal_length_35mm=focal)


def test_exif_focal_length_gives_the_diagonal_field_of_view() -> None:
    camera = camera_for_photo(_photo(600, 400, focal=24.0))
    diagonal_fov = 2 * math.atan(math.hypot(600, 400) / 2 / camera.fx)
    assert diagonal_fov == pytest.approx(2 * math.atan(math.hypot(36, 24) / 2 / 24.0))
    assert (camera.cx, camera.cy, camera.fx) == (300.0, 200.0, camera.fy)


def test_default_focal_length_when_exif_has_none() -> None:
    assert camera_for_photo(_photo(600, 400)) == camera_for_photo(_photo(600, 400, DEFAULT_FOCAL_35MM))


@pytest.mark.parametrize(("width", "height"), [(640, 480), (480, 640), (4096, 512)])
def test_fov_option_is_the_horizontal_field_of_view(width: int, height: int) -> None:
    camera = camera_for_photo(_photo(width, height, focal=50.0), fov_deg=70.0)
    assert math.degrees(camera.fov_x) == pytest.approx(70.0)
    assert camera.fx == camera.fy


@pytest.mark.parametrize("fov", [0.0, 0.5, 171.0, 180.0])
def test_fov_out_of_range_is_a_usage_error(fov: float) -> None:
    with pytest.raises(UsageError, match="horizontal"):
        camera_for_photo(_photo(64, 48), fov_deg=fov)


def test_unproject_known_values() -> None:
    camera = Camera(4, 2, fx=2.0, fy=2.0, cx=2.0, cy=1.0)
    depth = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]], np.float32)
    points = unproject(depth, camera)
    assert points.shape == (2, 4, 3)
    assert points.dtype == np.float32
    # pixel (col 3, row 0): centre (3.5, 0.5), depth 4 -> x = 1.5 / 2 * 4, y = +0.5 / 2 * 4 (up), z = -4
    np.testing.assert_allclose(points[0, 3], [3.0, 1.0, -4.0])
    np.testing.assert_allclose(points[1, 0], [-0.75, -0.25, -1.0])


def test_unproject_rescales_the_camera_to_the_depth_size() -> None:
    camera = Camera.from_fov(64, 48, 50.0)
    small = unproject(np.full((24, 32), 2.0, np.float32), camera)
    # the centre of the half-size pixel (0, 0) is the point (1, 1) of the full-size image
    expected = unproject_pixels(np.array(1.0), np.array(1.0), np.array(2.0), camera)
    np.testing.assert_allclose(small[0, 0], expected, rtol=1e-6)


@settings(max_examples=50, deadline=None)
@given(
    u=st.floats(-100, 200),
    v=st.floats(-100, 200),
    depth=st.floats(0.01, 1000.0),
    fov=st.floats(10.0, 150.0),
)
def test_project_inverts_unproject(u: float, v: float, depth: float, fov: float) -> None:
    camera = Camera.from_fov(120, 80, fov)
    point = unproject_pixels(np.array(u), np.array(v), np.array(depth), camera)
    assert point[2] == pytest.approx(-depth)
    np.testing.assert_allclose(
        project(point, camera), [u, v], rtol=1e-9, atol=1e-7 * max(1.0, abs(u) + abs(v))
    )


def test_texture_coords_of_the_frame_corners() -> None:
    camera = Camera.from_fov(40, 30, 60.0)
    corners = unproject_pixels(np.array([0.0, 40.0]), np.array([0.0, 30.0]), np.array([3.0, 5.0]), camera)
    np.testing.assert_allclose(texture_coords(corners, camera), [[0.0, 0.0], [1.0, 1.0]], atol=1e-12)


def test_y_is_up_and_the_camera_looks_down_minus_z() -> None:
    camera = Camera.from_fov(10, 10, 60.0)
    points = unproject(np.ones((10, 10), np.float32), camera)
    assert points[0, 5, 1] > 0 > points[9, 5, 1]  # top row is up
    assert points[5, 0, 0] < 0 < points[5, 9, 0]  # left column is left
    assert (points[..., 2] < 0).all()
