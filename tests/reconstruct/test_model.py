"""Lenses, posed images and undistorted views."""

from __future__ import annotations

import numpy as np
import pytest

from dioramic.reconstruct.model import Lens, PosedImage, SparseModel, view_of


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("SIMPLE_RADIAL", (500.0, 320.0, 240.0, -0.12)),
        ("RADIAL", (500.0, 320.0, 240.0, 0.05, -0.02)),
        ("OPENCV", (500.0, 510.0, 318.0, 242.0, 0.05, -0.01, 0.001, -0.002)),
    ],
)
def test_undistort_inverts_distort(model: str, params: tuple[float, ...]) -> None:
    lens = Lens(640, 480, model, params)
    xy = np.random.default_rng(0).uniform(-0.6, 0.6, (200, 2))
    np.testing.assert_allclose(lens.undistort(lens.distort(xy)), xy, atol=1e-9)


def test_pixel_rays_land_on_their_pixels() -> None:
    lens = Lens(640, 480, "SIMPLE_RADIAL", (500.0, 330.0, 236.0, -0.15))
    rays = lens.pixel_rays(320, 240)  # half size: pixel (i, j) is photo pixel ((i + 0.5) * 2, ...)
    cam = lens.pinhole
    for j, i in [(0, 0), (120, 160), (239, 319), (17, 250)]:
        distorted = lens.distort(rays[j, i, :2][None])[0]
        pixel = distorted * [cam.fx, cam.fy] + [cam.cx, cam.cy]
        np.testing.assert_allclose(pixel, [(i + 0.5) * 2, (j + 0.5) * 2], atol=0.05)


def test_unknown_lens_models_are_refused() -> None:
    with pytest.raises(ValueError, match="FISHEYE"):
        Lens(10, 10, "FISHEYE", (1.0,))
    with pytest.raises(ValueError, match="takes 4"):
        Lens(10, 10, "SIMPLE_RADIAL", (1.0, 2.0))


def test_view_of_a_pinhole_photo_keeps_its_pixels_and_scales_its_camera() -> None:
    rgb = np.random.default_rng(1).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    image = PosedImage("a.png", Lens(80, 60, "PINHOLE", (70.0, 72.0, 41.0, 29.0)), np.eye(3), np.zeros(3))
    same = view_of(image, rgb, 200)
    np.testing.assert_array_equal(same.image, rgb)
    assert same.valid.all() and same.camera == image.lens.pinhole
    half = view_of(image, rgb, 40)
    assert half.image.shape == (30, 40, 3)
    assert (half.camera.fx, half.camera.cx) == pytest.approx((35.0, 20.5))


def test_view_of_straightens_a_distorted_photo() -> None:
    """A grid of dots photographed through a barrel lens comes out where a pinhole puts it."""
    lens = Lens(400, 300, "SIMPLE_RADIAL", (300.0, 200.0, 150.0, -0.2))
    cam = lens.pinhole
    rgb = np.zeros((300, 400, 3), np.uint8)
    dots = [(-0.5, -0.3), (0.5, 0.3), (0.0, 0.0), (0.4, -0.35)]
    for x, y in dots:
        u, v = lens.distort(np.array([[x, y]]))[0] * [cam.fx, cam.fy] + [cam.cx, cam.cy]
        rgb[int(v) - 1 : int(v) + 2, int(u) - 1 : int(u) + 2] = 255
    view = view_of(PosedImage("d.png", lens, np.eye(3), np.zeros(3)), rgb, 400)
    for x, y in dots:
        u, v = x * cam.fx + cam.cx, y * cam.fy + cam.cy
        patch = view.image[int(v) - 3 : int(v) + 4, int(u) - 3 : int(u) + 4, 0]
        assert patch.max() > 100, (x, y)
    assert view.valid.all()  # barrel distortion: every pinhole pixel has a photo pixel
    pincushion = PosedImage(
        "p.png", Lens(400, 300, "SIMPLE_RADIAL", (300.0, 200.0, 150.0, 0.2)), np.eye(3), np.zeros(3)
    )
    valid = view_of(pincushion, rgb, 400).valid
    assert not valid[0, 0] and valid[150, 200]  # its corners fall outside the photo


def test_shared_points() -> None:
    model = SparseModel((), np.zeros((3, 3)), np.zeros((3, 3), np.uint8),
                        np.array([[0, 0], [0, 1], [1, 0], [2, 1], [2, 0]]), 0.5)  # fmt: skip
    assert model.shared_points(0, 1).tolist() == [0, 2]
