"""The `spin` preset: a full circle around a reconstructed model, at its views' distance and height."""

from __future__ import annotations

import numpy as np
import pytest

from dioramic.errors import UsageError
from dioramic.motion import MOTION_PRESETS, describe_motions, make_motion
from dioramic.types import Camera, Scene, ViewCircle


def _scene(views: ViewCircle | None) -> Scene:
    return Scene(meshes=(), camera=Camera.from_fov(64, 48, 40.0), near=1.0, far=8.0, focus=2.0, views=views)


CIRCLE = ViewCircle(
    centre=np.array([0.1, -0.2, -2.0]), axis=np.array([0.0, 0.8, 0.6]), radius=1.5, height=0.4
)


def test_spin_circles_the_centre_once_at_the_views_distance_and_height() -> None:
    motion = make_motion("spin", _scene(CIRCLE), duration=4.0)
    poses = [motion.pose(t) for t in np.linspace(0.0, 4.0, 17)]
    for pose in poses:
        offset = pose.camera_position - CIRCLE.centre
        height = offset @ CIRCLE.axis
        assert height == pytest.approx(0.4)
        assert np.linalg.norm(offset - height * CIRCLE.axis) == pytest.approx(1.5)
        # it looks at the centre
        ahead = -pose.camera_rotation[:, 2]
        np.testing.assert_allclose(ahead, -offset / np.linalg.norm(offset), atol=1e-9)
    np.testing.assert_allclose(poses[0].camera_position, poses[-1].camera_position, atol=1e-9)
    half = poses[8].camera_position - CIRCLE.centre
    first = poses[0].camera_position - CIRCLE.centre
    flat = lambda v: v - (v @ CIRCLE.axis) * CIRCLE.axis  # noqa: E731
    assert flat(half) @ flat(first) == pytest.approx(-(1.5**2))  # the far side half way


def test_spin_starts_nearest_the_photo_and_keeps_its_up() -> None:
    motion = make_motion("spin", _scene(CIRCLE), duration=2.0)
    start = motion.pose(0.0)
    # the origin (the photo's camera) moved onto the circle: same side of the axis
    flat = -CIRCLE.centre - (-CIRCLE.centre @ CIRCLE.axis) * CIRCLE.axis
    direction = start.camera_position - CIRCLE.centre
    assert (direction - (direction @ CIRCLE.axis) * CIRCLE.axis) @ flat > 0
    assert start.camera_rotation[:, 1] @ np.array([0.0, 1.0, 0.0]) > 0.9  # still upright


def test_spin_of_a_photo_scene_orbits_the_subject() -> None:
    motion = make_motion("spin", _scene(None), duration=1.0)
    np.testing.assert_allclose(motion.pose(0.0).camera_position, [0, 0, 0], atol=1e-9)
    np.testing.assert_allclose(motion.pose(0.5).camera_position, [0, 0, -4.0], atol=1e-9)


def test_spin_amplitude_is_in_turns() -> None:
    half = make_motion("spin", _scene(None), duration=1.0, amplitude=0.5)
    np.testing.assert_allclose(half.pose(1.0).camera_position, [0, 0, -4.0], atol=1e-9)
    looped = make_motion("spin", _scene(None), duration=1.0, amplitude=0.5, loop=True)
    np.testing.assert_allclose(looped.pose(1.0).camera_position, [0, 0, 0], atol=1e-9)
    with pytest.raises(UsageError):
        make_motion("spin", _scene(None), duration=1.0, amplitude=-1)


def test_spin_is_listed() -> None:
    assert "spin" in MOTION_PRESETS
    assert dict(describe_motions())["spin"].startswith("The camera circles the model once")


def test_view_circle_is_checked() -> None:
    with pytest.raises(ValueError, match="unit"):
        ViewCircle(centre=np.zeros(3), axis=np.array([0.0, 2.0, 0.0]), radius=1.0, height=0.0)
    with pytest.raises(ValueError, match="radius"):
        ViewCircle(centre=np.zeros(3), axis=np.array([0.0, 1.0, 0.0]), radius=0.0, height=0.0)
