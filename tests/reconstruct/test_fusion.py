"""Fusing depth maps into one surface, clean-up and decimation."""

from __future__ import annotations

import numpy as np
import pytest

from dioramic.reconstruct.fusion import FusionOptions, decimate, drop_small_pieces, fuse, region_of_interest

from .conftest import render_views, textured_wall
from .test_stereo import _poses, _true_depth


@pytest.fixture(scope="module")
def wall(gl_available: None):
    views = render_views(textured_wall(), _poses([-0.6, 0.0, 0.7]))
    depths = {k: _true_depth(v).astype(np.float32) for k, v in enumerate(views)}
    return views, depths


def test_fused_surface_lies_on_the_wall(wall) -> None:
    views, depths = wall
    box = (np.array([-3.0, -3.0, -5.0]), np.array([3.0, 3.0, 1.0]))
    vertices, faces, voxel = fuse(views, depths, box)
    assert len(faces) > 1000 and 0 < voxel < 0.1
    assert np.abs(vertices[:, 2] + 4.0).max() < 1.5 * voxel
    # the wall as far as the views see it: about 4 m wide at 4 m with a 50-degree lens
    assert np.ptp(vertices[:, 0]) > 3.5


def test_the_triangle_budget_sets_the_voxel(wall) -> None:
    views, depths = wall
    box = (np.array([-3.0, -3.0, -5.0]), np.array([3.0, 3.0, 1.0]))
    _, fine, _ = fuse(views, depths, box)
    _, coarse, _voxel = fuse(views, depths, box, FusionOptions(max_triangles=2000))
    assert len(coarse) < 0.2 * len(fine) and len(coarse) < 4000


def test_geometry_outside_the_box_is_cut(wall) -> None:
    views, depths = wall
    vertices, _, _voxel = fuse(views, depths, (np.array([-1.0, -1.0, -5.0]), np.array([1.0, 1.0, 1.0])))
    assert np.abs(vertices[:, :2]).max() <= 1.0 + 1e-6


def test_no_depth_is_an_input_error(wall) -> None:
    from dioramic.errors import InputError

    views, depths = wall
    with pytest.raises(InputError, match="no depth"):
        fuse(views, {k: np.zeros_like(d) for k, d in depths.items()}, (np.full(3, -9.0), np.full(3, 9.0)))


def test_region_of_interest_holds_the_points_and_the_cameras() -> None:
    points = np.random.default_rng(0).normal(0, 1, (500, 3))
    lo, hi = region_of_interest(points, np.array([[0.0, 0.0, 8.0]]))
    assert (lo < -1.5).all() and hi[2] > 8.0


def test_decimate_and_small_pieces() -> None:
    grid = np.stack(np.meshgrid(np.arange(40.0), np.arange(40.0)), -1).reshape(-1, 2)
    vertices = np.column_stack([grid, np.zeros(len(grid))])
    index = np.arange(1600).reshape(40, 40)
    a, b, c, d = (
        index[:-1, :-1].ravel(),
        index[:-1, 1:].ravel(),
        index[1:, :-1].ravel(),
        index[1:, 1:].ravel(),
    )
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([b, d, c], 1)])
    island = np.array([[100.0, 0, 0], [101.0, 0, 0], [100.0, 1, 0]])
    all_vertices = np.concatenate([vertices, island])
    all_faces = np.concatenate([faces, [[1600, 1601, 1602]]])
    kept_vertices, kept_faces = drop_small_pieces(all_vertices, all_faces, 0.01)
    assert len(kept_faces) == len(faces) and kept_vertices[:, 0].max() < 100
    small_vertices, small_faces = decimate(vertices, faces, 500)
    assert len(small_faces) <= 500 and np.abs(small_vertices[:, 2]).max() < 1e-9
