"""Camera presets: finite poses, eyes on the subject, loops, amplitude, scale invariance."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dioramic.errors import UsageError
from dioramic.motion import DEFAULT_MOTION, MOTION_PRESETS, Motion, describe_motions, make_motion
from dioramic.types import Camera, Pose, Scene

PANS = {"pan-horizontal", "pan-vertical", "ken-burns"}  # presets that face ahead instead of the subject
CLOSED = {"circle", "swing", "turntable", "still", "spin"}  # paths that end where they begin
MODEL_ONLY = {"capture"}  # follows a reconstruction's photos: tests/motion/test_capture.py
PHOTO_PRESETS = [name for name in MOTION_PRESETS.names() if name not in MODEL_ONLY]
LATERAL = {"circle", "swing", "pan-horizontal", "pan-vertical", "orbit"}
DURATION = 4.0


def make_scene(scale: float = 1.0) -> Scene:
    """A scene with its subject at 2.5 m (times `scale`): `scale` 0.1 is a close-up, 20 a landscape."""
    return Scene((), Camera.from_fov(64, 48, 46.4), near=1.0 * scale, far=6.0 * scale, focus=2.5 * scale)


def sample(motion: Motion, count: int = 9) -> list[Pose]:
    return [motion.pose(t) for t in np.linspace(0.0, motion.duration, count)]


def assert_valid(pose: Pose) -> None:
    assert pose.camera_position.shape == (3,)
    assert pose.camera_rotation.shape == (3, 3)
    assert pose.object_matrix.shape == (4, 4)
    for array in (pose.camera_position, pose.camera_rotation, pose.object_matrix):
        assert np.isfinite(array).all()
    rotation = pose.camera_rotation
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-9)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    assert math.radians(1.0) <= pose.fov_y <= math.radians(170.0)


def assert_same_pose(a: Pose, b: Pose, atol: float = 1e-9) -> None:
    np.testing.assert_allclose(a.camera_position, b.camera_position, atol=atol)
    np.testing.assert_allclose(a.camera_rotation, b.camera_rotation, atol=atol)
    np.testing.assert_allclose(a.object_matrix, b.object_matrix, atol=atol)
    assert a.fov_y == pytest.approx(b.fov_y, abs=atol)


def subject_direction(pose: Pose, scene: Scene) -> np.ndarray:
    """Unit vector from the camera to where the subject is after the object transform."""
    subject = (pose.object_matrix @ np.array([0.0, 0.0, -scene.focus, 1.0]))[:3]
    offset = subject - pose.camera_position
    return offset / np.linalg.norm(offset)


def test_the_issue_presets_are_registered() -> None:
    expected = {
        "circle", "swing", "dolly", "zoom", "dolly-zoom", "pan-horizontal", "pan-vertical", "orbit",
        "ken-burns", "turntable", "still",
    }  # fmt: skip
    assert expected <= set(MOTION_PRESETS.names())
    assert DEFAULT_MOTION in MOTION_PRESETS


def test_describe_motions_gives_one_line_each() -> None:
    described = describe_motions()
    assert [name for name, _ in described] == MOTION_PRESETS.names()
    for name, text in described:
        assert text and "\n" not in text and len(text) < 110, name


@pytest.mark.parametrize("name", PHOTO_PRESETS)
def test_poses_are_finite_and_rotations_orthonormal(name: str) -> None:
    motion = make_motion(name, make_scene(), duration=DURATION)
    assert isinstance(motion, Motion)
    assert motion.duration == DURATION
    for pose in sample(motion):
        assert_valid(pose)


@pytest.mark.parametrize("name", sorted(set(PHOTO_PRESETS) - PANS))
def test_camera_keeps_looking_at_the_subject(name: str) -> None:
    scene = make_scene()
    for pose in sample(make_motion(name, scene, duration=DURATION)):
        forward = -pose.camera_rotation[:, 2]
        np.testing.assert_allclose(forward, subject_direction(pose, scene), atol=1e-9)
        assert pose.camera_rotation[1, 0] == pytest.approx(0.0, abs=1e-12)  # no roll: horizon level


@pytest.mark.parametrize("name", sorted(PANS))
def test_pans_face_ahead_and_move(name: str) -> None:
    poses = sample(make_motion(name, make_scene(), duration=DURATION))
    for pose in poses:
        np.testing.assert_allclose(pose.camera_rotation, np.eye(3), atol=1e-12)
    assert np.linalg.norm(poses[-1].camera_position - poses[0].camera_position) > 0.01


@pytest.mark.parametrize("name", sorted(CLOSED))
def test_closed_presets_loop_seamlessly(name: str) -> None:
    motion = make_motion(name, make_scene(), duration=DURATION)
    assert_same_pose(motion.pose(0.0), motion.pose(DURATION))
    # seamless also in velocity: the speed leaving the start is the speed arriving at the end
    # (one-sided differences of second order, so that a wide circle's curvature does not count)
    eps = 1e-4
    for part in ("object_matrix", "camera_position"):
        at = [getattr(motion.pose(t), part) for t in (DURATION, DURATION - eps, DURATION - 2 * eps)]
        arriving = (3 * at[0] - 4 * at[1] + at[2]) / (2 * eps)
        at = [getattr(motion.pose(t), part) for t in (0.0, eps, 2 * eps)]
        leaving = (-3 * at[0] + 4 * at[1] - at[2]) / (2 * eps)
        np.testing.assert_allclose(arriving, leaving, atol=1e-4)


@pytest.mark.parametrize("name", sorted(set(PHOTO_PRESETS) - CLOSED))
def test_open_presets_loop_out_and_back_when_asked(name: str) -> None:
    scene = make_scene()
    once = make_motion(name, scene, duration=DURATION)
    looped = make_motion(name, scene, duration=DURATION, loop=True)
    assert_same_pose(looped.pose(0.0), looped.pose(DURATION))
    assert_same_pose(looped.pose(DURATION / 2), once.pose(DURATION))  # the far end at half time
    assert_same_pose(looped.pose(0.3), looped.pose(DURATION - 0.3))
    start, end = once.pose(0.0), once.pose(DURATION)
    moved = (
        not np.allclose(start.camera_position, end.camera_position)
        or not np.allclose(start.object_matrix, end.object_matrix)
        or abs(start.fov_y - end.fov_y) > 1e-6
    )
    assert moved, "without loop the move ends away from where it began"


def displacement(pose: Pose, rest: Pose) -> float:
    """How far a pose is from the photo's view: camera travel, object travel and zoom, in one number."""
    zoom = math.tan(rest.fov_y / 2) / math.tan(pose.fov_y / 2) - 1.0
    object_move = np.abs(pose.object_matrix - np.eye(4)).sum()
    return float(np.linalg.norm(pose.camera_position) + object_move + zoom)


