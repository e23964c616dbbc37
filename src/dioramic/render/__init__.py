"""Film a scene: poses from a motion -> frames from the OpenGL renderer -> a video file.

`render_video` renders on a worker thread (which owns the OpenGL context) while the calling thread
encodes its frames, fed through a small bounded queue, so the two overlap; `render_frames` yields
the frames for callers that handle them themselves. A motion is anything with ``duration`` (seconds) and
``pose(t) -> Pose``; frame i is the pose at ``t = i / fps`` and there are ``round(duration * fps)``.

The frames' artifact measures (`FrameStats`) are off the hot path: by default `render_video` measures
a sample of frames (three a second and the last) at the amplitude fit's small size, in a pass of its
own; `RenderSettings.measure` asks for every frame at full size, or none.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from dioramic.errors import UsageError
from dioramic.render.opengl import STRETCH_LIMIT, FrameStats, GLRenderer
from dioramic.render.video import WRITERS, format_for_path, open_writer
from dioramic.types import Pose, Scene

__all__ = [
    "MEASURE_SIZE",
    "STRETCH_LIMIT",
    "FrameStats",
    "MeasureMode",
    "MotionLike",
    "RenderReport",
    "RenderSettings",
    "frame_times",
    "render_frames",
    "render_video",
]

logger = logging.getLogger(__name__)

MeasureMode = Literal["sample", "all", "off"]

_QUEUE_FRAMES = 3
"""Frames the render thread may have waiting for the encoder (each is width * height * 3 bytes)."""

MEASURE_SIZE = 384
"""Long side in pixels of the sampled frames' measurement renders (that of the amplitude fit's)."""

_MEASURES_PER_SECOND = 3
"""measure='sample': frames measured per second of video (and the last frame)."""


class MotionLike(Protocol):
    """What the renderer needs from a motion: its length and a pose for every instant."""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        ...

    def pose(self, t: float) -> Pose:
        """The pose at `t` seconds, 0 <= t <= duration."""
        ...


@dataclass(frozen=True)
class RenderSettings:
    """How to film a scene."""

    width: int = 1280
    """Output width in pixels (per eye for stereo='sbs', whose frames are twice as wide)."""
    height: int = 720
    """Output height in pixels."""
    fps: float = 30.0
    """Frames per second."""
    duration: float = 5.0
    """Length in seconds: round(duration * fps) frames. Past the motion's own duration, its last
    pose is held."""
    supersample: int = 1
    """Anti-aliasing: each output pixel averages supersample x supersample samples (1 = off, the
    default: against a 4x-supersampled reference, 2 adds 0.002 to 0.003 SSIM for 1.6 to 2x the
    render time, `bench/render.py --supersample 2`)."""
    background: tuple[int, int, int] = (0, 0, 0)
    """RGB colour (0..255) where no geometry is."""
    crf: int | None = None
    """Encoder quality for .mp4 (0-51) / .webm (0-63), lower = better; None: the writer's default."""
    preset: str | None = None
    """x264 speed preset for .mp4 ('ultrafast' .. 'veryslow'); None: 'veryfast'."""
    stereo: Literal["sbs", "anaglyph"] | None = None
    """None: one view; 'sbs': left and right eye side by side; 'anaglyph': red-cyan."""
    eye_separation: float = 0.03
    """Stereo only: distance between the eyes as a fraction of scene.focus (the focus plane has zero
    parallax, nearer things come out of the screen)."""
    mipmaps: bool | None = None
    """Trilinear texture filtering from mipmaps (False: bilinear, faster on a CPU, may shimmer when
    minified; None: mipmaps only for textures larger than the supersampled frame)."""
    backend: str = "egl"
    """OpenGL context backend, see `dioramic.render.context.create_context`."""
    measure: MeasureMode = "sample"
    """Which frames' `FrameStats` `render_video` measures: 'sample' (three a second and the last,
    rendered again at `MEASURE_SIZE` px, 1x, as the amplitude fit predicts them), 'all' (every frame,
    again at the frame's size and supersampling: exact, and slower) or 'off'."""

    def __post_init__(self) -> None:
        if not (16 <= self.width <= 8192 and 16 <= self.height <= 8192):
            raise UsageError(f"the video size must be within 16..8192 pixels, got {self.width}x{self.height}")
        if not 0.0 < self.fps <= 240.0:
            raise UsageError(f"fps must be within (0, 240], got {self.fps}")
        if not 0.0 < self.duration <= 3600.0:
            raise UsageError(f"duration must be within (0, 3600] seconds, got {self.duration}")
        if round(self.duration * self.fps) < 1:
            raise UsageError(f"{self.duration} s at {self.fps} fps is less than one frame")
        if not 1 <= self.supersample <= 4:
            raise UsageError(f"supersample must be within 1..4, got {self.supersample}")
        if self.stereo not in (None, "sbs", "anaglyph"):
            raise UsageError(f"stereo must be 'sbs' or 'anaglyph', got '{self.stereo}'")
        if not 0.0 < self.eye_separation <= 0.5:
            raise UsageError(f"eye_separation must be within (0, 0.5], got {self.eye_separation}")
        if self.measure not in ("sample", "all", "off"):
            raise UsageError(f"measure must be 'sample', 'all' or 'off', got '{self.measure}'")

    @property
    def frame_count(self) -> int:
        return round(self.duration * self.fps)

    def measured_frames(self) -> tuple[int, ...]:
        """Indices of the frames whose `FrameStats` `render_video` measures (see `measure`)."""
        count = self.frame_count
        if self.measure == "off":
            return ()
        if self.measure == "all":
            return tuple(range(count))
        stride = max(1, round(self.fps / _MEASURES_PER_SECOND))
        return tuple(sorted({*range(0, count, stride), count - 1}))

    def measure_size(self) -> tuple[int, int]:
        """(width, height) of one eye's measurement renders."""
        if self.measure == "all":
            return self.width, self.height
        scale = min(1.0, MEASURE_SIZE / max(self.width, self.height))
        return max(16, round(self.width * scale)), max(16, round(self.height * scale))

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames written (twice the width for side-by-side stereo)."""
        return (2 * self.width if self.stereo == "sbs" else self.width, self.height)

    def codec_options(self) -> dict[str, Any]:
        """The writer options these settings set (crf, preset), for `open_writer`."""
        options: dict[str, Any] = {}
        if self.crf is not None:
            options["crf"] = self.crf
        if self.preset is not None:
            options["preset"] = self.preset
        return options


@dataclass(frozen=True)
class RenderReport:
    """What `render_video` did."""

    output: Path
    """The file (or folder of PNG frames) written."""
    frames: int
    """Frames written."""
    width: int
    """Width of the frames written, pixels (an odd width is cropped by one for .mp4/.webm)."""
    height: int
    """Height of the frames written, pixels."""
    fps: float
    """Frames per second."""
    render_seconds: float
    """Time the render thread spent drawing and reading back frames."""
    encode_seconds: float
    """Time spent encoding and writing frames (overlapping the rendering)."""
    total_seconds: float
    """Wall-clock time from start to the finished output."""
    measure: MeasureMode = "off"
    """How the frames' artifacts were measured (`RenderSettings.measure`)."""
    measured_frames: tuple[int, ...] = field(default=(), repr=False)
    """Indices of the frames measured; the tuples below hold one value per measured frame."""
    measure_size: tuple[int, int] | None = None
    """(width, height) of the measurement renders (per eye for stereo); None when none were made."""
    uncovered: tuple[float, ...] = field(default=(), repr=False)
    """Per measured frame, the fraction (0..1) of the image no geometry covers (the background shows)."""
    stretched: tuple[float, ...] = field(default=(), repr=False)
    """Per measured frame, the fraction (0..1) of the image drawn from surfaces stretched more than
    `STRETCH_LIMIT` times in screen area relative to the photo's own view (`FrameStats`)."""
    revealed: tuple[float, ...] = field(default=(), repr=False)
    """Per measured frame, the fraction (0..1) of the image showing the scene's hidden layers."""
    beyond: tuple[float, ...] = field(default=(), repr=False)
    """Per measured frame, the fraction (0..1) of the image showing the margin beyond the photo's frame."""

    @property
    def max_uncovered(self) -> float:
        return max(self.uncovered, default=0.0)

    @property
    def max_stretched(self) -> float:
        return max(self.stretched, default=0.0)

    @property
    def max_revealed(self) -> float:
        return max(self.revealed, default=0.0)

    @property
    def max_beyond(self) -> float:
        return max(self.beyond, default=0.0)

    def artifacts(self) -> dict[str, Any]:
        """The measures as render.json holds them: how and which frames were measured, the worst
        of each measure, and each measured frame's."""
        return {
            "measured": self.measure,
            "measured_frames": list(self.measured_frames),
            "measure_size": None if self.measure_size is None else list(self.measure_size),
            "stretch_limit": STRETCH_LIMIT,
            "max_uncovered": self.max_uncovered,
            "max_stretched": self.max_stretched,
            "max_revealed": self.max_revealed,
            "max_beyond": self.max_beyond,
            "uncovered": list(self.uncovered),
            "stretched": list(self.stretched),
            "revealed": list(self.revealed),
            "beyond": list(self.beyond),
        }


