"""The backdrop sphere: inward faces, and the colours the views show beyond the model."""

from __future__ import annotations

import numpy as np

from dioramic.reconstruct.background import BackgroundOptions, background_sphere, sphere

from .conftest import ring_poses, view_from_pose


def test_the_sphere_faces_inwards() -> None:
    vertices, uvs, faces = sphere(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.0]), 5.0, 16)
    v = vertices[faces]
    normals = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    assert ((normals * (v.mean(1) - [1.0, 2.0, 3.0])).sum(1) < 0).all()
    assert uvs.min() >= 0 and uvs.max() <= 1


def _modelless_backdrop(views: list, foreground: list | None = None):
    """The backdrop of `views` round the origin (up: +Y) with no model mesh, a 64 x 32 texture."""
    return background_sphere(
        views,
        np.zeros((0, 3)),
        np.zeros((0, 3), np.int64),
        np.zeros(3),
        np.array([0.0, 1.0, 0.0]),
        BackgroundOptions(texture_width=64),
        foreground=foreground,
    )


def test_views_of_a_red_world_paint_the_backdrop_red() -> None:
    views = []
    for k, pose in enumerate(ring_poses(6, radius=2.0, elevation=0.0)):
        image = np.zeros((30, 40, 3), np.uint8)
        image[...] = (200, 30, 30)
        views.append(view_from_pose(f"v{k}", image, pose))
    backdrop = _modelless_backdrop(views)  # no model: the backdrop is all there is
    assert backdrop.texture.shape == (32, 64, 3)
    assert np.abs(backdrop.texture.astype(int) - (200, 30, 30)).max() <= 2  # seen band, then filled
    assert 0 < backdrop.unseen < 1
    radius = np.linalg.norm(backdrop.vertices, axis=1)
    assert np.allclose(radius, radius[0]) and radius[0] > 2.0  # it encloses the cameras


def test_what_the_models_outline_encloses_is_not_taken_for_the_backdrop() -> None:
    """Each view shows a red world and, in its middle, an object whose stereo measured only a ring
    (its outline); the object's unmeasured middle is green. Taken for the backdrop, the green would
    paint a ghost of the object on it; inside the outline it is left to the other views."""
    views, known = [], []
    for k, pose in enumerate(ring_poses(6, radius=2.0, elevation=0.0)):
        image = np.zeros((30, 40, 3), np.uint8)
        image[...] = (200, 30, 30)
        image[9:21, 14:26] = (30, 200, 30)  # the object's middle, which stereo could not match
        ring = np.zeros((30, 40), bool)
        ring[7:23, 12:28] = True
        ring[9:21, 14:26] = False
        views.append(view_from_pose(f"v{k}", image, pose))
        known.append(ring)
    backdrop = _modelless_backdrop(views, foreground=known)
    assert np.abs(backdrop.texture.astype(int) - (200, 30, 30)).max() <= 2  # no green anywhere
