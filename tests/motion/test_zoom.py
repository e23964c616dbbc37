"""A motion filmed through a longer lens (the overscan's zoom)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dioramic.motion import make_motion, parse_timeline
from dioramic.motion.zoom import Zoomed, frames_itself, with_zoom, zoomed_fov
from dioramic.types import Camera, Scene

SCENE = Scene((), Camera.from_fov(64, 48, 40.0), near=1.0, far=8.0, focus=2.0)


def test_the_zoom_narrows_every_frame_and_moves_nothing() -> None:
    motion = make_motion("ken-burns", SCENE, duration=2.0)
    zoomed = Zoomed(motion, 1.2)
    assert zoomed.duration == motion.duration and zoomed.timing is motion.timing
    for t in (0.0, 0.7, 2.0):
        a, b = motion.pose(t), zoomed.pose(t)
        assert np.array_equal(a.camera_position, b.camera_position)
        assert np.array_equal(a.camera_rotation, b.camera_rotation)
        assert np.array_equal(a.object_matrix, b.object_matrix)
        # the focal length 1.2 times longer: the half-angle's tangent 1.2 times smaller
        assert math.tan(a.fov_y / 2) / math.tan(b.fov_y / 2) == pytest.approx(1.2)


def test_zooms_compose_and_one_is_no_zoom() -> None:
    circle = make_motion("circle", SCENE, duration=1.0)
    assert with_zoom(circle, 1.0) is circle
    twice = with_zoom(with_zoom(circle, 1.1), 1.1)
    assert isinstance(twice, Zoomed) and twice.motion is circle and twice.zoom == pytest.approx(1.21)
    assert zoomed_fov(SCENE.camera.fov_y, 1.0) == pytest.approx(SCENE.camera.fov_y)
    with pytest.raises(ValueError):
        Zoomed(circle, 0.0)


def test_a_timeline_that_sets_its_fov_frames_itself() -> None:
    def timeline(camera: str) -> object:
        text = f'{{"keyframes": [{{"time": 0}}, {{"time": 1, "camera": {camera}}}]}}'
        return parse_timeline(text, SCENE, fmt="json")

    assert frames_itself(timeline('{"fov": 30}'))
    assert frames_itself(Zoomed(timeline('{"fov": 30}'), 1.1))  # type: ignore[arg-type]
    assert not frames_itself(timeline('{"position": [0.1, 0, 0]}'))
    assert not frames_itself(make_motion("zoom", SCENE, duration=1.0))  # a preset: its zoom is ours