def frame_times(settings: RenderSettings, motion: MotionLike) -> list[float]:
    """Time in seconds of each frame: i / fps, held at the motion's end if it is shorter."""
    times = [i / settings.fps for i in range(settings.frame_count)]
    if times[-1] > motion.duration + 1.0 / settings.fps:
        logger.warning(
            "the video lasts %.2f s but the motion %.2f s: holding its last pose",
            settings.duration,
            motion.duration,
        )
    return [min(t, motion.duration) for t in times]


def _views(pose: Pose, settings: RenderSettings, focus: float) -> list[tuple[float, float | None]]:
    """(eye_offset, convergence) of each view of a frame: one, or the left and right eye's."""
    if settings.stereo is None:
        return [(0.0, None)]
    half = 0.5 * settings.eye_separation * focus
    # Zero parallax at the focus point (0, 0, -focus) as this pose's camera sees it.
    point = (
        pose.view_matrix() @ np.asarray(pose.object_matrix, dtype=np.float64) @ np.array([0, 0, -focus, 1.0])
    )
    convergence = float(-point[2]) if point[2] < 0 else None
    return [(-half, convergence), (half, convergence)]


def _frames(
    renderer: GLRenderer,
    poses: Iterable[Pose],
    settings: RenderSettings,
    focus: float,
    yuv420: bool = False,
) -> Iterator[np.ndarray]:
    """The output frame of each pose, drawn through `GLRenderer.render_sequence` (the next frame is
    drawn while the last one is read back); `yuv420` (one view a frame only): as I420 planes."""
    per_frame = 1 if settings.stereo is None else 2
    views = (
        (pose, offset, convergence) for pose in poses for offset, convergence in _views(pose, settings, focus)
    )
    drawn = renderer.render_sequence(views, yuv420=yuv420)
    while True:
        try:
            eyes = [next(drawn) for _ in range(per_frame)]
        except StopIteration:
            return
        yield _combine(eyes, settings)


