"""The `dioramic` command through its real entry point, on a bundled photo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "photos"

DIORAMIC = Path(sys.executable).parent / "dioramic"
PHOTO = PHOTOS / "product_coffee_cup.jpg"


def dioramic(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(DIORAMIC), *map(str, args)], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def _video_info(path: Path) -> tuple[int, int, int, str, str]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return (
            frames,
            stream.codec_context.width,
            stream.codec_context.height,
            stream.codec_context.name,
            (stream.codec_context.pix_fmt),
        )


def test_run_writes_the_four_outputs(tmp_path: Path) -> None:
    out = tmp_path / "out dir"
    proc = dioramic(
        "run",
        PHOTO,
        "-o",
        out,
        "--depth",
        "classical",
        "--size",
        "320x214",
        "--fps",
        "10",
        "--duration",
        "1.5",
    )
    folder = out / PHOTO.stem
    assert str(folder) in proc.stdout
    for name in ("depth.png", "depth.npy", "scene.glb", "video.mp4", "render.json"):
        assert (folder / name).is_file(), name
    photo = Image.open(PHOTO)
    depth_png = Image.open(folder / "depth.png")
    assert depth_png.mode.startswith("I;16") and depth_png.size == photo.size
    depth = np.load(folder / "depth.npy")
    assert depth.dtype == np.float32 and depth.shape == (photo.height, photo.width)
    assert np.isfinite(depth).all() and depth.min() > 0
    # near = bright: the brightest pixel of depth.png is among the nearest of depth.npy
    png = np.asarray(depth_png).astype(np.int64)
    assert depth.flat[png.argmax()] <= np.percentile(depth, 1) + 1e-6
    assert (folder / "scene.glb").read_bytes()[:4] == b"glTF"
    assert _video_info(folder / "video.mp4") == (15, 320, 214, "h264", "yuv420p")
    report = json.loads((folder / "render.json").read_text())
    assert report["depth_backend"] == "classical" and report["triangles"] > 0
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_run_default_video_is_1280_wide(tmp_path: Path) -> None:
    dioramic("run", PHOTO, "-o", tmp_path, "--depth", "classical", "--duration", "0.2", "-q")
    frames, w, h, codec, pix = _video_info(tmp_path / PHOTO.stem / "video.mp4")
    assert (frames, w, codec, pix) == (6, 1280, "h264", "yuv420p")
    assert abs(w / h - 600 / 400) < 0.01


def test_unreadable_photo_gives_one_line_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_text("not a jpeg")
    proc = dioramic("run", bad, "-o", tmp_path / "out", check=False)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("dioramic:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert "broken.jpg" in errors[0] and "not an image" in errors[0]
    assert not (tmp_path / "out" / "broken").exists()


def test_batch_continues_past_a_failure(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    proc = dioramic(
        "run",
        bad,
        PHOTO,
        "-o",
        tmp_path / "o",
        "--depth",
        "classical",
        "--size",
        "64x48",
        "--duration",
        "0.1",
        check=False,
    )
    assert proc.returncode == 1
    assert "1 succeeded, 1 failed" in proc.stdout and "bad.png" in proc.stdout
    assert (tmp_path / "o" / PHOTO.stem / "video.mp4").is_file()


def test_usage_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    for args in (
        ["run", PHOTO, "--size", "big"],
        ["run", PHOTO, "--depth", "nope", "-o", tmp_path],
        ["frobnicate"],
    ):
        proc = dioramic(*args, check=False)
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr and proc.stderr.strip(), args


@pytest.mark.parametrize("command", [[], ["run"], ["depth"], ["mesh"], ["motions"]])
def test_help_explains_every_option(command: list[str]) -> None:
    proc = dioramic(*command, "--help")
    assert "usage: dioramic" in proc.stdout
    if command == ["run"]:
        for flag in ("--size", "--fps", "--duration", "--motion", "--depth", "--output"):
            assert flag in proc.stdout


def test_depth_command_writes_png_and_npy(tmp_path: Path) -> None:
    dioramic("depth", PHOTO, "-o", tmp_path / "d.png", "--backend", "classical")
    dioramic("depth", PHOTO, "-o", tmp_path / "d.npy", "--backend", "classical", "--raw")
    assert Image.open(tmp_path / "d.png").size == Image.open(PHOTO).size
    raw = np.load(tmp_path / "d.npy")
    assert raw.shape == (400, 600) and raw.dtype == np.float32
    listing = dioramic("depth", "--list").stdout
    for name in ("classical", "depth-anything-v2", "file"):
        assert name in listing


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    proc = dioramic(
        "run",
        PHOTO,
        "-o",
        blocker / "out",
        "--depth",
        "classical",
        "--size",
        "64x48",
        "--duration",
        "0.1",
        check=False,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "cannot" in proc.stderr.splitlines()[-1]


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_text("nope")
    proc = dioramic("run", bad, "-o", tmp_path, "--debug", check=False)
    assert proc.returncode == 1 and "Traceback" in proc.stderr


def test_ctrl_c_leaves_no_partial_outputs(tmp_path: Path) -> None:
    import signal
    import time

    proc = subprocess.Popen(
        [
            str(DIORAMIC),
            "run",
            str(PHOTO),
            "-o",
            str(tmp_path),
            "--depth",
            "classical",
            "--size",
            "320x214",
            "--duration",
            "60",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    folder = tmp_path / PHOTO.stem
    deadline = time.monotonic() + 120
    while not list(folder.glob(".video*")) and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until the video is being written
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    names = sorted(p.name for p in folder.iterdir())
    assert "video.mp4" not in names and not [n for n in names if n.startswith(".")], names


def _gltf_json(path: Path) -> dict:
    import struct

    data = path.read_bytes()
    length = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20 : 20 + length])


def test_export_animated_glb_then_render_it(tmp_path: Path) -> None:
    glb = tmp_path / "scene.glb"
    dioramic("export", PHOTO, "-o", glb, "--depth", "classical", "--size", "160x106", "--duration", "1", "-q")
    doc = _gltf_json(glb)
    assert doc["animations"] and doc["cameras"][0]["perspective"]["aspectRatio"] == pytest.approx(160 / 106)
    assert {n["name"] for n in doc["nodes"]} >= {"surface", "silhouettes", "diorama"}
    proc = dioramic("render", glb, "-o", tmp_path / "v.webm", "--size", "96x64", "--duration", "0.5", "-q")
    assert "v.webm" in proc.stdout
    assert _video_info(tmp_path / "v.webm")[:4] == (15, 96, 64, "vp9")


def test_render_stereo_side_by_side_png_frames(tmp_path: Path) -> None:
    out = tmp_path / "frames"
    dioramic(
        "render",
        PHOTO,
        "-o",
        f"{out}/",
        "--depth",
        "classical",
        "--size",
        "64x48",
        "--fps",
        "10",
        "--duration",
        "0.3",
        "--stereo",
        "sbs",
        "-q",
    )
    frames = sorted(out.glob("frame_*.png"))
    assert [f.name for f in frames] == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    assert Image.open(frames[0]).size == (128, 48)


def test_export_needs_an_output(tmp_path: Path) -> None:
    proc = dioramic("export", PHOTO, check=False)
    assert proc.returncode == 2 and "needs -o OUT" in proc.stderr


def test_run_with_the_blender_renderer(tmp_path: Path) -> None:
    from dioramic.blender import blender_available

    if not blender_available():
        pytest.skip("no Blender environment (.venv-blender): run 'make blender'")
    dioramic(
        "run",
        PHOTO,
        "-o",
        tmp_path,
        "--depth",
        "classical",
        "--renderer",
        "blender",
        "--blender-engine",
        "workbench",
        "--size",
        "96x64",
        "--duration",
        "0.2",
        "-q",
    )
    folder = tmp_path / PHOTO.stem
    assert _video_info(folder / "video.mp4") == (6, 96, 64, "h264", "yuv420p")
    assert json.loads((folder / "render.json").read_text())["render"]["renderer"] == "blender"


def test_bad_depth_map_and_timeline_are_input_errors(tmp_path: Path) -> None:
    small = tmp_path / "d.npy"
    np.save(small, np.ones((10, 40), np.float32))  # 4:1, the photo is 3:2
    timeline = tmp_path / "move.yaml"
    timeline.write_text("keyframes:\n  - time: 0\n    camera: {position: [1, 2]}\n")
    for args in (["--depth-map", small], ["--depth", "classical", "--motion", timeline]):
        proc = dioramic(
            "run", PHOTO, "-o", tmp_path / "o", "--size", "64x48", "--duration", "0.1", *args, check=False
        )
        errors = [line for line in proc.stderr.splitlines() if line.startswith("dioramic:")]
        assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "move.yaml" in errors[0] and "position" in errors[0]
    assert not list((tmp_path / "o").rglob("video.*"))


def test_timeline_file_drives_the_video(tmp_path: Path) -> None:
    timeline = tmp_path / "move.json"
    timeline.write_text(
        json.dumps(
            {
                "keyframes": [
                    {"time": 0, "camera": {"position": [-0.03, 0, 0], "look_at": "subject"}},
                    {"time": 0.5, "camera": {"position": [0.03, 0, 0], "look_at": "subject"}},
                ]
            }
        )
    )
    dioramic(
        "run", PHOTO, "-o", tmp_path, "--depth", "classical", "--size", "64x48", "--motion", timeline, "-q"
    )
    folder = tmp_path / PHOTO.stem
    assert _video_info(folder / "video.mp4")[0] == 15  # the timeline's 0.5 s at 30 fps, not --duration
    assert json.loads((folder / "render.json").read_text())["motion"]["spec"].endswith("move.json")


def test_batch_keeps_photos_with_the_same_stem_apart_and_resumes(tmp_path: Path) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    Image.open(PHOTO).resize((96, 64)).save(photos / "a.jpg")
    Image.open(PHOTO).resize((96, 64)).save(photos / "a.png")
    args = (
        "run",
        photos,
        "-o",
        tmp_path / "o",
        "--depth",
        "classical",
        "--size",
        "48x32",
        "--duration",
        "0.1",
    )
    proc = dioramic(*args)
    assert "2 succeeded, 0 failed" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a_jpg", "a_png"]
    (tmp_path / "o" / "a_png" / "render.json").unlink()  # as if interrupted before the end
    proc = dioramic(*args, "--skip-existing")
    assert "a.jpg: wrote" not in proc.stdout and "a.png: wrote" in proc.stdout


def test_depth_of_a_folder_into_a_folder(tmp_path: Path) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    Image.open(PHOTO).resize((60, 40)).save(photos / "x.jpg")
    (photos / "broken.png").write_text("nope")
    proc = dioramic(
        "depth", photos, "-o", tmp_path / "d", "--backend", "classical", "--format", "png", check=False
    )
    assert proc.returncode == 1 and "1 succeeded, 1 failed" in proc.stdout
    assert Image.open(tmp_path / "d" / "x.png").size == (60, 40)
    dioramic("depth", PHOTO, "-o", f"{tmp_path / 'single'}/", "--backend", "classical")
    assert np.load(tmp_path / "single" / f"{PHOTO.stem}.npy").shape == (400, 600)


def test_mesh_command_writes_each_format(tmp_path: Path) -> None:
    for name in ("s.glb", "s.obj", "s.ply", "points.ply"):
        proc = dioramic(
            "mesh", PHOTO, "-o", tmp_path / name, "--depth", "classical", "--max-triangles", "5000"
        )
        assert (tmp_path / name).is_file() and "triangles" in proc.stdout
    assert (tmp_path / "s.mtl").is_file()


def test_bad_settings_fail_before_any_work(tmp_path: Path) -> None:
    cases = [
        (["--preset", "bogus"], "preset"),
        (["--depth", "classical", "--model", "x.onnx"], "--model"),
        (["--motion", "nowhere.yaml"], "nowhere.yaml"),
        (["--easing", "wobbly"], "wobbly"),
    ]
    for extra, word in cases:
        proc = dioramic("run", PHOTO, "-o", tmp_path / "o", *extra, check=False)
        assert proc.returncode in (1, 2) and word in proc.stderr and "Traceback" not in proc.stderr, extra
    assert not (tmp_path / "o").exists()
    (tmp_path / "m.obj").write_text("v 0 0 0\n")
    proc = dioramic("render", tmp_path / "m.obj", "-o", tmp_path / "v.mp4", check=False)
    assert proc.returncode == 2 and ".glb or .gltf" in proc.stderr


def test_near_and_far_place_relative_depth(tmp_path: Path) -> None:
    dioramic("depth", PHOTO, "-o", tmp_path / "d.npy", "--backend", "classical", "--near", "2", "--far", "5")
    depth = np.load(tmp_path / "d.npy")
    assert depth.min() == pytest.approx(2.0, rel=1e-3) and depth.max() == pytest.approx(5.0, rel=1e-3)
    proc = dioramic("depth", PHOTO, "-o", tmp_path / "e.npy", "--near", "5", "--far", "2", check=False)
    assert proc.returncode == 2 and "--near" in proc.stderr


def test_learned_inpainter_without_weights_says_how_to_get_them(tmp_path: Path) -> None:
    proc = dioramic(
        "run",
        PHOTO,
        "-o",
        tmp_path,
        "--depth",
        "classical",
        "--inpainter",
        "lama",
        "--size",
        "64x48",
        "--duration",
        "0.1",
        check=False,
    )
    errors = [line for line in proc.stderr.splitlines() if line.startswith("dioramic:")]
    assert proc.returncode == 1 and len(errors) == 1 and "--inpaint-model" in errors[0], proc.stderr
    proc = dioramic("run", PHOTO, "-o", tmp_path, "--inpaint-model", "x.onnx", check=False)
    assert proc.returncode == 2 and "--inpainter lama" in proc.stderr


def test_a_video_of_another_aspect_frames_the_photo_without_bands(tmp_path: Path) -> None:
    square = tmp_path / "square.png"
    Image.open(PHOTO).crop((100, 0, 500, 400)).save(square)
    for motion in ("still", "circle"):
        out = tmp_path / motion
        dioramic(
            "run",
            square,
            "-o",
            out,
            "--depth",
            "classical",
            "--size",
            "96x48",
            "--duration",
            "0.3",
            "--motion",
            motion,
            "--amplitude",
            "1",
            "-q",
        )
        report = json.loads((out / "square" / "render.json").read_text())
        assert report["artifacts"]["max_uncovered"] <= 0.001, (motion, report["artifacts"]["max_uncovered"])


def test_tiny_and_panorama_photos_make_videos(tmp_path: Path) -> None:
    Image.open(PHOTO).resize((16, 16)).save(tmp_path / "tiny.png")
    Image.open(PHOTO).resize((800, 100)).save(tmp_path / "pano.jpg")
    dioramic(
        "run",
        tmp_path / "tiny.png",
        tmp_path / "pano.jpg",
        "-o",
        tmp_path / "o",
        "--depth",
        "classical",
        "--duration",
        "0.1",
        "-q",
    )
    assert _video_info(tmp_path / "o" / "tiny" / "video.mp4")[:3] == (3, 1280, 1280)
    assert _video_info(tmp_path / "o" / "pano" / "video.mp4")[:3] == (3, 1280, 160)
    assert np.load(tmp_path / "o" / "tiny" / "depth.npy").shape == (16, 16)
