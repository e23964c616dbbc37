"""`dioramic reconstruct` through the real entry point, and its GLB in the glTF validator, three.js and
Blender; `dioramic render` and `dioramic export --blend` on the reconstructed model."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from dioramic.blender import blender_available
from dioramic.cli import main
from dioramic.export.glb import glb_bytes, read_gltf
from dioramic.motion import make_motion
from dioramic.scene_file import load_scene

from .conftest import REPO, Ring, validate_gltf

VIDEO = ["--size", "64x48", "--fps", "6", "--duration", "1"]


@pytest.fixture(scope="module")
def cli_out(ring: Ring, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "model"
    assert (
        main(["reconstruct", *map(str, ring.paths[:8]), "-o", str(out), "--max-triangles", "8000", *VIDEO])
        == 0
    )
    return out


def test_reconstruct_writes_every_output(cli_out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sorted(p.name for p in cli_out.iterdir()) == [
        "images",
        "report.json",
        "scene.glb",
        "sparse",
        "video.mp4",
    ]
    report = json.loads((cli_out / "report.json").read_text())
    assert report["registered"] == 8 and report["motion"] == "capture"
    with av.open(str(cli_out / "video.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape == (48, 64, 3)
    assert all(f.mean() > 10 for f in frames)  # the model (or its backdrop) fills every frame


def test_progress_is_shown_per_stage(ring: Ring, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconstruct", *map(str, ring.paths[:6]), "-o", str(tmp_path / "o"), "--no-video"]) == 0
    err = capsys.readouterr().err
    for stage in (
        "[1/8] reading the images",
        "[2/8] structure from motion",
        "[4/8] stereo depth",
        "[6/8] texturing",
    ):
        assert stage in err


def test_bad_input_is_one_line_and_exit_status_1(
    ring: Ring, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reconstruct", str(ring.paths[0]), str(ring.paths[1]), "-o", str(tmp_path / "o"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dioramic: error: ") and "view_00.png, view_01.png" in err[0]
    assert not (tmp_path / "o").exists()
    assert main(["reconstruct", str(tmp_path / "missing.png"), "-o", str(tmp_path / "o")]) == 1
    assert main(["reconstruct", str(ring.folder), "-o", str(tmp_path / "o"), "--holdout", "1"]) == 2


def test_the_glb_passes_the_khronos_validator(cli_out: Path) -> None:
    report = validate_gltf(cli_out / "scene.glb")
    issues = report["issues"]
    assert issues["numErrors"] == 0, issues["messages"]
    assert issues["numWarnings"] == 0, issues["messages"]
    assert report["info"]["animationCount"] == 1


def test_three_js_plays_the_capture_move(cli_out: Path, tmp_path: Path) -> None:
    """8 of 12 views round the ring (210 degrees): the default move sweeps along them and back."""
    player = REPO / "tools" / "threejs-player"
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (player / "node_modules" / "three").is_dir():
        pytest.skip(f"three.js is not installed: run 'npm ci' in {player}")
    document = read_gltf(cli_out / "scene.glb")
    data = (cli_out / "scene.glb").read_bytes()
    binary = data[28 + int.from_bytes(data[12:16], "little") :]
    for material in document["materials"]:  # node has no image decoder
        del material["pbrMetallicRoughness"]["baseColorTexture"]
    for key in ("textures", "images", "samplers"):
        del document[key]
    path = tmp_path / "untextured.glb"
    path.write_bytes(glb_bytes(document, binary))
    times = [0.0, 0.5, 5 / 6]
    result = subprocess.run(
        [node, str(player / "play.mjs"), str(path), *map(str, times)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    played = json.loads(result.stdout)
    scene = load_scene(cli_out / "scene.glb")
    motion = make_motion("capture", scene, duration=1.0)
    centre = scene.views.centre
    photos = scene.views.cameras - centre
    photos /= np.linalg.norm(photos, axis=1, keepdims=True)
    for frame in played["frames"]:
        camera = np.array(frame["camera"]).reshape(4, 4).T
        pose = motion.pose(frame["t"])
        np.testing.assert_allclose(camera[:3, 3], pose.camera_position, atol=1e-4)
        np.testing.assert_allclose(camera[:3, :3], pose.camera_rotation, atol=1e-4)
        direction = (camera[:3, 3] - centre) / np.linalg.norm(camera[:3, 3] - centre)
        assert np.degrees(np.arccos(np.clip(photos @ direction, -1, 1))).min() < 20.0  # near a photo
    start, half = (np.array(f["camera"]).reshape(4, 4).T[:3, 3] for f in played["frames"][:2])
    assert np.linalg.norm(start - half) > 0.3 * np.linalg.norm(start - centre)  # it moves along the arc


def test_render_and_export_work_on_the_model(cli_out: Path, tmp_path: Path) -> None:
    video = tmp_path / "spin.mp4"
    assert main(["render", str(cli_out / "scene.glb"), "-o", str(video), "--motion", "spin", *VIDEO]) == 0
    assert video.stat().st_size > 0
    for preset in ("circle", "orbit", "turntable", "dolly-zoom"):
        out = tmp_path / f"{preset}.glb"
        assert main(["export", str(cli_out / "scene.glb"), "-o", str(out), "--motion", preset, *VIDEO]) == 0
        assert load_scene(out).views is not None


@pytest.mark.skipif(
    not blender_available(), reason="no Blender environment (.venv-blender): run 'make blender'"
)
def test_blender_imports_the_model_and_its_spin(cli_out: Path, tmp_path: Path) -> None:
    from dioramic.blender import inspect_blend

    blend = tmp_path / "scene.blend"
    assert main(["export", str(cli_out / "scene.glb"), "--blend", str(blend)]) == 0
    info = inspect_blend(blend)
    assert (info.frame_start, info.frame_end) == (1, 6)
    assert info.camera["name"] == "video camera" and len(info.camera["transform_keys"]) >= 6