def _combine(views: list[np.ndarray], settings: RenderSettings) -> np.ndarray:
    """One output frame from its views: mono, or both eyes side by side or as a red-cyan anaglyph."""
    if settings.stereo is None:
        return views[0]
    left, right = views
    if settings.stereo == "sbs":
        return np.concatenate([left, right], axis=1)
    right[:, :, 0] = left[:, :, 0]  # red from the left eye, green and blue from the right (red-cyan)
    return right


def _measure(renderer: GLRenderer, pose: Pose, settings: RenderSettings, focus: float) -> FrameStats:
    """The frame's `FrameStats` (the worse eye's, for stereo)."""
    stats = [
        renderer.measure(pose, eye_offset=offset, convergence=convergence)
        for offset, convergence in _views(pose, settings, focus)
    ]
    return stats[0] if len(stats) == 1 else stats[0].worse(stats[1])


def make_renderer(scene: Scene, width: int, height: int, **options: Any) -> GLRenderer:
    """The renderer for `scene`: `PhotoBlendRenderer` (view-dependent, `dioramic.render.blend`) for a
    reconstruction that carries its photos, else `GLRenderer`; `options` are `GLRenderer`'s."""
    if scene.photos:
        from dioramic.render.blend import PhotoBlendRenderer

        return PhotoBlendRenderer(scene, width, height, **options)
    return GLRenderer(scene, width, height, **options)


def _renderer(scene: Scene, settings: RenderSettings) -> GLRenderer:
    return make_renderer(
        scene,
        settings.width,
        settings.height,
        supersample=settings.supersample,
        background=settings.background,
        backend=settings.backend,
        mipmaps=settings.mipmaps,
    )


