"""Blender as an optional back end: a .blend that renders the video, and rendering through Blender.

Blender (`bpy`, Blender as a Python module) runs in its own environment, ``.venv-blender``, created by
``make blender`` or ``python -m dioramic.blender setup`` (see `dioramic.blender.env`); dioramic drives
it through a subprocess. Everything starts from an animated GLB written by
``export_scene(scene, "scene.glb", motion=motion, fps=fps, size=(w, h))``, which records the video's
fps, frame count and size, so those need not be repeated:

    >>> from dioramic.blender import export_blend, render_with_blender       # doctest: +SKIP
    >>> export_blend("out/scene.glb", "out/scene.blend")                      # doctest: +SKIP
    >>> render_with_blender("out/scene.glb", "out/video.mp4", engine="cycles", samples=32)  # doctest: +SKIP

Frames: video frame i (t = i / fps) is Blender frame ``FIRST_FRAME + i`` (Blender starts at frame 1),
so ``blender -b scene.blend -a`` renders the video's frames 1 .. n. Colours: the view transform is
'Standard' (not AgX or Filmic), so unlit textures come out with the photo's own colours.

Engines: 'workbench' (the default: flat texture colours, the look of our renderer, a few seconds a
frame on a CPU), 'cycles' (CPU path tracer, depth of field and motion blur; 16 samples without
denoising unless given, since our scenes are unlit: seconds to tens of seconds a frame) and 'eevee'
(needs OpenGL; it runs headless through EGL, also on Mesa's llvmpipe, but minutes a frame there).
See docs/blender.md for measured costs; `RenderClock` logs the estimate of a render.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dioramic.blender.env import (
    BPY_REQUIREMENT,
    VENV_NAME,
    BlenderError,
    BlenderUnavailableError,
    blender_available,
    find_blender_python,
    run_script,
    setup_blender,
)
from dioramic.errors import UsageError
from dioramic.files import atomic_path

__all__ = [
    "BPY_REQUIREMENT",
    "ENGINES",
    "FIRST_FRAME",
    "VENV_NAME",
    "BlendInfo",
    "BlenderError",
    "BlenderUnavailableError",
    "blender_available",
    "export_blend",
    "find_blender_python",
    "inspect_blend",
    "render_blend",
    "render_frames_with_blender",
    "render_with_blender",
    "setup_blender",
]

logger = logging.getLogger(__name__)

ENGINES = ("eevee", "cycles", "workbench")
"""Blender render engines by dioramic's names (BLENDER_EEVEE, CYCLES, BLENDER_WORKBENCH)."""

FIRST_FRAME = 1
"""Blender frame of the video's first frame (t = 0)."""

_QUALITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class BlendInfo:
    """What a .blend will render (read back from the file by Blender)."""

    fps: float
    """Frames per second (fps / fps_base)."""
    frame_start: int
    frame_end: int
    width: int
    """Output width, pixels (after the resolution percentage)."""
    height: int
    engine: str
    """Blender's engine name, e.g. 'BLENDER_EEVEE'."""
    output: str
    """The render output path as stored (``//NAME.mp4``: relative to the .blend)."""
    output_absolute: str
    file_format: str
    """'FFMPEG' for a movie."""
    container: str
    """FFmpeg container, 'MPEG4'."""
    codec: str
    """FFmpeg codec, 'H264'."""
    view_transform: str
    packed_images: int
    """Images stored inside the .blend."""
    camera: dict[str, Any]
    """The scene camera: name, sensor_fit, angle_y (radians), transform_keys and lens_keys (the
    frames that carry keyframes)."""

    @property
    def frame_count(self) -> int:
        return self.frame_end - self.frame_start + 1


@dataclass(frozen=True)
class _Timing:
    fps: float
    width: int
    height: int
    frame_count: int


def _timing(glb_path: Path, fps: float | None, size: tuple[int, int] | None, frames: int | None) -> _Timing:
    """Fill what the caller left out from the timing the GLB records; check the values."""
    from dioramic.export.animation import VideoTiming
    from dioramic.export.glb import read_gltf

    recorded = VideoTiming.from_document(read_gltf(glb_path))
    if recorded is None and (fps is None or size is None or frames is None):
        raise UsageError(
            f"{glb_path} has no dioramic animation (export it with a motion): give fps, size and frames"
        )
    fps = float(fps if fps is not None else recorded.fps)  # type: ignore[union-attr]
    width, height = size if size is not None else (recorded.width, recorded.height)  # type: ignore[union-attr]
    count = int(frames if frames is not None else recorded.frame_count)  # type: ignore[union-attr]
    if not 0.0 < fps <= 240.0:
        raise UsageError(f"fps must be within (0, 240], got {fps}")
    if not (16 <= int(width) <= 8192 and 16 <= int(height) <= 8192):
        raise UsageError(f"the video size must be within 16..8192 pixels, got {width}x{height}")
    if count < 1:
        raise UsageError(f"frames must be at least 1, got {count}")
    return _Timing(fps, int(width), int(height), count)


