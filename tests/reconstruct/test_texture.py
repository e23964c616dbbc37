"""The atlas cut from the views: every triangle shows the colours its best view saw."""

from __future__ import annotations

import numpy as np
import pytest

from dioramic.reconstruct.holdout import sample
from dioramic.reconstruct.texture import TextureOptions, bake, choose_labels

from .conftest import render_views, textured_wall
from .test_stereo import _poses


def _wall_mesh(depth: float = 4.0, half: float = 2.0, n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """A grid of triangles on the plane z = -depth (x, y within +-half), clockwise from the front."""
    xs = np.linspace(-half, half, n)
    gx, gy = np.meshgrid(xs, xs)
    vertices = np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, -depth)])
    index = np.arange(n * n).reshape(n, n)
    a, b, c, d = (
        index[:-1, :-1].ravel(),
        index[:-1, 1:].ravel(),
        index[1:, :-1].ravel(),
        index[1:, 1:].ravel(),
    )
    return vertices, np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)])


@pytest.fixture(scope="module")
def baked(gl_available: None):
    views = render_views(textured_wall(), _poses([-0.6, 0.7]))
    vertices, faces = _wall_mesh()
    return views, vertices, faces, bake(vertices, faces, views)


def test_the_atlas_shows_what_the_views_saw(baked) -> None:
    views, _, _, textured = baked
    # points on the wall: their atlas colour equals their colour in a view that sees them
    rng = np.random.default_rng(0)
    triangles = rng.integers(0, len(textured.faces), 300)
    weights = rng.dirichlet(np.ones(3), 300)
    corners = textured.faces[triangles]
    points = (weights[:, :, None] * textured.vertices[corners]).sum(1)
    uv = (weights[:, :, None] * textured.uvs[corners]).sum(1)
    atlas = sample(
        textured.texture, uv[:, 0] * textured.texture.shape[1], uv[:, 1] * textured.texture.shape[0]
    )
    pixels, _ = views[1].project(points)
    photo = sample(views[1].image, pixels[:, 0], pixels[:, 1])
    assert np.median(np.abs(atlas - photo)) < 6  # same content (from one view or the other)


def test_faces_turn_to_the_views_and_all_are_textured(baked) -> None:
    _, _, faces, textured = baked
    v = textured.vertices[textured.faces]
    normals = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    assert (normals[:, 2] > 0).all()  # the input faces were clockwise: they were turned round
    assert len(textured.faces) == len(faces) and textured.unseen < 0.1
    assert textured.uvs.min() >= 0 and textured.uvs.max() <= 1
    assert textured.charts < 50  # two views: a few large charts, not one per triangle


def test_the_scene_camera_s_photo_textures_what_it_sees_well() -> None:
    """The preferred view (the scene's own camera) takes a triangle it sees at least half as large as
    the best view does, so that from its camera the model shows its photo; not one it sees worse."""
    scores = np.array([[10.0, 5.0, 0.0], [15.0, 15.0, 4.0]], np.float32)  # 2 views x 3 triangles
    faces = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8]])  # unconnected: no neighbour voting
    label, seen = choose_labels(scores, faces, TextureOptions())
    assert label.tolist() == [1, 1, 1] and seen.all()
    label, _ = choose_labels(scores, faces, TextureOptions(), preferred=0)
    assert label.tolist() == [0, 1, 1]


def test_the_neighbour_vote_leaves_the_scene_camera_s_triangles_to_its_photo() -> None:
    """A fan of triangles round one: the neighbours take view 1, which the vote would hand the middle
    one too; the preferred view keeps it, since it sees it well enough."""
    scores = np.array([[6.0, 0.0, 0.0, 0.0], [10.0, 10.0, 10.0, 10.0]], np.float32)
    faces = np.array([[0, 1, 2], [1, 0, 3], [2, 1, 4], [0, 2, 5]])  # triangle 0 shares an edge with each
    label, _ = choose_labels(scores, faces, TextureOptions())
    assert label.tolist() == [1, 1, 1, 1]
    label, _ = choose_labels(scores, faces, TextureOptions(), preferred=0)
    assert label.tolist() == [0, 1, 1, 1]
