"""`dioramic reconstruct` through the real entry point, and its GLB in the glTF validator, three.js and
Blender; `dioramic render` and `dioramic export --blend` on the reconstructed model."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from dioramic.blender import blender_available
from dioramic.cli import main
from dioramic.export.glb import glb_bytes, read_gltf
from dioramic.motion import make_motion
from dioramic.scene_file import load_scene

from .conftest import REPO, Ring, colmap_centres, noise_texture, umeyama_error, validate_gltf

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


@pytest.fixture
def refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run `dioramic reconstruct INPUTS -o OUT` where OUT holds an earlier result; check that it
    fails with exit status 1 and one line on stderr, leaves OUT as it was and no folder beside it
    or in the temporary folder; return the line."""
    work = tmp_path / "work"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def run(*inputs: Path) -> str:
        out = work / "out"
        out.mkdir(parents=True, exist_ok=True)
        (out / "scene.glb").write_bytes(b"earlier")
        capsys.readouterr()
        assert main(["reconstruct", *map(str, inputs), "-o", str(out), "-q"]) == 1
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("dioramic: error: "), err
        assert [p.name for p in work.iterdir()] == ["out"]
        assert [p.name for p in out.iterdir()] == ["scene.glb"] and (
            out / "scene.glb"
        ).read_bytes() == b"earlier"
        assert list(scratch.iterdir()) == []
        return err[0].removeprefix("dioramic: error: ")

    return run


def test_two_photos_are_refused(ring: Ring, refused) -> None:
    line = refused(*ring.paths[:2])
    assert line.startswith("a reconstruction needs at least 3 photos") and "view_00.png, view_01.png" in line


def test_the_same_photo_ten_times_is_refused(ring: Ring, tmp_path: Path, refused) -> None:
    copies = [tmp_path / f"copy_{k}.png" for k in range(9)]
    for copy in copies:
        shutil.copyfile(ring.paths[0], copy)
    Image.open(ring.paths[0]).save(tmp_path / "same.bmp")  # the same pixels under another name
    line = refused(*copies, tmp_path / "same.bmp")
    assert line.startswith("the 10 photos are all the same picture (copy_0.png, copy_1.png")
    assert "different places around the object" in line


def test_photos_from_one_spot_are_refused_after_matching(ring: Ring, tmp_path: Path, refused) -> None:
    photo = Image.open(ring.paths[0])
    paths = [tmp_path / f"q{quality}.jpg" for quality in (95, 90, 85, 80)]
    for path, quality in zip(paths, (95, 90, 85, 80), strict=True):
        photo.save(path, quality=quality)  # the same view, not the same pixels
    assert refused(*paths).startswith(
        "the 4 images show no camera motion (matched images differ by at most 0.0% of their size"
    )
    Image.fromarray(noise_texture(300, 9)).save(tmp_path / "other.png")  # unrelated to them
    line = refused(*paths, tmp_path / "other.png")
    assert line.startswith("the 4 images that overlap show no camera motion")
    assert line.endswith(
        "take the photos from different places around the object; overlapping no other image: other.png"
    )


def test_too_few_readable_photos_are_refused_naming_the_bad_ones(ring: Ring, tmp_path: Path, refused) -> None:
    for path in ring.paths[:2]:
        shutil.copyfile(path, tmp_path / path.name)
    (tmp_path / "cut.png").write_bytes(ring.paths[2].read_bytes()[:2000])
    (tmp_path / "notes.jpg").write_text("not a photo")
    line = refused(
        tmp_path / "view_00.png", tmp_path / "view_01.png", tmp_path / "cut.png", tmp_path / "notes.jpg"
    )
    assert line.startswith("only 2 of the 4 photos can be used (view_00.png, view_01.png)")
    assert (
        "cut.png: the image data is corrupt or truncated" in line and "notes.jpg: not an image file" in line
    )


