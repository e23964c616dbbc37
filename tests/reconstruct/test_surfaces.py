"""Each photo's own surface for view-dependent rendering."""

from __future__ import annotations

import numpy as np

from dioramic.reconstruct.model import View
from dioramic.reconstruct.placement import Placement
from dioramic.reconstruct.surfaces import SurfaceOptions, far_fill, photo_surfaces, surface_mesh
from dioramic.types import Camera, ViewCircle


def test_holes_take_the_far_side() -> None:
    depth = np.full((8, 8), 2.0)
    depth[:, 5:] = 6.0
    known = np.ones((8, 8), bool)
    known[2:6, 3:6] = False  # a hole straddling the near and far sides
    filled = far_fill(np.where(known, depth, 0.0), known)
    assert (filled[known] == depth[known]).all()
    assert filled[~known].min() >= 2.0 and filled[3, 5] > 4.0  # never nearer than what surrounds it


def test_two_planes_are_cut_apart_and_flat_parts_are_coarse() -> None:
    depth = np.full((96, 128), 1.0)
    depth[:, 64:] = 3.0
    _, _, z, faces = surface_mesh(depth, 100.0, 0.05, SurfaceOptions(resolution=64))
    spans = z[faces].max(axis=1) / z[faces].min(axis=1)
    assert spans.max() < 1.01  # no triangle joins the planes
    assert len(faces) < 0.25 * 2 * 64 * 48  # flat parts merged into large triangles
    assert set(np.round(z, 6)) == {1.0, 3.0}


def test_a_blurred_depth_edge_becomes_a_cut_not_a_sheet() -> None:
    """Stereo's mixed pixels at an edge (a ramp a few pixels wide from 1 m to 3 m) would hang as a
    sheet between the planes for a camera a photo's spacing away: the ramp becomes a step, cut."""
    depth = np.full((96, 128), 1.0)
    depth[:, 64:] = 3.0
    depth[:, 61:67] = np.linspace(1.0, 3.0, 8)[1:-1]  # six mixed pixels
    # 1000 px focal length, photos 0.05 m apart: the step's parallax is 33 px, the ramp's 6 px would
    # stretch to 40
    _, _, z, faces = surface_mesh(depth, 1000.0, 0.05, SurfaceOptions(resolution=64))
    near = z[faces] < 1.2
    assert (near.all(axis=1) | ~near.any(axis=1)).all()  # each triangle near or far, none between
    assert np.isclose(z, 1.0).sum() > 0.4 * len(z) and (z > 2.5).sum() > 0.4 * len(z)


def test_surfaces_stand_where_the_photo_saw_them() -> None:
    camera = Camera(32, 24, 30.0, 30.0, 16.0, 12.0)
    image = np.zeros((24, 32, 3), np.uint8)
    image[:, :, 0] = np.arange(32, dtype=np.uint8)[None, :] * 8
    view = View("a.png", image, np.ones((24, 32), bool), camera, np.eye(3), np.zeros(3))
    depth = np.full((24, 32), 2.0, np.float32)
    depth[:, :4] = 0.0  # not measured: filled in
    circle = ViewCircle(np.array([0.0, 0.0, -2.0]), np.array([0.0, 1.0, 0.0]), 1.0, 0.0)
    cv_to_gl = np.diag([1.0, -1.0, -1.0])
    placement = Placement(0.5, cv_to_gl, np.zeros(3), 0, circle, 1.0)  # world metres x 0.5
    (surface,) = photo_surfaces(
        [view], {0: depth}, [0], [view], None, placement, SurfaceOptions(resolution=16)
    )
    assert surface.image.shape == (24, 32, 4)
    assert (surface.image[:, :4, 3] == 0).all() and (surface.image[:, 6:, 3] == 255).all()
    np.testing.assert_allclose(surface.position, 0.0, atol=1e-12)
    np.testing.assert_allclose(surface.vertices[:, 2], -1.0, atol=1e-5)  # 2 m x 0.5, looking down -Z
    # a vertex at texture coordinate (u, v) lies on that pixel's ray
    x = surface.uvs[:, 0] * 32
    np.testing.assert_allclose(surface.vertices[:, 0], (x - 16.0) / 30.0 * 1.0, atol=1e-5)
