"""The `capture` move: along a reconstruction's photos, a full turn only when they go all the way round."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dioramic.errors import UsageError
from dioramic.motion import make_motion
from dioramic.motion.capture import capture_order, goes_round, largest_gap, smooth_path
from dioramic.motion.presets import Spin
from dioramic.types import Camera, Scene, ViewCircle

CENTRE = np.array([0.0, 0.0, -1.0])
UP = np.array([0.0, 1.0, 0.0])


def arc(degrees: list[float], distance: float = 1.0, height: float = 0.1) -> np.ndarray:
    """Cameras at these azimuths about the up axis through the centre (0 = the scene's own camera)."""
    out = []
    for a in degrees:
        r = math.radians(a)
        out.append(CENTRE + distance * np.array([math.sin(r), 0.0, math.cos(r)]) + height * UP)
    return np.array(out)


def model(cameras: np.ndarray | None) -> Scene:
    views = ViewCircle(CENTRE, UP, 1.0, 0.1, cameras=cameras)
    return Scene((), Camera.from_fov(64, 48, 40.0), near=0.5, far=3.0, focus=1.0, views=views)


def nearest_angle(position: np.ndarray, cameras: np.ndarray) -> float:
    """Degrees, seen from the centre, from `position` to the nearest camera."""
    a = (position - CENTRE) / np.linalg.norm(position - CENTRE)
    b = (cameras - CENTRE) / np.linalg.norm(cameras - CENTRE, axis=1, keepdims=True)
    return float(np.degrees(np.arccos(np.clip(b @ a, -1.0, 1.0))).min())


def test_a_facade_is_filmed_from_where_it_was_photographed() -> None:
    cameras = arc([-50, -40, -30, -18, -8, 0, 9, 20, 31, 45, 57])  # 107 degrees, in front only
    motion = make_motion("capture", model(cameras), duration=5.0)
    poses = [motion.pose(t) for t in np.linspace(0.0, 5.0, 151)]
    angles = [nearest_angle(p.camera_position, cameras) for p in poses]
    assert max(angles) < 8.0  # photos at most 14 degrees apart: never more than half a gap away
    # it sweeps (nearly) from the first photo to the last, looking at the centre, and loops
    azimuth = [math.degrees(math.atan2(p.camera_position[0], p.camera_position[2] + 1.0)) for p in poses]
    assert min(azimuth) < -40 and max(azimuth) > 47
    for pose in poses:
        forward = -pose.camera_rotation[:, 2]
        np.testing.assert_allclose(
            forward,
            (CENTRE - pose.camera_position) / np.linalg.norm(CENTRE - pose.camera_position),
            atol=1e-9,
        )
    np.testing.assert_allclose(poses[0].camera_position, poses[-1].camera_position, atol=1e-9)
    # it starts at the photo nearest the scene's own camera (the origin)
    assert np.linalg.norm(poses[0].camera_position - cameras[5]) < 0.1


def test_it_never_goes_past_the_first_or_last_photo() -> None:
    cameras = arc([-30, -15, 0, 15, 30])
    motion = make_motion("capture", model(cameras), duration=2.0)
    for t in np.linspace(0.0, 2.0, 61):
        p = motion.pose(float(t)).camera_position
        azimuth = math.degrees(math.atan2(p[0], p[2] + 1.0))
        assert -30.5 <= azimuth <= 30.5


def test_photos_all_the_way_round_get_a_full_turn() -> None:
    ring = arc(list(range(0, 360, 30)))
    assert goes_round(ring, CENTRE, UP)
    motion = make_motion("capture", model(ring), duration=4.0)
    assert isinstance(motion, Spin) and motion.degrees == pytest.approx(360.0)
    # a ring with a 90-degree gap is not all the way round
    assert not goes_round(arc([0, 30, 60, 90, 120, 150, 180, 210, 240]), CENTRE, UP)


def test_amplitude_narrows_the_sweep_about_the_middle() -> None:
    cameras = arc([-40, -20, 0, 20, 40])
    full = make_motion("capture", model(cameras), duration=2.0)
    half = make_motion("capture", model(cameras), duration=2.0, amplitude=0.5)

    def spread(motion: object) -> float:
        xs = [motion.pose(float(t)).camera_position[0] for t in np.linspace(0, 2.0, 81)]  # type: ignore[attr-defined]
        return max(xs) - min(xs)

    assert spread(half) < 0.6 * spread(full)


def test_a_single_photo_scene_is_refused_in_one_line() -> None:
    scene = Scene((), Camera.from_fov(64, 48, 40.0), near=0.5, far=3.0, focus=1.0)
    with pytest.raises(UsageError, match="reconstructed from several photos"):
        make_motion("capture", scene, duration=1.0)


def test_without_stored_cameras_it_turns_as_before() -> None:
    assert isinstance(make_motion("capture", model(None), duration=1.0), Spin)


def test_order_and_gap() -> None:
    assert largest_gap(np.array([350.0, 10.0, 20.0])) == (330.0, 2)  # sorted: 10, 20, 350
    shuffled = arc([30, -30, 0, 15, -15])
    order = capture_order(shuffled, CENTRE, UP)
    azimuths = [math.degrees(math.atan2(c[0], c[2] + 1.0)) for c in shuffled[order]]
    assert azimuths == sorted(azimuths) or azimuths == sorted(azimuths, reverse=True)
    # photos in a line (no turn about the axis) are ordered along the line
    line = np.array([[x, 0.0, 0.0] for x in (0.3, -0.2, 0.1, -0.1, 0.0)]) + np.array([0, 0, 5.0])
    ordered = line[capture_order(line, CENTRE, UP)][:, 0]
    assert list(ordered) in (sorted(ordered), sorted(ordered, reverse=True))


def test_the_smoothed_path_keeps_its_ends_and_distances() -> None:
    cameras = arc([-40, -20, 0, 20, 40], distance=2.0)
    path = smooth_path(cameras, CENTRE)
    np.testing.assert_allclose(path[0], cameras[0], atol=1e-6)
    np.testing.assert_allclose(path[-1], cameras[-1], atol=1e-6)
    distances = np.linalg.norm(path - CENTRE, axis=1)
    np.testing.assert_allclose(
        distances, np.linalg.norm(cameras[0] - CENTRE), rtol=1e-3
    )  # an arc, not chords