def _encode(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def test_a_video_shorter_than_a_second_is_refused(ring: Ring, tmp_path: Path, refused) -> None:
    frames = [np.asarray(Image.open(path).convert("RGB")) for path in ring.paths[:5]]
    line = refused(_encode(tmp_path / "glimpse.mp4", frames, fps=10))
    assert line.endswith(
        "glimpse.mp4: the video lasts 0.50 s; a reconstruction needs at least 1 s (better 10 to 60 s) "
        "filmed walking slowly around the object"
    )


def test_a_video_from_a_camera_standing_still_is_refused(ring: Ring, tmp_path: Path, refused) -> None:
    view = np.asarray(Image.open(ring.paths[0]).convert("RGB")).astype(np.int16)
    noise = np.random.default_rng(0)
    frames = [np.clip(view + noise.integers(-3, 4, view.shape), 0, 255).astype(np.uint8) for _ in range(30)]
    line = refused(_encode(tmp_path / "tripod.mp4", frames, fps=10))
    assert "tripod.mp4: the camera does not move" in line and line.endswith(
        "film walking slowly around the object"
    )


def test_photos_of_mixed_sizes_and_orientations_and_a_broken_one(
    ring: Ring, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Turned (EXIF orientation) and resized photos of one camera are placed where they were, each
    size with its own lens; a broken file among them is left out with a notice and reported."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for k, path in enumerate(ring.paths[:8]):  # 210 degrees of the ring
        image = Image.open(path).convert("RGB")
        exif = Image.Exif()
        if k % 4 == 1:  # held upright: stored as the sensor saw it, to be turned clockwise for display
            exif[0x0112] = 6
        elif k % 4 == 2:
            image = image.resize((200, 150), Image.Resampling.LANCZOS)
        elif k % 4 == 3:  # upright and larger
            exif[0x0112] = 8
            image = image.resize((600, 450), Image.Resampling.LANCZOS)
        image.save(folder / f"{path.stem}.jpg", exif=exif, quality=95)
    (folder / "view_99.jpg").write_bytes((folder / "view_00.jpg").read_bytes()[:3000])  # cut short
    out = tmp_path / "out"
    capsys.readouterr()
    args = [
        "reconstruct",
        str(folder),
        "-o",
        str(out),
        "--no-video",
        "--no-background",
        "--max-triangles",
        "3000",
    ]
    assert main(args) == 0
    notices = [line for line in capsys.readouterr().err.splitlines() if line.startswith("notice")]
    assert len(notices) == 1
    assert notices[0].startswith("notice: left out 1 photo(s): view_99.jpg: the image data is corrupt")
    report = json.loads((out / "report.json").read_text())
    assert list(report["skipped"]) == [str(folder / "view_99.jpg")]
    assert report["registered"] == 8 and "view_99.jpg" not in report["images"]
    lenses = {}
    for line in (out / "sparse" / "cameras.txt").read_text().splitlines():
        if not line.startswith("#"):
            _, _, width, height, focal, *_ = line.split()
            lenses[(int(width), int(height))] = float(focal)
    assert sorted(lenses) == [(200, 150), (300, 400), (400, 300), (450, 600)]
    true_focal = 150 / np.tan(np.radians(25))  # FOV_Y = 50 degrees over 300 pixels
    for (width, height), focal in lenses.items():
        assert focal == pytest.approx(true_focal * max(width, height) / 400, rel=0.03), (width, height)
    centres = colmap_centres(out / "sparse" / "images.txt")
    names = sorted(centres)
    estimated = np.array([centres[n] for n in names])
    true = np.array([ring.poses[int(n[5:7])].camera_position for n in names])
    extent = max(np.linalg.norm(a - b) for a in true for b in true)
    assert umeyama_error(estimated, true).mean() < 0.005 * extent


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
    for preset in ("capture", "circle", "orbit", "turntable", "dolly-zoom"):
        out = tmp_path / f"{preset}.glb"
        assert main(["export", str(cli_out / "scene.glb"), "-o", str(out), "--motion", preset, *VIDEO]) == 0
        assert load_scene(out).views is not None
    # the scene file keeps where the photos were taken: the capture move stays near them
    views = load_scene(tmp_path / "capture.glb").views
    assert views is not None and views.cameras is not None and len(views.cameras) == 8
    # a timeline works on the model too (relative units: 1.0 = the distance to the model's centre)
    timeline = tmp_path / "look.yaml"
    timeline.write_text("keyframes:\n  - time: 0\n    camera: {position: [0, 0, 0]}\n"
                        "  - time: 1\n    camera: {position: [0.1, 0.05, 0]}\n")  # fmt: skip
    video = tmp_path / "timeline.mp4"
    command = ["render", str(cli_out / "scene.glb"), "-o", str(video), "--motion", str(timeline), *VIDEO]
    assert main(command) == 0
    assert video.stat().st_size > 0


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