@pytest.mark.parametrize("name", sorted(set(PHOTO_PRESETS) - {"still", "spin"}))  # spin: turns
def test_amplitude_scales_the_displacement(name: str) -> None:
    scene = make_scene()
    rest = make_motion("still", scene, duration=DURATION).pose(0.0)
    t = DURATION * 0.3
    d1 = displacement(make_motion(name, scene, duration=DURATION, amplitude=1.0).pose(t), rest)
    d2 = displacement(make_motion(name, scene, duration=DURATION, amplitude=0.5).pose(t), rest)
    d0 = displacement(make_motion(name, scene, duration=DURATION, amplitude=0.0).pose(t), rest)
    assert d1 > 1e-3
    assert d2 == pytest.approx(0.5 * d1, rel=0.03)  # exact for translations, to first order for angles
    assert d0 == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("name", PHOTO_PRESETS)
def test_close_up_and_landscape_give_the_same_angular_motion(name: str) -> None:
    close, far = make_scene(0.1), make_scene(20.0)
    a, b = make_motion(name, close, duration=DURATION), make_motion(name, far, duration=DURATION)
    for t in np.linspace(0.0, DURATION, 7):
        pa, pb = a.pose(float(t)), b.pose(float(t))
        np.testing.assert_allclose(pa.camera_rotation, pb.camera_rotation, atol=1e-12)
        assert pa.fov_y == pytest.approx(pb.fov_y)
        np.testing.assert_allclose(
            pa.camera_position / close.focus, pb.camera_position / far.focus, atol=1e-12
        )
        np.testing.assert_allclose(pa.object_matrix[:3, :3], pb.object_matrix[:3, :3], atol=1e-12)
        np.testing.assert_allclose(pa.object_matrix[:3, 3] / close.focus, pb.object_matrix[:3, 3] / far.focus)
        np.testing.assert_allclose(subject_direction(pa, close), subject_direction(pb, far), atol=1e-12)


@pytest.mark.parametrize("name", sorted(LATERAL))
def test_default_lateral_moves_are_gentle(name: str) -> None:
    scene = make_scene()
    poses = sample(make_motion(name, scene, duration=DURATION), count=41)
    sideways = max(float(np.abs(p.camera_position[:2]).max()) for p in poses)
    assert 0.03 * scene.focus <= sideways <= 0.055 * scene.focus


