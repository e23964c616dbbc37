"""Placing the reconstruction in the scene: reference view, centre, up axis, the views' circle."""

from __future__ import annotations

import math

import numpy as np

from dioramic.reconstruct.model import View
from dioramic.reconstruct.placement import NOMINAL_DISTANCE, model_axis, model_centre, place
from dioramic.types import Camera

from .conftest import ring_poses, view_from_pose


def _ring_views(count: int = 12, roll_every_other: bool = False) -> list[View]:
    rng = np.random.default_rng(0)
    smooth = np.repeat(np.linspace(0, 255, 80, dtype=np.uint8)[None, :, None], 60, axis=0).repeat(3, axis=2)
    views = []
    for k, pose in enumerate(ring_poses(count, radius=3.0, elevation=30.0)):
        image = smooth
        if k == 5:  # the sharpest: fine-grained noise
            image = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
        view = view_from_pose(f"v{k:02d}", image, pose)
        if roll_every_other and k % 2:  # a photo held upside down
            flip = np.diag([-1.0, -1.0, 1.0])
            view = View(
                view.name, view.image, view.valid, view.camera, flip @ view.rotation, flip @ view.translation
            )
        views.append(view)
    return views


def test_a_ring_is_placed_in_its_sharpest_view() -> None:
    views = _ring_views()
    placement = place(views, np.random.default_rng(1).normal(0, 0.3, (200, 3)), list(range(12)))
    assert placement.reference == 5
    # the reference camera becomes the scene's: at the origin, looking down -Z
    pose = placement.pose(views[5])
    np.testing.assert_allclose(pose.camera_position, 0, atol=1e-9)
    np.testing.assert_allclose(pose.camera_rotation, np.eye(3), atol=1e-9)
    circle = placement.views
    np.testing.assert_allclose(circle.centre, [0, 0, -NOMINAL_DISTANCE], atol=1e-6)
    assert placement.focus == circle.centre[2] * -1
    assert (
        math.degrees(math.atan2(circle.height, circle.radius)) == 30.0
        or abs(math.degrees(math.atan2(circle.height, circle.radius)) - 30.0) < 1e-6
    )
    # the ring's axis is the world's up, seen from a camera tilted 30 degrees down
    np.testing.assert_allclose(
        circle.axis, [0, math.cos(math.radians(30)), math.sin(math.radians(30))], atol=1e-6
    )
    # every view stands NOMINAL_DISTANCE from the centre
    for view in views:
        assert (
            np.linalg.norm(placement.pose(view).camera_position - circle.centre) == NOMINAL_DISTANCE
            or abs(np.linalg.norm(placement.pose(view).camera_position - circle.centre) - NOMINAL_DISTANCE)
            < 1e-6
        )


def test_upside_down_photos_do_not_turn_the_axis_round() -> None:
    views = _ring_views(roll_every_other=True)
    axis = model_axis(views, np.zeros(3))
    np.testing.assert_allclose(axis, [0, 1, 0], atol=1e-6)  # the cameras stand above the centre


def test_parallel_cameras_fall_back_on_the_points() -> None:
    camera = Camera.from_fov(80, 60, 50.0)
    views = [View(f"p{k}", np.zeros((60, 80, 3), np.uint8), np.ones((60, 80), bool), camera, np.eye(3),
                  np.array([-k * 0.5, 0.0, 0.0])) for k in range(4)]  # fmt: skip
    points = np.array([[0.5, 0.0, 10.0], [1.0, 0.2, 11.0], [0.8, -0.1, 9.0]])
    np.testing.assert_allclose(model_centre(views, points), np.median(points, axis=0))
