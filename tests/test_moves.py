"""The move a run films (its zoom) and the move a scene file holds, through the real command line."""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dioramic.config import RunOptions
from dioramic.motion import make_motion, photo_presets
from dioramic.moves import choose_motion
from dioramic.render.opengl import GLRenderer
from dioramic.scene_file import load_scene

pytestmark = pytest.mark.usefixtures("gl_available")

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "photos" / "product_coffee_cup.jpg"
DIORAMIC = Path(sys.executable).parent / "dioramic"


def dioramic(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(DIORAMIC), *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def _gltf_json(path: Path) -> dict:
    data = path.read_bytes()
    return json.loads(data[20 : 20 + struct.unpack_from("<I", data, 12)[0]])


SMALL = ("--depth", "classical", "--size", "320x214", "--fps", "10", "-q")


def _report(folder: Path) -> dict:
    return json.loads((folder / PHOTO.stem / "render.json").read_text())


@pytest.fixture(scope="module")
def planes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A textured photo of a 1 m box in front of a 3 m wall, and its depth map in metres."""
    folder = tmp_path_factory.mktemp("planes")
    v, u = np.mgrid[0:120, 0:160] / 16.0
    rgb = np.stack([128 + 80 * np.sin(u), 140 + 90 * np.cos(0.8 * u + v), 128 + 100 * np.sin(v)], axis=2)
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / "planes.png")
    depth = np.full((120, 160), 3.0, np.float32)
    depth[35:85, 50:110] = 1.0
    np.save(folder / "depth.npy", depth)
    return folder / "planes.png", folder / "depth.npy"


def _mesh(planes: tuple[Path, Path], out: Path, *args: str) -> Path:
    photo, depth = planes
    dioramic("mesh", photo, "--depth-map", depth, "--depth-kind", "metric", "-o", out, "-q", *args)
    return out


def test_the_default_run_zooms_until_no_frame_shows_past_the_photo(tmp_path: Path) -> None:
    dioramic("run", PHOTO, "-o", tmp_path / "auto", "--duration", "1.5", "--measure", "all", *SMALL)
    dioramic(
        "run",
        PHOTO,
        "-o",
        tmp_path / "off",
        "--duration",
        "1.5",
        "--measure",
        "all",
        "--overscan",
        "0",
        *SMALL,
    )
    auto, off = _report(tmp_path / "auto"), _report(tmp_path / "off")
    assert off["overscan"] == {"mode": "given", "zoom": 1.0}
    assert off["artifacts"]["max_beyond"] > 0.03  # the circle shows the inpainted margin
    assert auto["overscan"]["mode"] == "auto" and 1.0 < auto["overscan"]["zoom"] <= 1.25
    assert auto["overscan"]["predicted_beyond"] <= 0.001 < auto["overscan"]["predicted_beyond_unzoomed"]
    assert auto["artifacts"]["max_beyond"] <= 0.005  # every frame, measured at the video's size
    # the scene file carries the zoomed camera: its field of view is narrower
    yfov = [_gltf_json(tmp_path / d / PHOTO.stem / "scene.glb")["cameras"][0]["perspective"]["yfov"]
            for d in ("auto", "off")]  # fmt: skip
    ratio = math.tan(yfov[1] / 2) / math.tan(yfov[0] / 2)
    assert ratio == pytest.approx(auto["overscan"]["zoom"], rel=1e-3)


def test_a_cut_out_photo_moves_at_the_presets_strength(tmp_path: Path) -> None:
    """A photo with transparent surroundings (a product cut-out): they are empty space, not holes
    nor the margin, so the move keeps the preset's own strength (it was 0: a still video) with no
    zoom, and the video shows the background colour around the subject."""
    from PIL import ImageDraw

    photo = Image.open(PHOTO).convert("RGBA")
    width, height = photo.size
    mask = Image.new("L", photo.size, 0)
    ImageDraw.Draw(mask).ellipse((0.25 * width, 0.15 * height, 0.75 * width, 0.9 * height), fill=255)
    photo.putalpha(mask)
    photo.save(tmp_path / "cut.png")
    magenta = ("--background", "ff00ff")
    dioramic("run", tmp_path / "cut.png", "-o", tmp_path, "--duration", "1.5", *magenta, *SMALL)
    report = json.loads((tmp_path / "cut" / "render.json").read_text())
    assert report["motion"]["amplitude"] == 1.0
    assert report["overscan"]["zoom"] == 1.0
    assert report["artifacts"]["max_uncovered"] < 0.001
    import av

    with av.open(str(tmp_path / "cut" / "video.mp4")) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    corners = np.concatenate([frame[:8, :8], frame[:8, -8:], frame[-8:, :8], frame[-8:, -8:]])
    assert np.abs(corners - (255, 0, 255)).max() <= 12


def test_a_given_zoom_and_a_timeline_that_frames_itself(tmp_path: Path) -> None:
    dioramic("run", PHOTO, "-o", tmp_path / "given", "--duration", "0.3", "--overscan", "0.1", *SMALL)
    assert _report(tmp_path / "given")["overscan"]["zoom"] == pytest.approx(1.1)
    framed = tmp_path / "framed.json"
    keyframes = [{"time": 0, "camera": {"fov": 40}}, {"time": 0.3, "camera": {"position": [0.05, 0, 0]}}]
    framed.write_text(json.dumps({"keyframes": keyframes}))
    dioramic("run", PHOTO, "-o", tmp_path / "framed", "--motion", framed, "--measure", "off", *SMALL)
    report = _report(tmp_path / "framed")
    assert report["overscan"] == {"mode": "auto", "zoom": 1.0}  # the file chose its lens
    camera = _gltf_json(tmp_path / "framed" / PHOTO.stem / "scene.glb")["cameras"][0]["perspective"]
    assert math.degrees(camera["yfov"]) == pytest.approx(40.0, abs=0.01)


def test_bad_overscan_values_are_one_line_usage_errors(tmp_path: Path) -> None:
    for value in ("-0.1", "wide", "3"):
        proc = dioramic("run", PHOTO, "-o", tmp_path, "--overscan", value, check=False)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "--overscan" in proc.stderr


def test_the_exact_camera_of_a_timeline_with_no_overscan(planes: tuple[Path, Path], tmp_path: Path) -> None:
    """What the novel-view benchmark asks for: a camera at [B, 0, 0] with the photo's own lens."""
    scene = load_scene(_mesh(planes, tmp_path / "s.glb"))
    timeline = tmp_path / "view.yaml"
    timeline.write_text(
        "units: metres\nkeyframes:\n  - time: 0\n    camera: {position: [0.1, 0, 0], rotation: [0, 0, 0]}\n"
    )
    options = RunOptions(motion=str(timeline), amplitude=1.0, overscan=0.0, duration=0.1)
    pose = choose_motion(scene, options, scene.camera.aspect).motion.pose(0.0)
    assert pose.fov_y == pytest.approx(scene.camera.fov_y) and pose.camera_position.tolist() == [0.1, 0, 0]
    auto = choose_motion(scene, RunOptions(motion=str(timeline), amplitude=1.0, duration=0.1))
    assert auto.zoom > 1.0 and auto.motion.pose(0.0).fov_y < scene.camera.fov_y


def test_a_scene_file_holds_every_preset(planes: tuple[Path, Path], tmp_path: Path) -> None:
    scene = load_scene(_mesh(planes, tmp_path / "scene.glb"))
    width, height = 320, 240
    with GLRenderer(scene, width, height) as renderer:
        for name in photo_presets():
            motion = make_motion(name, scene, duration=1.0)  # amplitude 1, no zoom
            for t in np.linspace(0.0, 1.0, 31):
                coverage = renderer.render_rgba(motion.pose(float(t)))[:, :, 3]
                assert coverage.min() == 255, (name, t, int((coverage < 255).sum()))
    # through the command line, on a magenta and a green background: no pixel depends on it
    frames = []
    for background in ("ff00ff", "00ff00"):
        out = tmp_path / background
        args = ("--motion", "orbit", "--amplitude", "1", "--overscan", "0", "--size", "320x240", "--fps", "6")
        dioramic("render", tmp_path / "scene.glb", "-o", f"{out}/", "--background", background, *args, "-q")
        frames.append([np.asarray(Image.open(f)) for f in sorted(out.glob("*.png"))])
    assert len(frames[0]) == 30 and all(np.array_equal(a, b) for a, b in zip(*frames, strict=True))


def test_a_photo_scene_file_shows_no_background_in_any_preset(tmp_path: Path) -> None:
    # the bundled photo, meshed by `mesh` with the default (classical) depth: every preset at
    # amplitude 1 films it without a pixel of the background (cracks closed, margins wide enough)
    scene = load_scene(dioramic("mesh", PHOTO, "-o", tmp_path / "cup.glb", "-q") and tmp_path / "cup.glb")
    width, height = 480, 320
    with (
        GLRenderer(scene, width, height, background=(255, 0, 255)) as magenta,
        GLRenderer(scene, width, height, background=(0, 255, 0)) as green,
    ):
        for name in photo_presets():
            motion = make_motion(name, scene, duration=1.0)
            for t in np.linspace(0.0, 1.0, 16):
                pose = motion.pose(float(t))
                apart = np.abs(magenta.render(pose).astype(int) - green.render(pose)).max(axis=2) > 2
                assert not apart.any(), (name, t, int(apart.sum()))


def test_a_scene_file_records_the_move_it_holds(planes: tuple[Path, Path], tmp_path: Path) -> None:
    every = load_scene(_mesh(planes, tmp_path / "every.glb", "--amplitude", "2")).reach
    circle = load_scene(
        _mesh(planes, tmp_path / "circle.glb", "--motion", "circle", "--amplitude", "2")
    ).reach
    assert every == pytest.approx((math.sin(math.radians(6.0)), 0.5), rel=1e-3)  # orbit's, dolly-zoom's
    assert circle == pytest.approx((0.08, 0.25), rel=1e-3)  # the circle's radius; the default axial reach


def test_a_move_past_what_the_scene_holds_warns_once(planes: tuple[Path, Path], tmp_path: Path) -> None:
    move = ("--motion", "orbit", "--amplitude", "2", "--size", "64x48", "--duration", "0.2")
    small = _mesh(planes, tmp_path / "small.glb", "--motion", "circle")
    proc = dioramic("render", small, "-o", tmp_path / "a.mp4", *move)
    warning = [line for line in proc.stderr.splitlines() if "built for" in line]
    assert len(warning) == 1 and "goes past what" not in proc.stderr, proc.stderr
    assert "up to 6.0 %" in warning[0] and "goes 10.5 %" in warning[0] and "uncovered" in warning[0]
    held = _mesh(planes, tmp_path / "held.glb", *move[:4])
    assert "built for" not in dioramic("render", held, "-o", tmp_path / "b.mp4", *move).stderr