def render_frames(
    scene: Scene, motion: MotionLike, settings: RenderSettings | None = None
) -> Iterator[np.ndarray]:
    """Yield the video's frames, each a new (height, width', 3) uint8 RGB array, top row first.

    width' is `settings.frame_size[0]`. Frames are rendered one by one on the consuming thread (one
    OpenGL context, alive while the generator runs: exhaust or close it to release the context).
    """
    settings = settings or RenderSettings()
    with _renderer(scene, settings) as renderer:
        poses = (motion.pose(t) for t in frame_times(settings, motion))
        yield from _frames(renderer, poses, settings, scene.focus)


class _RenderWorker(threading.Thread):
    """Renders the frames at `times` with its own OpenGL context, into a small bounded queue.

    Each result is (frame, FrameStats or None); an error is queued in place of a frame. The frames
    at `measured` indices are measured too, by a second renderer at `settings.measure_size()` (or by
    the frame's own for measure='all'). `motion.pose` is called from this thread (motions are pure
    functions of time).
    """

    def __init__(
        self,
        scene: Scene,
        motion: MotionLike,
        settings: RenderSettings,
        times: list[float],
        stop: threading.Event,
    ) -> None:
        super().__init__(name="dioramic-render", daemon=True)
        self.scene, self.motion, self.settings = scene, motion, settings
        self.times, self.stop = times, stop
        self.measured = frozenset(settings.measured_frames())
        self.results: queue.Queue[tuple[np.ndarray, FrameStats | None] | BaseException] = queue.Queue(
            _QUEUE_FRAMES
        )
        self.seconds = 0.0
        self.measure_seconds = 0.0
        self.yuv420 = False
        """Queue I420 planes (`dioramic.render.yuv`) rather than RGB frames where the renderer runs
        on a GPU (on a CPU rasteriser the conversion costs more than the encoder's own); set before
        `start`."""
        self.software: bool | None = None
        """Whether the renderer rasterises on the CPU; known once `ready` is set."""
        self.ready = threading.Event()
        """Set once the renderer exists (or the worker failed before)."""

    def wait_ready(self) -> bool:
        """Wait for the renderer: whether it rasterises on the CPU. Re-raises the worker's error if it
        failed before."""
        self.ready.wait()
        if self.software is None:
            self.next_result()  # raises what the worker queued
            raise RuntimeError("the render thread stopped unexpectedly")
        return self.software

    def run(self) -> None:
        try:
            with contextlib.ExitStack() as stack:
                try:
                    renderer = stack.enter_context(_renderer(self.scene, self.settings))
                    self.software = renderer.software
                finally:
                    self.ready.set()
                meter = renderer
                if self.settings.measure == "sample" and self.measured:
                    width, height = self.settings.measure_size()
                    meter = stack.enter_context(
                        GLRenderer(
                            self.scene,
                            width,
                            height,
                            supersample=1,
                            backend=self.settings.backend,
                            mipmaps=False,
                        )
                    )
                poses: list[Pose] = []

                def posed() -> Iterator[Pose]:  # poses made as the frames are drawn, kept for measuring
                    for t in self.times:
                        if self.stop.is_set():
                            return
                        poses.append(self.motion.pose(t))
                        yield poses[-1]

                yuv420 = self.yuv420 and not renderer.software
                frames = _frames(renderer, posed(), self.settings, self.scene.focus, yuv420)
                for index in range(len(self.times)):
                    tick = time.perf_counter()
                    if self.stop.is_set():
                        frames.close()
                        return
                    # a meter of its own measures while the frame is rasterised (it was drawn when
                    # the one before was read back)
                    early = index in self.measured and meter is not renderer and index < len(poses)
                    stats = self._measure(meter, poses[index]) if early else None
                    frame = next(frames)
                    if index in self.measured and stats is None:
                        stats = self._measure(meter, poses[index])
                    self.seconds += time.perf_counter() - tick
                    self._put((frame, stats))
        except BaseException as exc:
            self._put(exc)

    def _measure(self, meter: GLRenderer, pose: Pose) -> FrameStats:
        tick = time.perf_counter()
        stats = _measure(meter, pose, self.settings, self.scene.focus)
        self.measure_seconds += time.perf_counter() - tick
        return stats

    def _put(self, item: tuple[np.ndarray, FrameStats | None] | BaseException) -> None:
        while not self.stop.is_set():
            try:
                self.results.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def next_result(self) -> tuple[np.ndarray, FrameStats | None]:
        """The next frame; re-raises the worker's error."""
        while True:
            try:
                item = self.results.get(timeout=0.1)
            except queue.Empty:
                if not self.is_alive() and self.results.empty():
                    raise RuntimeError("the render thread stopped unexpectedly") from None
                continue
            if isinstance(item, BaseException):
                raise item
            return item


