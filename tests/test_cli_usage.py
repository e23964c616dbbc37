"""What a new user meets on the command line, through the real `dioramic` entry point: each command
shows (and takes) exactly its own options, mistakes are refused before any work and leave nothing
behind, notices are said once per run, and -q leaves only errors; a default GIF that can be posted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "photos"
PHOTO = PHOTOS / "product_coffee_cup.jpg"
DIORAMIC = Path(sys.executable).parent / "dioramic"
FAST = ["--size", "64x48", "--duration", "0.2"]
CLASSICAL_NOTICE = "notice: using the classical depth estimator"


def dioramic(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DIORAMIC), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **(env or {})},
    )


def small_photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, source in enumerate(sorted(PHOTOS.glob("*.jpg"))[:count]):
        paths.append(folder / f"p{i}.jpg")
        Image.open(source).resize((64, 48)).save(paths[-1])
    return paths


RENDERING_ONLY = ("--crf", "--preset", "--stereo", "--supersample", "--renderer")


def listed_options(command: str) -> set[str]:
    """The options `dioramic COMMAND --help` lists (each at the start of its help line)."""
    text = dioramic(command, "--help").stdout
    return set(re.findall(r"^ {2}(?:-\w, )?(--[\w-]+)", text, flags=re.MULTILINE))


def test_each_command_shows_the_options_it_takes() -> None:
    export = listed_options("export")
    assert {"--blend", "--fps", "--size", "--blender-engine", "--samples"} <= export
    assert not export & set(RENDERING_ONLY)  # export renders no frames
    render = listed_options("render")
    assert {*RENDERING_ONLY, "--blender-engine", "--samples", "--motion-blur"} <= render  # Blender too
    assert {"--max-triangles", "--depth"} <= listed_options("mesh")
    assert not listed_options("mesh") & {"--fps", "--crf", "--renderer"}
    assert {*RENDERING_ONLY, "--executor", "--skip-existing"} <= listed_options("run")


def test_an_option_of_another_command_points_to_this_commands_help(tmp_path: Path) -> None:
    proc = dioramic("export", PHOTO, "-o", tmp_path / "s.glb", "--crf", "20")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("dioramic export: error: unrecognized arguments: --crf 20")
    assert "--crf is an option of dioramic run, dioramic render" in proc.stderr
    assert "(see 'dioramic export --help')" in proc.stderr
    proc = dioramic("render", PHOTO, "-o", tmp_path / "v.mp4", "--frobnicate")
    assert proc.returncode == 2 and "(see 'dioramic render --help')" in proc.stderr
    assert "see 'dioramic --help'" not in proc.stderr
    assert not list(tmp_path.iterdir())


def test_unsupported_formats_are_refused_before_any_stage(tmp_path: Path) -> None:
    # the photo does not exist: had any stage run first, the error would be about it
    missing = tmp_path / "no-such-photo.jpg"
    proc = dioramic("mesh", missing, "-o", tmp_path / "x.fbx")
    assert proc.returncode == 2 and "x.fbx: cannot tell the export format" in proc.stderr
    proc = dioramic("export", missing, "-o", tmp_path / "x.fbx")
    assert proc.returncode == 2 and "x.fbx: cannot tell the export format" in proc.stderr
    proc = dioramic("render", missing, "-o", tmp_path / "x.avi")
    assert proc.returncode == 2 and "x.avi" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_missing_blender_is_refused_before_any_stage(tmp_path: Path) -> None:
    no_blender = {"DIORAMIC_BLENDER_PYTHON": str(tmp_path / "no-blender" / "python")}
    out = tmp_path / "out"
    cases = [
        ["export", PHOTO, "-o", out / "scene.glb", "--blend", out / "scene.blend"],
        ["export", PHOTO, "-o", out / "scene.blend"],
        ["run", PHOTO, "-o", out, "--renderer", "blender"],
        ["render", PHOTO, "-o", out / "video.mp4", "--renderer", "blender"],
    ]
    cases = [[*args, *FAST] for args in cases] + [["mesh", PHOTO, "-o", out / "scene.blend"]]
    for args in cases:
        proc = dioramic(*args, "--depth", "classical", env=no_blender)
        assert proc.returncode == 1, (args, proc.stderr)
        assert "no such Python interpreter for Blender" in proc.stderr, (args, proc.stderr)
        assert not out.exists(), args  # nothing written: scene.glb, the output folder
    proc = dioramic("render", PHOTO, "-o", out / "v.mp4", "--renderer", "blender", "--motion-blur")
    assert proc.returncode == 2 and "--motion-blur needs --blender-engine cycles or eevee" in proc.stderr


@pytest.mark.usefixtures("gl_available")
@pytest.mark.parametrize("executor", ["serial", "local"])
def test_the_classical_depth_notice_once_per_run_and_nothing_with_quiet(
    tmp_path: Path, executor: str
) -> None:
    """Offline (the tests' hub is), 'auto' falls back to classical depth with a notice: once for a
    batch, however many photos and wherever they run; -q leaves errors only."""
    folder = tmp_path / "in"
    small_photos(folder, 3)
    workers = ["--workers", "2"] if executor == "local" else []
    run = ["run", folder, "--executor", executor, *workers, *FAST]
    proc = dioramic(*run, "-o", tmp_path / "a")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count(CLASSICAL_NOTICE) == 1, proc.stderr
    quiet = dioramic(*run, "-o", tmp_path / "b", "-q")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""  # no notice, no progress, no stages
    assert quiet.stdout.count("wrote ") == 3  # the results


def test_quiet_leaves_the_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    proc = dioramic("run", bad, PHOTO, "-o", tmp_path / "o", "-q", "--depth", "classical", *FAST)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"dioramic: error: {bad}: not an image file Pillow can read (JPEG, PNG, WebP, TIFF, ...)"
    ]


def _gif_timing(path: Path) -> tuple[tuple[int, int], int, int]:
    """(size, frames, total of the frame delays in ms) of a GIF."""
    with Image.open(path) as gif:
        delays = []
        for i in range(gif.n_frames):
            gif.seek(i)
            delays.append(gif.info["duration"])
        return gif.size, gif.n_frames, sum(delays)


@pytest.mark.usefixtures("gl_available")
def test_a_default_gif_is_480_wide_at_15_fps_and_keeps_its_duration(tmp_path: Path) -> None:
    gif = tmp_path / "cup.gif"
    proc = dioramic(
        "render", PHOTO, "-o", gif, "--depth", "classical", "--duration", "1", "--supersample", "1"
    )
    assert proc.returncode == 0, proc.stderr
    assert "GIF: 480x320, 15 fps, 15 frames (GIF defaults: long side 480 px and 15 fps" in proc.stderr
    size, frames, milliseconds = _gif_timing(gif)
    assert (size, frames, milliseconds) == ((480, 320), 15, 1000)  # delays 7, 6, 7 ... cs: exactly 1 s
    assert gif.stat().st_size < 2_000_000  # 1 s of it; a default 5 s GIF of a bundled photo is ~5 MB
    # what is given is kept: 30 fps alternate 3 and 4 cs delays, still exactly the duration
    proc = dioramic("render", PHOTO, "-o", gif, "--depth", "classical", "--duration", "0.5", "--fps", "30",
                    "--size", "96x64", "-q")  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert _gif_timing(gif) == ((96, 64), 15, 500)


@pytest.mark.usefixtures("gl_available")
def test_a_blender_render_says_what_it_will_cost(tmp_path: Path) -> None:
    from dioramic.blender import blender_available

    if not blender_available():
        pytest.skip("no Blender environment (.venv-blender): run 'make blender'")
    out = tmp_path / "video.mp4"
    proc = dioramic(
        "render", PHOTO, "-o", out, "--renderer", "blender", "--depth", "classical",
        "--size", "64x48", "--fps", "10", "--duration", "0.3",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # the default engine is the one that finishes a default video in minutes on a CPU
    assert re.search(
        r"Blender \(workbench\): the first frame took [\d.]+ s; 3 frames will take about", proc.stderr
    )
    assert re.search(r"Blender \(workbench\): 3 frames took [\d.]+ s \([\d.]+ s a frame\)", proc.stderr)
    assert "wrote" in proc.stdout and out.stat().st_size > 0
