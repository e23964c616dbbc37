"""Stereo depth between posed views of a synthetic wall at a known distance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dioramic.reconstruct.model import SparseModel
from dioramic.reconstruct.sgbm import pair_depth
from dioramic.reconstruct.stereo import StereoOptions, choose_partners, depth_maps

from .conftest import render_views, textured_wall


def _poses(offsets: list[float], depth: float = 4.0):
    """Cameras side by side (x offsets, metres), each turned to look at the wall's centre."""
    from dioramic.motion.transforms import look_at
    from dioramic.types import Pose

    target = np.array([0.0, 0.0, -depth])
    return [
        Pose(np.array([x, 0.2, 0.0]), look_at(np.array([x, 0.2, 0.0]), target), math.radians(50))
        for x in offsets
    ]


def _sparse(views, depth: float = 4.0) -> SparseModel:
    """Points on the wall, seen by every view."""
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(-1.5, 1.5, 200), rng.uniform(-1, 1, 200), np.full(200, -depth)])
    # to the views' computer-vision world: the same points (the views' poses were made in it)
    observations = np.array([(p, v) for p in range(len(points)) for v in range(len(views))])
    return SparseModel((), points, np.zeros((200, 3), np.uint8), observations, 0.3)


def _true_depth(view, depth: float = 4.0) -> np.ndarray:
    """Depth along the optical axis of each pixel of `view` on the plane z = -depth."""
    cam = view.camera
    u, v = np.meshgrid(np.arange(cam.width) + 0.5, np.arange(cam.height) + 0.5)
    rays = np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones_like(u)], -1) @ view.rotation
    t = (-depth - view.centre[2]) / rays[..., 2]  # world ray parameter hitting the plane
    return t  # rays have z = 1 in the camera: t is the depth


@pytest.fixture(scope="module")
def wall_views(gl_available: None):
    return render_views(textured_wall(), _poses([-0.6, 0.0, 0.7]))


def test_pair_depth_measures_the_wall(wall_views) -> None:
    model = _sparse(wall_views)
    plans = choose_partners(wall_views, model, 1, [0, 1, 2], StereoOptions())
    assert {p.partner for p in plans} == {0, 2}  # one on each side
    truth = _true_depth(wall_views[1])
    for plan in plans:
        depth = pair_depth(wall_views[1], wall_views[plan.partner], plan, StereoOptions())
        measured = depth > 0
        assert measured.mean() > 0.5
        error = np.abs(depth[measured] / truth[measured] - 1)
        assert np.median(error) < 0.003 and np.percentile(error, 95) < 0.02


def test_coarse_to_fine_agrees_with_one_pass(wall_views) -> None:
    model = _sparse(wall_views)
    plan = choose_partners(wall_views, model, 1, [0, 1, 2], StereoOptions())[0]
    one = pair_depth(wall_views[1], wall_views[plan.partner], plan, StereoOptions())
    guided = pair_depth(wall_views[1], wall_views[plan.partner], plan, StereoOptions(max_work=2e6))
    both = (one > 0) & (guided > 0)
    assert both.mean() > 0.4
    assert np.median(np.abs(guided[both] / one[both] - 1)) < 0.003


def test_depth_maps_skip_views_without_partners(wall_views) -> None:
    model = _sparse(wall_views)
    depths = depth_maps(wall_views, model, [0, 1, 2])
    assert sorted(depths) == [0, 1, 2]
    lonely = depth_maps(wall_views, model, [1])
    assert lonely == {}