def _rasteriser_cores() -> int:
    """The cores a CPU rasteriser (llvmpipe) draws on: LP_NUM_THREADS where set (a batch job's cap),
    else the cores this process may use."""
    from dioramic.executors.base import cpu_count

    try:
        return max(1, int(os.environ["LP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return cpu_count()


def render_video(
    scene: Scene,
    motion: MotionLike,
    output: str | os.PathLike[str],
    settings: RenderSettings | None = None,
    progress: bool | Callable[[int, int], None] = False,
) -> RenderReport:
    """Render `motion` through `scene` into `output` (.mp4, .webm, .gif or a folder of PNG frames).

    A worker thread renders (it owns the OpenGL context) while this thread encodes, so the two
    overlap; a bounded queue between them holds a few frames. With `progress` True, a tqdm bar on
    stderr shows frames written and the time left; a callable is called with (frames written, total)
    after each frame. The output appears atomically when everything succeeded; on an error or Ctrl-C
    the worker stops and nothing is left behind. `settings.measure` chooses the frames whose
    artifacts the report holds.

    Note that moderngl holds the GIL through each OpenGL call (with llvmpipe, the readback waits for
    the rasteriser with it held), so the encoder's Python-side work waits for those calls; x264's own
    threads do not. The caller's thread never touches OpenGL.
    """
    from tqdm import tqdm

    settings = settings or RenderSettings()
    width, height = settings.frame_size
    times = frame_times(settings, motion)
    measured: list[FrameStats] = []
    encode_seconds = 0.0
    start = time.perf_counter()
    stop = threading.Event()
    worker = _RenderWorker(scene, motion, settings, times, stop)
    bar = tqdm(
        total=len(times),
        unit="frame",
        desc="rendering",
        file=sys.stderr,
        disable=progress is not True,
        leave=False,
    )
    writer_class = WRITERS.get(format_for_path(output))
    # a GPU converts to the encoder's YUV where it can (one view, a size the writer keeps as it is, a
    # width that is a multiple of 8); 2-D frames are I420 planes
    worker.yuv420 = (
        writer_class.takes_yuv420
        and settings.stereo is None
        and not (writer_class.even_size and (width % 2 or height % 2))
        and width % 8 == 0
    )
    options = settings.codec_options()
    writer_class(Path(output), width, height, settings.fps, **options)  # bad options fail before drawing
    try:
        worker.start()
        share = writer_class.share_beside_rasteriser
        if share and "threads" not in options and worker.wait_ready():
            # beside a CPU rasteriser the encoder gets its share of the cores: more threads only
            # compete with the rasteriser's
            options["threads"] = max(1, int(share * _rasteriser_cores()))
        with open_writer(output, width, height, settings.fps, **options) as writer:
            for done in range(1, len(times) + 1):
                frame, stats = worker.next_result()
                tick = time.perf_counter()
                if frame.ndim == 2:
                    writer.write_yuv420(frame)
                else:
                    writer.write(frame)
                encode_seconds += time.perf_counter() - tick
                if stats is not None:
                    measured.append(stats)
                bar.update(1)
                if callable(progress):
                    progress(done, len(times))
            written, output_path = writer.frames_written, writer.path
            size = (writer.out_width, writer.out_height)
    finally:
        stop.set()
        if worker.is_alive():
            worker.join()
        bar.close()
    report = RenderReport(
        output=output_path,
        frames=written,
        width=size[0],
        height=size[1],
        fps=settings.fps,
        render_seconds=worker.seconds,
        encode_seconds=encode_seconds,
        total_seconds=time.perf_counter() - start,
        measure=settings.measure,
        measured_frames=settings.measured_frames(),
        measure_size=settings.measure_size() if measured else None,
        uncovered=tuple(s.uncovered for s in measured),
        stretched=tuple(s.stretched for s in measured),
        revealed=tuple(s.revealed for s in measured),
        beyond=tuple(s.beyond for s in measured),
    )
    logger.info(
        "rendered %d frames in %.1f s (render %.1f s of which measuring %d frames %.1f s, encode %.1f s, "
        "overlapped)",
        report.frames, report.total_seconds, report.render_seconds, len(measured), worker.measure_seconds,
        report.encode_seconds,
    )  # fmt: skip
    return report
