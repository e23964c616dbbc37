"""Animated glTF: the motion sampled at the video's frame times, read back and played like a viewer."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from dioramic.errors import UsageError
from dioramic.export import export_scene
from dioramic.export.animation import VideoTiming, decompose_trs, sample_motion
from dioramic.export.glb import build_gltf, read_gltf
from dioramic.motion import make_motion, parse_timeline
from dioramic.motion.transforms import matrix_from_quat, pivot_transform, rotation_x, rotation_y, slerp
from dioramic.scene import SceneOptions, build_scene
from dioramic.types import DepthMap, Photo, Pose, Scene

# Every channel moves: camera position, aim and zoom; object rotation, non-uniform scale, translation.
EVERYTHING = """
keyframes:
  - time: 0
    camera: {position: [-0.05, 0.02, 0], look_at: subject, fov: 44}
    object: {rotation: [0, -6, 0], scale: [1, 1, 1]}
  - time: 0.6
    camera: {position: [0.03, -0.01, -0.1], fov: 38}
    object: {rotation: [3, 4, 2], scale: [1.1, 0.95, 1.0], translation: [0.02, 0, 0]}
  - time: 1.0
    camera: {position: [0.05, 0.0, -0.05], look_at: [0.1, 0, -1]}
    object: {rotation: [0, 8, 0], scale: [1, 1, 1.2]}