def test_zoom_changes_only_the_focal_length() -> None:
    scene = make_scene()
    poses = sample(make_motion("zoom", scene, duration=DURATION))
    for pose in poses:
        np.testing.assert_allclose(pose.camera_position, np.zeros(3), atol=1e-12)
    focal = [1.0 / math.tan(p.fov_y / 2) for p in poses]
    assert all(b > a for a, b in itertools.pairwise(focal))
    assert focal[-1] / focal[0] == pytest.approx(1.15)


def test_dolly_pushes_in_along_the_view() -> None:
    scene = make_scene()
    poses = sample(make_motion("dolly", scene, duration=DURATION))
    depths = [p.camera_position[2] for p in poses]
    assert depths[0] == pytest.approx(0.0) and depths[-1] == pytest.approx(-0.15 * scene.focus)
    assert all(b <= a for a, b in itertools.pairwise(depths))


def test_dolly_zoom_keeps_the_subject_size() -> None:
    scene = make_scene()
    poses = sample(make_motion("dolly-zoom", scene, duration=DURATION))
    # the frame's height at the subject's distance stays that of the photo
    heights = [2.0 * (scene.focus + p.camera_position[2]) * math.tan(p.fov_y / 2) for p in poses]
    np.testing.assert_allclose(heights, heights[0], rtol=1e-12)
    assert poses[-1].camera_position[2] > 0.2 * scene.focus  # it did move
    assert poses[-1].fov_y < poses[0].fov_y


def test_orbit_stays_at_the_subject_distance() -> None:
    scene = make_scene()
    subject = np.array([0.0, 0.0, -scene.focus])
    poses = sample(make_motion("orbit", scene, duration=DURATION))
    for pose in poses:
        assert np.linalg.norm(pose.camera_position - subject) == pytest.approx(scene.focus)
    assert poses[0].camera_position[0] < 0 < poses[-1].camera_position[0]


def test_turntable_turns_the_object_about_the_subject() -> None:
    scene = make_scene()
    subject = np.array([0.0, 0.0, -scene.focus, 1.0])
    motion = make_motion("turntable", scene, duration=DURATION)
    quarter = motion.pose(DURATION / 4)
    np.testing.assert_allclose(quarter.object_matrix @ subject, subject, atol=1e-12)
    rotation = quarter.object_matrix[:3, :3]
    np.testing.assert_allclose(rotation @ [0.0, 1.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)  # vertical axis
    angle = math.degrees(math.atan2(rotation[0, 2], rotation[0, 0]))
    assert angle == pytest.approx(3.0)
    np.testing.assert_allclose(quarter.camera_position, 0.0)


def test_easing_override_changes_the_timing_not_the_path() -> None:
    scene = make_scene()
    default = make_motion("dolly", scene, duration=DURATION)
    linear = make_motion("dolly", scene, duration=DURATION, easing="linear")
    assert linear.pose(1.0).camera_position[2] == pytest.approx(-0.15 * scene.focus / 4)
    assert default.pose(1.0).camera_position[2] != pytest.approx(linear.pose(1.0).camera_position[2])
    assert_same_pose(default.pose(DURATION), linear.pose(DURATION))


def test_time_is_clamped_and_poses_are_deterministic() -> None:
    motion = make_motion("circle", make_scene(), duration=DURATION)
    assert_same_pose(motion.pose(-1.0), motion.pose(0.0))
    assert_same_pose(motion.pose(DURATION + 5.0), motion.pose(DURATION))
    assert_same_pose(motion.pose(1.234), motion.pose(1.234), atol=0.0)
    with pytest.raises(ValueError, match="finite"):
        motion.pose(float("nan"))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"duration": 0.0}, "duration must be a positive"),
        ({"duration": float("inf")}, "duration must be a positive"),
        ({"duration": 4.0, "amplitude": -1.0}, "amplitude must be a number >= 0"),
        ({"duration": 4.0, "amplitude": float("nan")}, "amplitude must be a number >= 0"),
        ({"duration": 4.0, "easing": "wobble"}, "unknown easing 'wobble'"),
    ],
)
def test_bad_arguments_raise_usage_error(kwargs: dict, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        make_motion("circle", make_scene(), **kwargs)


def test_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(UsageError) as info:
        make_motion("spiral", make_scene(), duration=DURATION)
    message = str(info.value)
    assert "spiral" in message and "circle" in message and ".yaml" in message


def test_too_strong_amplitudes_are_refused() -> None:
    with pytest.raises(UsageError, match="into the subject"):
        make_motion("dolly", make_scene(), duration=DURATION, amplitude=7.0)
    with pytest.raises(UsageError, match="field of view"):
        make_motion("zoom", make_scene(), duration=DURATION, amplitude=1000.0)
