"""Hidden layers (dioramic.scene.peel): the far side's surface continued behind the occluder, never
extrapolated, and one layer per level of nesting."""

from __future__ import annotations

import numpy as np
import pytest

from dioramic.camera import project
from dioramic.scene import SceneOptions, build_scene
from dioramic.scene.lattice import Lattice, cut_edges
from dioramic.scene.margin import pad_depth
from dioramic.scene.peel import Reach, peel_layers
from dioramic.types import DepthMap, Photo, is_hidden_layer


def _step_photo(width: int, height: int) -> tuple[Photo, DepthMap]:
    """A textured red plane at 1 m on the left half, a blue one at 3 m on the right half."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.empty((height, width, 3), np.int16)
    rgb[:] = (40, 90, 200)
    rgb[:, : width // 2] = (230, 60, 30)
    rgb += (((x * 7 + y * 3) % 17) - 8)[:, :, None].astype(np.int16)
    depth = np.full((height, width), 3.0, np.float32)
    depth[:, : width // 2] = 1.0
    return Photo(np.clip(rgb, 0, 255).astype(np.uint8)), DepthMap(depth)


@pytest.mark.parametrize("size", [(320, 240), (333, 251)])
def test_a_step_gets_one_hidden_layer_on_the_far_plane(size: tuple[int, int]) -> None:
    """Two planes 1 m and 3 m apart: the one step is one level of nesting, so one hidden layer, and
    what it holds inside the photo's frame is the far plane continued (at 3 m), not a slope the far
    plane does not have; no triangle of any layer joins the two planes."""
    width, height = size
    photo, depth = _step_photo(width, height)
    scene = build_scene(photo, depth, SceneOptions())
    hidden = [m for m in scene.meshes if is_hidden_layer(m.name)]
    assert len(hidden) == 1
    mesh = hidden[0]
    uv = project(mesh.vertices, scene.camera)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] <= width) & (uv[:, 1] >= 0) & (uv[:, 1] <= height)
    assert inside.sum() > 20
    distance = -mesh.vertices[inside, 2].astype(np.float64)
    assert np.mean(np.abs(distance - 3.0) <= 0.05 * 3.0) >= 0.95
    for m in scene.meshes:
        corners = -m.vertices[m.faces, 2].astype(np.float64)
        near = (np.abs(corners - 1.0) < 0.25).any(axis=1)
        far = (np.abs(corners - 3.0) < 0.75).any(axis=1)
        assert not (near & far).any(), m.name


def _lattice(z: np.ndarray) -> Lattice:
    h, w = z.shape
    return Lattice(u=np.arange(w) + 0.5, v=np.arange(h) + 0.5, z=z, width=w, height=h)


def _peel(z: np.ndarray, lateral: float = 40.0):
    lattice = _lattice(z)
    threshold = 0.08
    cut_x, cut_y = cut_edges(z, lattice.u, lattice.v, threshold)
    h, w = z.shape
    reach = Reach(lateral=lateral, axial=0.0, centre=(w / 2, h / 2), extra=2.0)
    return peel_layers(lattice, cut_x, cut_y, threshold, reach)


def test_the_continued_surface_follows_its_far_side_along_the_edge() -> None:
    """A near box over a floor that recedes upwards (inverse depth affine in v): behind the box's
    sides the floor goes on at each row at its own depth there (the slope along the edge is
    followed), and nowhere behind the box is it nearer or deeper than the floor around the box."""
    h, w = 60, 80
    v = np.arange(h)[:, None] + 0.5
    floor = np.broadcast_to(0.2 + 0.01 * v, (h, w)).copy()  # 5 m at the top to 1.3 m at the bottom
    z = floor.copy()
    z[10:50, 30:50] = 2.0  # a box at 0.5 m
    layers = _peel(z)
    assert len(layers) == 1
    layer = layers[0]
    assert layer.region[12:48, 32:48].all()  # the box is narrow: all of it is rebuilt
    rows = slice(14, 46)
    for cols in (slice(30, 34), slice(46, 50)):
        np.testing.assert_allclose(layer.z[rows, cols], floor[rows, cols], rtol=0.03)
    behind = layer.z[10:50, 30:50][layer.region[10:50, 30:50]]
    assert floor[9, 0] * (1 - 1e-6) <= behind.min() and behind.max() <= floor[50, 0] * (1 + 1e-6)


def test_the_continued_surface_never_comes_nearer_nor_goes_deeper_than_its_far_side() -> None:
    """A wall receding to the right, seen right of a near box that covers the left of the photo:
    continued along its slope, the wall would come nearer behind the box than anywhere the photo
    shows it (the old rule went up to twice as near). It goes on at the depths it shows."""
    h, w = 48, 96
    u = np.arange(w)[None, :] + 0.5
    wall = np.broadcast_to(0.8 - 0.006 * u, (h, w)).copy()  # 1.25 m on the left to 4 m on the right
    z = wall.copy()
    z[:, :40] = 2.0  # the box at 0.5 m, up to the left border
    layers = _peel(z)
    assert len(layers) == 1
    region = layers[0].region
    assert region[:, 30:40].all()
    shown = wall[:, 40:]
    assert layers[0].z[region].max() <= shown.max() * (1 + 1e-6)  # (float32 smoothing)
    assert layers[0].z[region].min() >= shown.min() * (1 - 1e-6)


def test_the_margin_carries_a_step_out_as_a_step() -> None:
    """Beyond the frame a step in depth goes on as the same two depths: no slope between them (a
    slope would be cut half-way, and its far side continued at a depth the photo never shows)."""
    depth = np.full((40, 60), 3.0, np.float32)
    depth[:, :30] = 1.0
    canvas = pad_depth(depth, (10, 12, 10, 12))
    assert set(np.unique(np.round(canvas, 4))) == {1.0, 3.0}
    np.testing.assert_array_equal(canvas[12:52, 10:70], depth)


def test_the_margin_smooths_narrow_detail_at_the_border_away() -> None:
    """A thin pole at the border goes on for a while, then fades: far out the margin is the wall."""
    depth = np.full((40, 100), 3.0, np.float32)
    depth[:, 50:52] = 1.0  # 2 px wide, a tenth of the 10 px median window
    canvas = pad_depth(depth, (0, 40, 0, 0))
    assert canvas[39, 50] == pytest.approx(1.0)  # next to the border: the pole
    np.testing.assert_allclose(canvas[0, :], 3.0, rtol=1e-5)  # at the canvas' edge: the wall