"""


def _scene() -> Scene:
    height, width = 48, 64
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 4, y * 5, (x * y) % 256], axis=2).astype(np.uint8)
    depth = (3.0 + x / width).astype(np.float32)
    depth[12:30, 20:44] = 1.5
    return build_scene(Photo(rgb), DepthMap(depth), SceneOptions(max_triangles=3000))


def _motion(name: str, scene: Scene, duration: float = 1.0):
    if name == "everything":
        return parse_timeline(EVERYTHING, scene)
    return make_motion(name, scene, duration=duration)


def _read(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    json_length = struct.unpack_from("<I", data, 12)[0]
    bin_length = struct.unpack_from("<I", data, 20 + json_length)[0]
    return read_gltf(path), data[28 + json_length : 28 + json_length + bin_length]


def _accessor(document: dict, binary: bytes, index: int) -> np.ndarray:
    acc = document["accessors"][index]
    assert acc["componentType"] == 5126
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[acc["type"]]
    start = document["bufferViews"][acc["bufferView"]]["byteOffset"]
    return np.frombuffer(binary, np.float32, acc["count"] * width, start).reshape(-1, width)


class Player:
    """Plays a glTF animation as the spec says (LINEAR: lerp, slerp for rotations; STEP: hold)."""

    def __init__(self, document: dict, binary: bytes) -> None:
        self.document = document
        self.channels: dict[tuple[int | str, str], tuple[np.ndarray, np.ndarray, str]] = {}
        (animation,) = document["animations"]
        for channel in animation["channels"]:
            sampler = animation["samplers"][channel["sampler"]]
            target = channel["target"]
            key = (
                (target["node"], target["path"])
                if target["path"] != "pointer"
                else ("pointer", target["extensions"]["KHR_animation_pointer"]["pointer"])
            )
            times = _accessor(document, binary, sampler["input"])[:, 0].astype(np.float64)
            values = _accessor(document, binary, sampler["output"]).astype(np.float64)
            self.channels[key] = (times, values, sampler["interpolation"])

    def value(self, node: int | str, path: str, t: float) -> np.ndarray:
        times, values, interpolation = self.channels[(node, path)]
        i = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2))
        s = float(np.clip((t - times[i]) / (times[i + 1] - times[i]), 0.0, 1.0))
        if interpolation == "STEP":
            return values[i + 1] if s >= 1.0 else values[i]
        if path == "rotation":
            return slerp(values[i], values[i + 1], s)
        return (1.0 - s) * values[i] + s * values[i + 1]

    def node_matrix(self, node: int, t: float) -> np.ndarray:
        matrix = np.eye(4)
        rotation = matrix_from_quat(self.value(node, "rotation", t))
        scale = self.value(node, "scale", t) if (node, "scale") in self.channels else np.ones(3)
        matrix[:3, :3] = rotation @ np.diag(scale)
        matrix[:3, 3] = self.value(node, "translation", t)
        return matrix


def _nodes(document: dict) -> tuple[int, int]:
    names = [n["name"] for n in document["nodes"]]
    return names.index("diorama"), names.index("video camera")


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    """Degrees between two (3, 3) rotations."""
    cos = (np.trace(a.T @ b) - 1.0) / 2.0
    return math.degrees(math.acos(float(np.clip(cos, -1.0, 1.0))))


def test_samples_are_the_video_frame_times_plus_the_end() -> None:
    scene = _scene()
    samples = sample_motion(make_motion("circle", scene, duration=4.0), fps=12, distance=scene.focus)
    assert samples.frame_count == 48 and len(samples.times) == 49  # smooth enough: no extra samples
    np.testing.assert_allclose(samples.times, np.arange(49) / 12)
    assert samples.is_frame.all() and samples.duration == pytest.approx(4.0)
    # a closed loop ends where it starts, so a looping player wraps seamlessly
    np.testing.assert_allclose(samples.camera_translation[-1], samples.camera_translation[0], atol=1e-12)
    # longer than the motion: the last pose is held, as the renderer holds it
    held = sample_motion(make_motion("dolly", scene, duration=1.0), fps=10, duration=1.5)
    np.testing.assert_array_equal(held.camera_translation[held.times == 1.0], held.camera_translation[-1:])
    with pytest.raises(UsageError, match="less than one frame"):
        sample_motion(make_motion("circle", scene, duration=0.01), fps=10)


def test_extra_samples_only_where_interpolation_strays() -> None:
    scene = _scene()
    samples = sample_motion(_motion("everything", scene), fps=24, distance=scene.focus)
    np.testing.assert_allclose(samples.times[samples.is_frame], np.arange(25) / 24)
    extra = samples.times[~samples.is_frame]
    # the timeline turns sharply at its keyframe at 0.6 s, inside frame interval 14..15
    assert len(extra) > 0 and np.all((extra > 14 / 24) & (extra < 15 / 24))
    # a tighter tolerance asks for more samples, a looser one for none
    assert len(sample_motion(_motion("orbit", scene), fps=24, tolerance=1e-6).times) > 25
    assert len(sample_motion(_motion("everything", scene), fps=24, tolerance=1.0).times) == 25


def test_document_layout(tmp_path: Path) -> None:
    scene = _scene()
    motion = _motion("circle", scene, duration=4.0)
    path = export_scene(scene, tmp_path / "scene.glb", motion=motion, fps=10, size=(320, 180))
    document, _ = _read(path)
    object_node, camera_node = _nodes(document)
    nodes = document["nodes"]
    assert document["scenes"][0]["nodes"] == [object_node, camera_node]
    assert [nodes[i]["name"] for i in nodes[object_node]["children"]] == [m.name for m in scene.meshes]
    camera = document["cameras"][nodes[camera_node]["camera"]]["perspective"]
    assert camera["aspectRatio"] == pytest.approx(320 / 180)  # the video's, not the photo's 4:3
    assert camera["yfov"] == pytest.approx(scene.camera.fov_y)
    # each node rests at the first frame, for viewers that do not play animations
    np.testing.assert_allclose(nodes[camera_node]["translation"], motion.pose(0.0).camera_position)
    assert nodes[object_node]["scale"] == [1.0, 1.0, 1.0]
    (animation,) = document["animations"]
    assert animation["name"] == "dioramic motion"
    targets = sorted((c["target"]["node"], c["target"]["path"]) for c in animation["channels"])
    assert targets == sorted(
        [(camera_node, "translation"), (camera_node, "rotation")]
        + [(object_node, p) for p in ("translation", "rotation", "scale")]
    )
    assert {s["interpolation"] for s in animation["samplers"]} == {"LINEAR"}
    assert "KHR_animation_pointer" not in document["extensionsUsed"]  # the circle keeps its zoom
    time_input = document["accessors"][animation["samplers"][0]["input"]]
    assert (time_input["min"], time_input["max"], time_input["count"]) == ([0.0], [4.0], 41)
    assert VideoTiming.from_document(document) == VideoTiming(10.0, 40, 320, 180)


@pytest.mark.parametrize("name", ["circle", "orbit", "dolly-zoom", "turntable", "everything"])
def test_played_back_at_frame_times_it_is_the_motion(name: str, tmp_path: Path) -> None:
    scene = _scene()
    motion = _motion(name, scene)
    fps = 24
    document, binary = _read(export_scene(scene, tmp_path / "s.glb", motion=motion, fps=fps, size=(64, 36)))
    player = Player(document, binary)
    object_node, camera_node = _nodes(document)
    pointer = ("pointer", "/cameras/0/perspective/yfov")
    assert (pointer in player.channels) == (name in ("dolly-zoom", "everything"))
    assert ("KHR_animation_pointer" in document["extensionsUsed"]) == (pointer in player.channels)
    assert "extensionsRequired" not in document
    for i in range(round(motion.duration * fps)):
        pose = motion.pose(i / fps)
        camera = player.node_matrix(camera_node, i / fps)
        np.testing.assert_allclose(camera[:3, 3], pose.camera_position, atol=1e-6)
        np.testing.assert_allclose(camera[:3, :3], pose.camera_rotation, atol=1e-6)
        np.testing.assert_allclose(player.node_matrix(object_node, i / fps), pose.object_matrix, atol=1e-6)
        fov = player.value(*pointer, i / fps)[0] if pointer in player.channels else pose.fov_y
        assert fov == pytest.approx(pose.fov_y, abs=1e-6)
    # between frames (sub-frame sampling: motion blur), slerp of the samples stays within a pixel
    # of a 720-line video of the motion's own rotation
    pixel = math.degrees(scene.camera.fov_y) / 720
    for i in range(round(motion.duration * fps)):
        t = (i + 0.5) / fps
        pose = motion.pose(t)
        assert _angle(player.node_matrix(camera_node, t)[:3, :3], pose.camera_rotation) < pixel
        assert _angle(player.node_matrix(object_node, t)[:3, :3], pose.object_matrix[:3, :3]) < pixel


def test_step_interpolation_holds_each_frame() -> None:
    scene = _scene()
    document, _ = build_gltf(scene, motion=_motion("orbit", scene), fps=10, interpolation="STEP")
    assert {s["interpolation"] for s in document["animations"][0]["samplers"]} == {"STEP"}
    with pytest.raises(UsageError, match="interpolation"):
        build_gltf(scene, motion=_motion("orbit", scene), interpolation="CUBICSPLINE")


def test_quaternions_take_the_short_way() -> None:
    scene = _scene()
    samples = sample_motion(_motion("everything", scene), fps=30)
    for series in (samples.camera_rotation, samples.object_rotation):
        assert np.all(np.einsum("ij,ij->i", series[1:], series[:-1]) > 0.0)
        np.testing.assert_allclose(np.linalg.norm(series, axis=1), 1.0, atol=1e-12)


def test_decompose_trs_round_trips_and_refuses_shear() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        rotation = rotation_y(rng.uniform(-180, 180)) @ rotation_x(rng.uniform(-90, 90))
        scale = rng.uniform(0.2, 3.0, 3) * rng.choice([-1.0, 1.0], 3)
        matrix = pivot_transform(rotation, scale, rng.normal(size=3), rng.normal(size=3))
        t, q, s = decompose_trs(matrix)
        rebuilt = np.eye(4)
        rebuilt[:3, :3] = matrix_from_quat(q) @ np.diag(s)
        rebuilt[:3, 3] = t
        np.testing.assert_allclose(rebuilt, matrix, atol=1e-9)
    shear = np.eye(4)
    shear[0, 1] = 0.3
    with pytest.raises(UsageError, match="shear"):
        decompose_trs(shear)
    with pytest.raises(UsageError, match="zero scale"):
        decompose_trs(np.diag([1.0, 0.0, 1.0, 1.0]))


def test_a_shearing_motion_is_a_usage_error(tmp_path: Path) -> None:
    scene = _scene()

    class Shear:
        duration = 1.0

        def pose(self, t: float) -> Pose:
            matrix = np.eye(4)
            matrix[0, 1] = 0.2 * t
            return Pose(np.zeros(3), np.eye(3), 0.8, matrix)

    with pytest.raises(UsageError, match="shear"):
        export_scene(scene, tmp_path / "s.glb", motion=Shear(), fps=10)
    assert not list(tmp_path.iterdir())


def test_bad_options(tmp_path: Path) -> None:
    scene = _scene()
    motion = _motion("circle", scene)
    with pytest.raises(UsageError, match="size"):
        export_scene(scene, tmp_path / "a.glb", motion=motion, size=(0, 10))
    with pytest.raises(UsageError, match="fps"):
        export_scene(scene, tmp_path / "b.glb", motion=motion, fps=0)
    with pytest.raises(UsageError, match="no option 'motion'"):
        export_scene(scene, tmp_path / "c.obj", motion=motion)
    assert not list(tmp_path.iterdir())


def test_gltf_text_holds_the_same_animation(tmp_path: Path) -> None:
    scene = _scene()
    motion = _motion("dolly-zoom", scene)
    text = export_scene(scene, tmp_path / "s.gltf", motion=motion, fps=10, size=(64, 36))
    document = json.loads(text.read_text())
    assert read_gltf(text) == document
    assert VideoTiming.from_document(document) == VideoTiming(10.0, 10, 64, 36)
    assert document["extensionsUsed"] == ["KHR_materials_unlit", "KHR_animation_pointer"]


def test_trimesh_still_reads_the_animated_file(tmp_path: Path) -> None:
    import trimesh

    scene = _scene()
    path = export_scene(scene, tmp_path / "s.glb", motion=_motion("circle", scene), fps=10)
    loaded = trimesh.load(path, process=False, maintain_order=True)
    assert sum(len(m.faces) for m in loaded.geometry.values()) == scene.triangle_count
    # the circle leaves the object where it was built: its world vertices are the scene's
    world = loaded.to_geometry()
    expected = np.concatenate([m.vertices for m in scene.meshes])
    np.testing.assert_allclose(np.sort(world.vertices, axis=0), np.sort(expected, axis=0), atol=1e-6)
