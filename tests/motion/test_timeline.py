"""Timeline files: interpolation, defaults, units, loops, and errors that name the file, line and field."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dioramic.errors import InputError, UsageError
from dioramic.motion import get_easing, load_timeline, make_motion, parse_timeline
from dioramic.motion.transforms import euler_to_matrix, look_at, rotation_y
from dioramic.types import Camera, Scene

FOCUS = 2.5


def make_scene(scale: float = 1.0) -> Scene:
    return Scene((), Camera.from_fov(64, 48, 46.4), near=1.0 * scale, far=6.0 * scale, focus=FOCUS * scale)


def parse(text: str, **kwargs):
    return parse_timeline(
        textwrap.dedent(text), kwargs.pop("scene", make_scene()), source="move.yaml", **kwargs
    )


def test_positions_interpolate_linearly_in_relative_units() -> None:
    timeline = parse(
        """
        keyframes:
          - time: 0
          - time: 2
            camera: {position: [0.1, -0.2, 0.4]}
        """
    )
    assert timeline.duration == 2.0
    np.testing.assert_allclose(timeline.pose(0.0).camera_position, [0, 0, 0])
    np.testing.assert_allclose(timeline.pose(0.5).camera_position, np.array([0.1, -0.2, 0.4]) * FOCUS / 4)
    np.testing.assert_allclose(timeline.pose(2.0).camera_position, np.array([0.1, -0.2, 0.4]) * FOCUS)


def test_metres_are_taken_as_they_are() -> None:
    timeline = parse(
        """
        units: metres
        keyframes:
          - {time: 0, camera: {position: [0, 0, 0]}}
          - {time: 1, camera: {position: [0.3, 0, 0]}}
        """
    )
    assert timeline.pose(1.0).camera_position[0] == pytest.approx(0.3)
    np.testing.assert_allclose(timeline.pivot, [0, 0, -FOCUS])


def test_defaults_are_the_photo_view() -> None:
    scene = make_scene()
    pose = parse("keyframes: [{time: 0}, {time: 1}]").pose(0.5)
    np.testing.assert_allclose(pose.camera_position, 0.0)
    np.testing.assert_allclose(pose.camera_rotation, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(pose.object_matrix, np.eye(4), atol=1e-12)
    assert pose.fov_y == pytest.approx(scene.camera.fov_y)


def test_segment_easing_is_the_one_of_the_keyframe_it_starts_at() -> None:
    timeline = parse(
        """
        easing: linear
        keyframes:
          - {time: 0, easing: ease-in, camera: {fov: 40}}
          - {time: 1, camera: {fov: 50}}
          - {time: 2, camera: {fov: 60}}
        """
    )
    ease_in = get_easing("ease-in")
    assert math.degrees(timeline.pose(0.5).fov_y) == pytest.approx(40 + 10 * ease_in(0.5))
    assert math.degrees(timeline.pose(1.5).fov_y) == pytest.approx(55.0)  # the file's default, linear


def test_the_callers_easing_replaces_the_files_default_only() -> None:
    text = """
        easing: linear
        keyframes:
          - {time: 0, camera: {fov: 40}}
          - {time: 1, easing: linear, camera: {fov: 50}}
          - {time: 2, camera: {fov: 60}}
        """
    timeline = parse(text, easing="sine")
    assert math.degrees(timeline.pose(0.25).fov_y) == pytest.approx(40 + 10 * get_easing("sine")(0.25))
    assert math.degrees(timeline.pose(1.25).fov_y) == pytest.approx(52.5)


def test_rotations_slerp_halfway() -> None:
    timeline = parse(
        """
        keyframes:
          - {time: 0, camera: {rotation: [0, 0, 0]}}
          - {time: 4, camera: {rotation: [0, 90, 0]}}
        """
    )
    np.testing.assert_allclose(timeline.pose(2.0).camera_rotation, rotation_y(45.0), atol=1e-12)
    np.testing.assert_allclose(timeline.pose(1.0).camera_rotation, rotation_y(22.5), atol=1e-12)


def test_quaternions_are_xyzw_and_normalised() -> None:
    half = math.sqrt(0.5)
    timeline = parse(
        f"""
        keyframes:
          - {{time: 0, camera: {{quaternion: [0, 0, 0, 2]}}}}
          - {{time: 1, camera: {{quaternion: [0, {half}, 0, {half}]}}}}
        """
    )
    np.testing.assert_allclose(timeline.pose(0.0).camera_rotation, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(timeline.pose(1.0).camera_rotation, rotation_y(90.0), atol=1e-12)


def test_look_at_holds_the_target_in_view_between_keyframes() -> None:
    timeline = parse(
        """
        keyframes:
          - {time: 0, camera: {position: [-0.2, 0, 0], look_at: subject}}
          - {time: 1, camera: {position: [0.2, 0.1, 0.3]}}
          - {time: 2, camera: {position: [0, 0, 0], look_at: [0.1, 0, -1]}}
        """
    )
    for t in np.linspace(0.0, 1.0, 5):
        pose = timeline.pose(float(t))
        np.testing.assert_allclose(
            pose.camera_rotation, look_at(pose.camera_position, np.array([0, 0, -FOCUS]))
        )
    middle = timeline.pose(1.5)  # the target itself moves half way
    np.testing.assert_allclose(
        middle.camera_rotation, look_at(middle.camera_position, np.array([0.05 * FOCUS, 0, -FOCUS]))
    )


def test_missing_channels_keep_the_previous_value() -> None:
    timeline = parse(
        """
        keyframes:
          - {time: 0, camera: {position: [0.1, 0, 0], fov: 40}}
          - {time: 1, camera: {fov: 50}}
          - {time: 2, camera: {position: [0.3, 0, 0]}}
        """
    )
    assert timeline.pose(0.5).camera_position[0] == pytest.approx(0.1 * FOCUS)  # holds until keyframe 1
    assert timeline.pose(1.5).camera_position[0] == pytest.approx(0.2 * FOCUS)
    assert math.degrees(timeline.pose(2.0).fov_y) == pytest.approx(50.0)


def test_frames_use_the_files_fps_or_the_callers() -> None:
    text = """
        keyframes:
          - {frame: 0, camera: {fov: 40}}
          - {frame: 60, camera: {fov: 50}}
        """
    assert parse("fps: 30\n" + textwrap.dedent(text)).duration == pytest.approx(2.0)
    assert parse(text, fps=24).duration == pytest.approx(2.5)
    assert parse("fps: 30\n" + textwrap.dedent(text), fps=24).duration == pytest.approx(2.0)  # file wins
    with pytest.raises(InputError, match=r"keyframes\[0\]\.frame: frame numbers need an fps"):
        parse(text)


def test_object_rotation_scale_and_translation_about_the_subject() -> None:
    timeline = parse(
        """
        keyframes:
          - {time: 0}
          - time: 2
            object: {rotation: [0, 20, 0], scale: 2, translation: [0.1, 0, 0]}
          - time: 3
            object: {scale: [1, 2, 3]}
        """
    )
    subject = np.array([0.0, 0.0, -FOCUS, 1.0])
    half = timeline.pose(1.0).object_matrix
    np.testing.assert_allclose(half[:3, :3], rotation_y(10.0) * 1.5, atol=1e-12)
    np.testing.assert_allclose(half @ subject, subject + np.array([0.05 * FOCUS, 0, 0, 0]), atol=1e-12)
    end = timeline.pose(3.0).object_matrix
    np.testing.assert_allclose(end[:3, :3], rotation_y(20.0) @ np.diag([1.0, 2.0, 3.0]), atol=1e-12)


def test_loop_returns_to_the_first_keyframe_at_the_duration() -> None:
    timeline = parse(
        """
        loop: true
        duration: 4
        keyframes:
          - {time: 0, camera: {position: [-0.1, 0, 0]}}
          - {time: 2, camera: {position: [0.1, 0, 0]}}
        """
    )
    assert timeline.duration == 4.0
    np.testing.assert_allclose(timeline.pose(4.0).camera_position, timeline.pose(0.0).camera_position)
    assert timeline.pose(3.0).camera_position[0] == pytest.approx(0.0)
    # the caller can turn it off, and then it holds after the last keyframe
    held = parse(
        "loop: true\nduration: 4\nkeyframes: [{time: 0}, {time: 2, camera: {position: [0.1, 0, 0]}}]",
        loop=False,
    )
    assert held.pose(4.0).camera_position[0] == pytest.approx(0.1 * FOCUS)


def test_duration_comes_from_the_file_else_the_last_keyframe_else_the_caller() -> None:
    two = "keyframes: [{time: 0}, {time: 3, camera: {fov: 30}}]"
    assert parse(two, duration=10.0).duration == 3.0
    assert parse("duration: 5\n" + two, duration=10.0).duration == 5.0
    assert parse("keyframes: [{time: 0, camera: {fov: 30}}]", duration=10.0).duration == 10.0
    assert parse("loop: true\n" + two, duration=10.0).duration == 10.0
    with pytest.raises(InputError, match="needs a 'duration'"):
        parse("keyframes: [{time: 0}]")


def test_amplitude_scales_positions_and_object_rotations() -> None:
    text = """
        keyframes:
          - {time: 0}
          - time: 1
            camera: {position: [0.1, 0, 0]}
            object: {rotation: [0, 20, 0], translation: [0, 0.2, 0]}
        """
    full, half = parse(text), parse(text, amplitude=0.5)
    np.testing.assert_allclose(half.pose(1.0).camera_position, full.pose(1.0).camera_position / 2)
    np.testing.assert_allclose(half.pose(1.0).object_matrix[:3, :3], rotation_y(10.0), atol=1e-12)
    np.testing.assert_allclose(half.pose(1.0).object_matrix[1, 3], 0.1 * FOCUS)


def test_relative_units_give_the_same_angles_on_any_scene() -> None:
    text = (
        "keyframes: [{time: 0}, {time: 1, camera: {position: [0.1, 0.05, 0]}, object: {rotation: [0, 5, 0]}}]"
    )
    close, far = parse(text, scene=make_scene(0.1)), parse(text, scene=make_scene(30.0))
    for t in (0.0, 0.3, 1.0):
        np.testing.assert_allclose(close.pose(t).camera_rotation, far.pose(t).camera_rotation, atol=1e-12)
        np.testing.assert_allclose(close.pose(t).object_matrix[:3, :3], far.pose(t).object_matrix[:3, :3])


def test_json_and_yaml_read_the_same(tmp_path: Path) -> None:
    document = {
        "fps": 25,
        "keyframes": [
            {"frame": 0, "camera": {"position": [0, 0, 0], "fov": 45}},
            {"frame": 50, "easing": "cubic-bezier(0.25, 0.1, 0.25, 1)", "camera": {"position": [0.05, 0, 0]}},
            {"frame": 100, "object": {"rotation": [0, 10, 0]}},
        ],
    }
    (tmp_path / "move.json").write_text(json.dumps(document, indent=2))
    (tmp_path / "move.yml").write_text(json.dumps(document))  # JSON is YAML too
    a = make_motion(str(tmp_path / "move.json"), make_scene(), duration=1.0)
    b = load_timeline(tmp_path / "move.yml", make_scene())
    assert a.duration == b.duration == 4.0
    for t in (0.0, 1.3, 2.7, 4.0):
        np.testing.assert_allclose(a.pose(t).camera_position, b.pose(t).camera_position)
        np.testing.assert_allclose(a.pose(t).object_matrix, b.pose(t).object_matrix)


def test_camera_euler_angles_are_yaw_pitch_roll() -> None:
    pose = parse("keyframes: [{time: 0, camera: {rotation: [10, 20, 30]}}]", duration=1.0).pose(0.0)
    np.testing.assert_allclose(
        pose.camera_rotation, euler_to_matrix(np.array([10.0, 20.0, 30.0])), atol=1e-12
    )


# -- malformed files -------------------------------------------------------------------------------------
BAD_YAML = [
    ("keyframes:\n  - time: 0\n  - time: [1\n", r"move\.yaml line [34]: not valid YAML"),
    ("units: relative\n", r"move\.yaml line 1: missing field 'keyframes'"),
    ("keyframes:\n  - camera: {fov: 40}\n", r"line 2: keyframes\[0\]: missing field 'time'"),
    (
        "keyframes:\n  - time: 0\n  - time: 1\n    camera:\n      position: abc\n",
        r"line 5: keyframes\[1\]\.camera\.position: expected a list of 3 numbers, got 'abc'",
    ),
    (
        "keyframes:\n  - time: 0\n    camera:\n      position: [0, zero, 0]\n",
        r"line 4: keyframes\[0\]\.camera\.position\[1\]: expected a number, got 'zero'",
    ),
    (
        "keyframes:\n  - time: 0\n    easing: bouncy\n",
        r"line 3: keyframes\[0\]\.easing: unknown easing 'bouncy' \(choose from: linear",
    ),
    (
        "keyframes:\n  - time: 0\n  - time: 2\n  - time: 1\n",
        r"line 4: keyframes\[2\]\.time: 1 s is not after the keyframe before \(2 s\)",
    ),
    ("keyframes:\n  - time: 0\n  - time: 0\n", r"keyframes\[1\]\.time: 0 s is not after"),
    (
        "keyframes:\n  - time: 0\n    camera: {postion: [0, 0, 0]}\n",
        r"line 3: keyframes\[0\]\.camera\.postion: unknown field \(expected one of: position",
    ),
    ("keyframes:\n  - {time: 0, frame: 3}\n", r"keyframes\[0\]\.frame: give either 'time'"),
    ("keyframes:\n  - {time: -1}\n", r"keyframes\[0\]\.time: expected a number >= 0, got -1"),
    ("keyframes:\n  - {time: 0, camera: {fov: 200}}\n", r"camera\.fov: expected a vertical field of view"),
    ("keyframes:\n  - {time: 0, camera: {fov: .nan}}\n", r"camera\.fov: expected a number, got nan"),
    ("keyframes:\n  - {time: 0, camera: {look_at: subject, rotation: [0, 0, 0]}}\n", r"give only one of"),
    (
        "keyframes:\n  - {time: 0, camera: {position: [0, 0, -1]}}\n",
        r"camera: the camera sits on the point it looks at",
    ),
    ("keyframes:\n  - {time: 0, camera: {quaternion: [0, 0, 0, 0]}}\n", r"non-zero length"),
    ("keyframes:\n  - {time: 0, object: {scale: 0}}\n", r"object\.scale: expected scale factors > 0"),
    ("keyframes:\n  - {time: 0, object: {scale: [1, 2]}}\n", r"object\.scale: expected a list of 3 numbers"),
    ("keyframes:\n  - {time: true}\n", r"keyframes\[0\]\.time: expected a number, got True"),
    ("keyframes: []\n", r"line 1: keyframes: expected a non-empty list"),
    ("keyframes: {time: 0}\n", r"keyframes: expected a non-empty list of keyframes, got a mapping"),
    ("- time: 0\n", r"expected a mapping with keys from"),
    ("units: feet\nkeyframes: [{time: 0}]\n", r"line 1: units: expected 'relative'"),
    ("loop: maybe\nkeyframes: [{time: 0}]\n", r"loop: expected true or false"),
    ("version: 2\nkeyframes: [{time: 0}]\n", r"version: only version 1 is known"),
    ("duration: 1\nkeyframes: [{time: 0}, {time: 2}]\n", r"duration: 1 s ends before the last keyframe"),
    ("keyframes:\n  - time: 0\n    time: 1\n", r"line 3: keyframes\[0\]\.time: this key appears twice"),
    ("keyframes:\n  - time: !!python/name:os.system\n", r"keyframes\[0\]\.time: cannot read this value"),
    ("", r"move\.yaml: the file is empty"),
    ("a: 1\n---\nb: 2\n", r"line 2: not valid YAML: expected a single document"),
    ("keyframes: [{time: 1e9999}]\n", r"keyframes\[0\]\.time: expected a number, got '1e9999'"),
    ("keyframes: [{time: 1.0e+12}]\n", r"keyframes\[0\]\.time: expected a number between -1e\+09 and 1e\+09"),
]


@pytest.mark.parametrize(("text", "pattern"), BAD_YAML)
def test_malformed_yaml_names_the_line_and_field(text: str, pattern: str) -> None:
    with pytest.raises(InputError, match=pattern):
        parse_timeline(text, make_scene(), source="move.yaml", duration=4.0)


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "move.json"
    path.write_text('{\n  "keyframes": [\n    {"time": 0,}\n  ]\n}\n')
    with pytest.raises(InputError, match=r"move\.json line 3 column 16: not valid JSON"):
        load_timeline(path, make_scene())


def test_json_errors_name_the_field_and_its_line(tmp_path: Path) -> None:
    path = tmp_path / "move.json"
    path.write_text(
        '{\n  "keyframes": [\n    {"time": 0},\n    {"time": 1, "camera": {"fov": "wide"}}\n  ]\n}\n'
    )
    with pytest.raises(
        InputError, match=r"move\.json line 4: keyframes\[1\]\.camera\.fov: expected a number"
    ):
        load_timeline(path, make_scene())
    path.write_text('{"keyframes": [{"time": 0}], "keyframes": []}')
    with pytest.raises(InputError, match="'keyframes' appears twice"):
        load_timeline(path, make_scene())


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="timeline file not found"):
        make_motion(str(tmp_path / "nothing.yaml"), make_scene(), duration=4.0)
    binary = tmp_path / "move.yaml"
    binary.write_bytes(b"keyframes: [\xff\xfe]")
    with pytest.raises(InputError, match="not a UTF-8 text file"):
        load_timeline(binary, make_scene())
    with pytest.raises(InputError, match="must end in"):
        load_timeline(tmp_path / "move.txt", make_scene())
    with pytest.raises(UsageError, match="unknown easing"):
        parse("keyframes: [{time: 0}, {time: 1}]", easing="wobble")


def test_the_examples_in_the_docs_work_and_agree() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "motion.md").read_text(encoding="utf-8")
    yaml_text = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    json_text = doc.split("```json\n", 1)[1].split("```", 1)[0]
    a = parse_timeline(yaml_text, make_scene(), source="reveal.yaml")
    b = parse_timeline(json_text, make_scene(), source="reveal.json", fmt="json")
    assert a.duration == b.duration == 5.0
    for t in (0.0, 1.0, 3.0, 4.0, 5.0):
        np.testing.assert_allclose(a.pose(t).camera_position, b.pose(t).camera_position, atol=1e-12)
        np.testing.assert_allclose(a.pose(t).object_matrix, b.pose(t).object_matrix, atol=1e-12)
        assert a.pose(t).fov_y == pytest.approx(b.pose(t).fov_y)
    # the error lines quoted in the docs are the ones a user gets
    bad = yaml_text.replace("position: [0.02, 0, -0.05]", "position: abc")
    with pytest.raises(InputError) as info:
        parse_timeline(bad, make_scene(), source="reveal.yaml")
    assert str(info.value) in doc


def test_make_motion_reads_a_timeline_path_with_the_callers_options(tmp_path: Path) -> None:
    path = tmp_path / "Move.YAML"
    path.write_text("keyframes:\n  - {frame: 0}\n  - {frame: 48, camera: {position: [0.2, 0, 0]}}\n")
    motion = make_motion(path, make_scene(), duration=9.0, fps=24, amplitude=0.5, easing="sine")
    assert motion.duration == pytest.approx(2.0)
    expected = 0.1 * FOCUS * get_easing("sine")(0.25)
    assert motion.pose(0.5).camera_position[0] == pytest.approx(expected)
