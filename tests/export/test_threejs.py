"""three.js (GLTFLoader + AnimationMixer, in node) plays our animated GLB as the video's move.

Needs node and ``npm ci`` in tools/threejs-player; skipped otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dioramic.export.animation import DEFAULT_TOLERANCE
from dioramic.export.glb import build_gltf, glb_bytes
from dioramic.motion import make_motion, parse_timeline
from dioramic.scene import SceneOptions, build_scene
from dioramic.types import DepthMap, Photo, Scene

REPO = Path(__file__).resolve().parents[2]
PLAYER = REPO / "tools" / "threejs-player"

MOVE = """
keyframes:
  - time: 0
    camera: {position: [-0.05, 0.02, 0], look_at: subject, fov: 44}
    object: {rotation: [0, -6, 0]}
  - time: 0.6
    camera: {position: [0.03, -0.01, -0.1]}
    object: {rotation: [3, 4, 2], scale: [1.1, 0.95, 1.0], translation: [0.02, 0, 0]}
  - time: 1.0
    camera: {position: [0.05, 0.0, -0.05], look_at: [0.1, 0, -1]}
"""


def _scene() -> Scene:
    y, x = np.mgrid[0:48, 0:64]
    rgb = np.stack([x * 4, y * 5, (x * y) % 256], axis=2).astype(np.uint8)
    depth = (3.0 + x / 64).astype(np.float32)
    depth[12:30, 20:44] = 1.5
    return build_scene(Photo(rgb), DepthMap(depth), SceneOptions(max_triangles=2000))


def _play(scene: Scene, motion, path: Path, times: list[float], fps: float = 24.0) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (PLAYER / "node_modules" / "three").is_dir():
        pytest.skip(f"three.js is not installed: run 'npm ci' in {PLAYER}")
    document, binary = build_gltf(scene, motion=motion, fps=fps, size=(320, 180))
    # node has no image decoder for GLTFLoader: the same document without its textures
    for material in document["materials"]:
        del material["pbrMetallicRoughness"]["baseColorTexture"]
    for key in ("textures", "images", "samplers"):
        del document[key]
    path.write_bytes(glb_bytes(document, binary))
    result = subprocess.run(
        [node, str(PLAYER / "play.mjs"), str(path), *map(str, times)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", ["timeline", "turntable", "orbit"])
def test_animation_mixer_plays_the_video_frames(name: str, tmp_path: Path) -> None:
    scene = _scene()
    fps = 24.0
    motion = parse_timeline(MOVE, scene) if name == "timeline" else make_motion(name, scene, duration=1.0)
    count = round(motion.duration * fps)
    times = [i / fps for i in range(count)] + [(count - 0.5) / fps]
    played = _play(scene, motion, tmp_path / "scene.glb", times, fps)
    assert played["clips"] == ["dioramic motion"]
    assert played["duration"] == pytest.approx(count / fps)  # the video's length
    assert played["camera"]["aspect"] == pytest.approx(320 / 180)
    for frame in played["frames"]:
        pose = motion.pose(frame["t"])
        # exact at the frame times; between frames within the sampling tolerance (an angle, and
        # that angle seen from the subject's distance for translations)
        atol = 1e-5 if frame["t"] in times[:count] else 2 * DEFAULT_TOLERANCE * max(1.0, scene.focus)
        camera = np.array(frame["camera"]).reshape(4, 4).T  # three.js stores column-major
        np.testing.assert_allclose(camera[:3, 3], pose.camera_position, atol=atol)
        np.testing.assert_allclose(camera[:3, :3], pose.camera_rotation, atol=atol)
        obj = np.array(frame["object"]).reshape(4, 4).T
        np.testing.assert_allclose(obj, pose.object_matrix, atol=atol)


def test_three_js_ignores_the_zoom_channel(tmp_path: Path) -> None:
    """GLTFLoader skips KHR_animation_pointer channels (three-animation-pointer is a plugin): the
    field of view stays the first frame's. Documented in dioramic.export.animation."""
    scene = _scene()
    motion = make_motion("dolly-zoom", scene, duration=1.0)
    played = _play(scene, motion, tmp_path / "zoom.glb", [0.0, 0.9])
    first = np.degrees(motion.pose(0.0).fov_y)
    assert [f["fov"] for f in played["frames"]] == pytest.approx([first, first])
    assert not any("fov" in track for track in played["tracks"])