def _scene_params(
    glb_path: Path,
    timing: _Timing,
    engine: str,
    samples: int | None,
    background: tuple[int, int, int],
    motion_blur: bool,
) -> dict[str, Any]:
    if engine not in ENGINES:
        raise UsageError(f"unknown Blender engine '{engine}' (choose from: {', '.join(ENGINES)})")
    if samples is not None and not 1 <= int(samples) <= 65536:
        raise UsageError(f"samples must be within 1..65536, got {samples}")
    if len(background) != 3 or not all(0 <= int(c) <= 255 for c in background):
        raise UsageError(f"background must be three values within 0..255, got {background}")
    return {
        "glb": str(glb_path.resolve()),
        "fps": timing.fps,
        "width": timing.width,
        "height": timing.height,
        "frame_count": timing.frame_count,
        "first_frame": FIRST_FRAME,
        "engine": engine,
        "samples": None if samples is None else int(samples),
        "background": [int(c) for c in background],
        "motion_blur": bool(motion_blur),
    }


def _existing(path: str | os.PathLike[str]) -> Path:
    from dioramic.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return path


def export_blend(
    glb_path: str | os.PathLike[str],
    blend_path: str | os.PathLike[str],
    *,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    frames: int | None = None,
    engine: str = "workbench",
    samples: int | None = None,
    background: tuple[int, int, int] = (0, 0, 0),
    motion_blur: bool = False,
    video_name: str | None = None,
    quality: str = "high",
    python: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a .blend of the animated GLB at `glb_path` that renders the video with ``blender -b FILE -a``.

    The .blend holds the imported scene (textures packed inside), the camera and object animation, the
    frame range ``FIRST_FRAME .. FIRST_FRAME + frames - 1``, the frame rate, the resolution, the render
    engine (`engine`, with `samples` if given) and an FFmpeg MP4 H.264 output (`quality`: the
    constant-rate-factor preset 'high', 'medium' or 'low') to ``NAME.mp4`` beside the .blend (NAME:
    `video_name`, default the .blend's stem). `fps`, `size` (width, height) and `frames` (count)
    default to what the GLB records. The file appears atomically. Returns `blend_path`.

    Raises UsageError for bad values, InputError for a missing GLB, BlenderUnavailableError when
    Blender is not set up and BlenderError when Blender fails.
    """
    glb = _existing(glb_path)
    blend = Path(blend_path)
    if quality not in _QUALITIES:
        raise UsageError(f"unknown video quality '{quality}' (choose from: {', '.join(_QUALITIES)})")
    params = _scene_params(glb, _timing(glb, fps, size, frames), engine, samples, background, motion_blur)
    video = video_name or f"{blend.stem}.mp4"
    if Path(video).name != video or not video.lower().endswith(".mp4"):
        raise UsageError(f"video_name must be a plain file name ending in .mp4, got '{video}'")
    with atomic_path(blend) as tmp:
        params.update(blend=str(tmp.resolve()), video=video, quality=quality)
        result = run_script("make_blend", params, python=python)
    logger.info(
        "wrote %s: frames %d-%d at %.3g fps", blend, result["frame_start"], result["frame_end"], result["fps"]
    )
    return blend


def inspect_blend(
    blend_path: str | os.PathLike[str], *, python: str | os.PathLike[str] | None = None
) -> BlendInfo:
    """Open a .blend in Blender and report its render settings and camera keyframes."""
    blend = _existing(blend_path)
    return BlendInfo(**run_script("inspect_blend", {"blend": str(blend.resolve())}, python=python))


def render_blend(blend_path: str | os.PathLike[str], *, python: str | os.PathLike[str] | None = None) -> Path:
    """Render a .blend's animation with its own settings (what ``blender -b FILE -a`` does).

    Returns the output written (for the .blend from `export_blend`, the MP4 beside it).
    """
    blend = _existing(blend_path)
    return Path(run_script("render_blend", {"blend": str(blend.resolve())}, python=python)["output"])


def _render_pngs(
    params: dict[str, Any],
    folder: Path,
    python: str | os.PathLike[str] | None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    params = {**params, "out": str(folder)}
    result = run_script("render", params, python=python, on_progress=on_progress)
    return [Path(f) for f in result["files"]]


def _load_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def render_frames_with_blender(
    glb_path: str | os.PathLike[str],
    frames: Sequence[int] | None = None,
    *,
    engine: str = "workbench",
    samples: int | None = None,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    frame_count: int | None = None,
    background: tuple[int, int, int] = (0, 0, 0),
    motion_blur: bool = False,
    python: str | os.PathLike[str] | None = None,
) -> list[np.ndarray]:
    """Render video frames `frames` (indices, t = i / fps; None: all) of the GLB through Blender.

    Returns one (height, width, 3) uint8 RGB array per frame, top row first. 'workbench' draws flat
    texture colours (no lighting), comparable with dioramic's own renderer.
    """
    glb = _existing(glb_path)
    timing = _timing(glb, fps, size, frame_count)
    params = _scene_params(glb, timing, engine, samples, background, motion_blur)
    if frames is not None:
        bad = [i for i in frames if not 0 <= int(i) < timing.frame_count]
        if bad:
            raise UsageError(f"frames {bad} are outside the video's 0..{timing.frame_count - 1}")
        params["frames"] = [int(i) for i in frames]
    with tempfile.TemporaryDirectory(prefix="dioramic-blender-") as tmp:
        return [_load_png(p) for p in _render_pngs(params, Path(tmp), python)]


class RenderClock:
    """Times Blender's frames as they come and says what the whole render will cost.

    Fed with the progress of a render (frames done of a total; 0 once Blender has loaded the scene),
    it logs, after the first frame, how long that frame took and the time the remaining frames will
    take at that rate, and at the end what the frames took. The first frame is a fair measure: the
    scene is loaded before the clock starts, and each frame is rendered from scratch.

    >>> ticks = iter([100.0, 102.5, 105.0, 107.5])
    >>> clock = RenderClock("workbench", clock=lambda: next(ticks))
    >>> clock.progress(0, 3)           # the scene is loaded: t = 100
    >>> clock.progress(1, 3)           # first frame at t = 102.5
    >>> clock.estimate                 # 3 frames at 2.5 s
    7.5
    >>> clock.progress(2, 3); clock.progress(3, 3)
    >>> clock.elapsed
    7.5
    """

    def __init__(self, engine: str, clock: Callable[[], float] | None = None) -> None:
        import time

        self.engine = engine
        self._clock = clock or time.monotonic
        self._start: float | None = None
        self.estimate: float | None = None
        """Seconds all frames will take, from the first frame's time (None before it is done)."""
        self.elapsed: float | None = None
        """Seconds all frames took (None until the last is done)."""

    def progress(self, done: int, total: int) -> None:
        now = self._clock()
        if self._start is None or done == 0:
            self._start = now
            if done == 0:
                return
        seconds = now - self._start
        if done == 1 and self.estimate is None:
            self.estimate = seconds * total
            if total > 1:
                logger.info(
                    "Blender (%s): the first frame took %s; %d frames will take about %s "
                    "(--blender-engine and --samples trade quality for time)",
                    self.engine, _duration(seconds), total, _duration(self.estimate),
                )  # fmt: skip
        if done == total:
            self.elapsed = seconds
            logger.info(
                "Blender (%s): %d frames took %s (%.1f s a frame)",
                self.engine, total, _duration(seconds), seconds / total,
            )  # fmt: skip


def _duration(seconds: float) -> str:
    from dioramic.executors.batch import format_duration

    return f"{seconds:.1f} s" if seconds < 10 else format_duration(seconds)


def render_with_blender(
    glb_path: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    engine: str = "workbench",
    samples: int | None = None,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    frames: int | None = None,
    background: tuple[int, int, int] = (0, 0, 0),
    motion_blur: bool = False,
    codec_options: dict[str, Any] | None = None,
    progress: bool = False,
    python: str | os.PathLike[str] | None = None,
) -> Path:
    """Render the animated GLB's video through Blender into `output` (.mp4, .webm, .gif or a folder).

    Blender renders every frame to PNG (one Blender process), then dioramic's own video writers encode
    them, so the outputs and `codec_options` (crf, preset) are those of the default renderer. `fps`,
    `size` and `frames` (the frame count) default to what the GLB records. The log says, after the
    first frame, how long all frames will take (`RenderClock`); with `progress`, a tqdm bar on stderr
    counts the frames Blender has rendered. Returns the path written.
    """
    from tqdm import tqdm

    from dioramic.render.video import open_writer

    glb = _existing(glb_path)
    timing = _timing(glb, fps, size, frames)
    params = _scene_params(glb, timing, engine, samples, background, motion_blur)
    bar = tqdm(
        total=timing.frame_count,
        unit="frame",
        desc=f"Blender ({engine})",
        disable=not progress,
        leave=False,
    )
    clock = RenderClock(engine)

    def advance(done: int, total: int) -> None:
        with tqdm.external_write_mode(file=sys.stderr):  # the estimate's line above the bar, not in it
            clock.progress(done, total)
        bar.update(done - bar.n)

    with tempfile.TemporaryDirectory(prefix="dioramic-blender-") as tmp, bar:
        pngs = _render_pngs(params, Path(tmp), python, advance)
        with open_writer(output, timing.width, timing.height, timing.fps, **(codec_options or {})) as writer:
            for png in pngs:
                writer.write(_load_png(png))
            written = writer.path
    return Path(written)
