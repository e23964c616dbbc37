"""Video writers, chosen by the output path: .mp4 (H.264), .webm (VP9), .gif, or a folder of PNG frames.

Every writer is atomic: frames go to a hidden temporary file (or folder) beside the target, which is
renamed onto the target only when the writer closes without an error; an exception or Ctrl-C removes
it and leaves any previous output untouched::

    with open_writer("out.mp4", 1280, 720, fps=30) as writer:
        for frame in frames:          # (720, 1280, 3) uint8 RGB
            writer.write(frame)

Sizes: H.264 and VP9 store 4:2:0 chroma and need an even width and height; an odd one is cropped by
one pixel (the last column or row) with a warning, so a 1279x719 request gives a 1278x718 video.
GIF and PNG frames keep any size.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dioramic.errors import MissingDependencyError, OutputError, UsageError
from dioramic.registry import Registry

logger = logging.getLogger(__name__)

FOLDER_FORMAT = "png"
"""Registry name of the PNG-frames writer, chosen for a folder path (see `format_for_path`)."""

FRAME_NAME = "frame_{:05d}.png"
"""File name of frame i in a PNG folder."""

_FRAME_NAME_RE = re.compile(r"frame_\d{5,}\.png")


class VideoWriter(ABC):
    """Base class of writers: validates frames and handles the atomic temporary output.

    Subclasses set `name`, `options` (the codec options they accept, with defaults) and implement
    `_open`, `_write` and `_finish`; `_discard` removes whatever `_open` started.
    """

    name: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {}
    """Accepted codec options and their defaults."""
    even_size: ClassVar[bool] = False
    """Whether the codec needs an even width and height (4:2:0 chroma)."""
    takes_yuv420: ClassVar[bool] = False
    """Whether `write_yuv420` takes frames already converted to 4:2:0 YUV (BT.709, limited range)."""
    share_beside_rasteriser: ClassVar[float | None] = None
    """The share of the cores the encoder's `threads` get when a CPU rasteriser draws the frames on
    the same cores (None: its own default)."""

    def __init__(self, path: Path, width: int, height: int, fps: float, **codec_options: Any) -> None:
        unknown = sorted(set(codec_options) - set(self.options))
        if unknown:
            valid = ", ".join(self.options) or "none"
            raise UsageError(f"the {self.name} writer has no option {', '.join(unknown)} (valid: {valid})")
        if width < 1 or height < 1:
            raise UsageError(f"the frame size must be positive, got {width}x{height}")
        if not 0.0 < fps <= 240.0:
            raise UsageError(f"fps must be within (0, 240], got {fps}")
        self.path = Path(path)
        self.width = int(width)
        self.height = int(height)
        self.fps = float(fps)
        self.settings: dict[str, Any] = {**self.options, **codec_options}
        self.frames_written = 0
        self.out_width, self.out_height = self.width, self.height
        if self.even_size and (self.width % 2 or self.height % 2):
            self.out_width, self.out_height = self.width - self.width % 2, self.height - self.height % 2
            if self.out_width < 2 or self.out_height < 2:
                raise UsageError(f"{self.name} needs a frame of at least 2x2 pixels, got {width}x{height}")
            logger.warning(
                "%s needs even sizes: cropping %dx%d frames to %dx%d",
                self.name, self.width, self.height, self.out_width, self.out_height,
            )  # fmt: skip
        self.temp_path = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.tmp")
        self._check_settings()

    def _check_settings(self) -> None:
        """Raise UsageError for an option value (or fps, size) this writer cannot use."""
        return

    def write(self, frame: np.ndarray) -> None:
        """Append one (height, width, 3) uint8 RGB frame, top row first."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"expected a ({self.height}, {self.width}, 3) uint8 frame, got {frame.shape} {frame.dtype}"
            )
        if (self.out_width, self.out_height) != (self.width, self.height):
            frame = frame[: self.out_height, : self.out_width]
        self._write(np.ascontiguousarray(frame))
        self.frames_written += 1

    def write_yuv420(self, planes: np.ndarray) -> None:
        """Append one frame given as (height * 3 / 2, width) uint8 I420 planes, BT.709 limited range
        (`dioramic.render.yuv`), for writers that take them (`takes_yuv420`; an even frame size)."""
        if not self.takes_yuv420:
            raise UsageError(f"the {self.name} writer takes RGB frames only")
        shape = (self.height * 3 // 2, self.width)
        if (self.width, self.height) != (self.out_width, self.out_height):
            raise ValueError(f"4:2:0 frames need an even size, got {self.width}x{self.height}")
        if planes.shape != shape or planes.dtype != np.uint8:
            raise ValueError(f"expected a {shape} uint8 I420 frame, got {planes.shape} {planes.dtype}")
        self._write_yuv420(np.ascontiguousarray(planes))
        self.frames_written += 1

    def _write_yuv420(self, planes: np.ndarray) -> None:
        raise NotImplementedError

    @abstractmethod
    def _open(self) -> None:
        """Start writing to `self.temp_path`."""

    @abstractmethod
    def _write(self, frame: np.ndarray) -> None:
        """Write one contiguous (out_height, out_width, 3) uint8 frame."""

    @abstractmethod
    def _finish(self) -> None:
        """Flush and close everything written under `self.temp_path`."""

    def _commit(self) -> None:
        os.replace(self.temp_path, self.path)

    def _discard(self) -> None:
        """Remove the temporary output (called after an error, best effort)."""
        self.temp_path.unlink(missing_ok=True)


WRITERS: Registry[type[VideoWriter]] = Registry("video format")


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The writer name for an output path.

    A path that ends in a separator, names an existing folder or has no extension is a folder of PNG
    frames; otherwise the extension chooses ('.mp4', '.webm', '.gif').
    """
    text = os.fspath(path)
    p = Path(text)
    if text.endswith(("/", os.sep)) or p.is_dir() or not p.suffix:
        return FOLDER_FORMAT
    name = p.suffix.lower().lstrip(".")
    if name == FOLDER_FORMAT or name not in WRITERS:
        formats = ", ".join(f".{n}" for n in WRITERS.names() if n != FOLDER_FORMAT)
        raise UsageError(
            f"cannot write video to '{p.name}': use {formats}, or a folder path ending in '/' for PNG frames"
        )
    return name


@contextmanager
def open_writer(
    path: str | os.PathLike[str], width: int, height: int, fps: float, **codec_options: Any
) -> Iterator[VideoWriter]:
    """Open the writer for `path` (see `format_for_path`) as a context manager.

    On a normal exit the output is finished and renamed into place; on an exception (KeyboardInterrupt
    included) the temporary output is removed and the exception propagates. `codec_options` are the
    chosen writer's `options` (e.g. ``crf=20, preset='fast'`` for .mp4); others raise UsageError.
    """
    writer_class = WRITERS.get(format_for_path(path))
    writer = writer_class(Path(path), width, height, fps, **codec_options)
    try:
        writer.path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder '{writer.path.parent}': {exc.strerror}") from exc
    try:
        writer._open()
        yield writer
        writer._finish()
        writer._commit()
    except BaseException:
        try:
            writer._discard()
        except Exception:  # the original error matters more than a failed clean-up
            logger.exception("could not remove the temporary output '%s'", writer.temp_path)
        raise
    logger.info("wrote %d frames to %s", writer.frames_written, writer.path)


def _import_av() -> Any:
    try:
        import av
    except ImportError:
        raise MissingDependencyError("av", "render", "writing videos") from None
    return av


def _frame_rate(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


class _PyAVWriter(VideoWriter):
    """H.264 / VP9 through PyAV: 4:2:0 YUV with BT.709 colours, limited range, tagged as such."""

    even_size = True
    takes_yuv420 = True
    codec: ClassVar[str] = ""
    container_format: ClassVar[str] = ""
    container_options: ClassVar[dict[str, str]] = {}

    @abstractmethod
    def _codec_options(self) -> dict[str, str]:
        """The encoder's options (x264 or libvpx names) from `self.settings`."""

    def _open(self) -> None:
        av = _import_av()
        try:
            self._container = av.open(
                str(self.temp_path), mode="w", format=self.container_format, options=self.container_options
            )
        except OSError as exc:
            raise OutputError(f"cannot write '{self.path}': {exc.strerror or exc}") from exc
        rate = _frame_rate(self.fps)
        self._time_base = 1 / rate
        stream = self._container.add_stream(self.codec, rate=rate)
        stream.width, stream.height = self.out_width, self.out_height
        stream.pix_fmt = "yuv420p"
        context = stream.codec_context
        context.thread_count = int(self.settings["threads"])
        context.color_range = 1  # AVCOL_RANGE_MPEG (limited)
        context.colorspace = context.color_primaries = context.color_trc = 1  # BT.709
        stream.options = self._codec_options()
        self._stream = stream

    def _write(self, frame: np.ndarray) -> None:
        from dioramic.render.yuv import rgb_to_i420

        self._write_yuv420(rgb_to_i420(frame))  # the frame is cropped to an even size

    def _write_yuv420(self, planes: np.ndarray) -> None:
        import av

        video_frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        video_frame.color_range = 1  # AVCOL_RANGE_MPEG (limited)
        video_frame.colorspace = 1  # BT.709
        self._encode(video_frame)

    def _encode(self, video_frame: Any) -> None:
        video_frame.pts = self.frames_written
        video_frame.time_base = self._time_base
        self._container.mux(self._stream.encode(video_frame))

    def _finish(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()

    def _discard(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            try:
                container.close()
            except Exception:  # a half-written file: closing may fail, it is removed anyway
                logger.debug("closing the discarded container failed", exc_info=True)
        super()._discard()


@WRITERS.register("mp4")
class MP4Writer(_PyAVWriter):
    """H.264 (libx264) in MP4, yuv420p, with the index at the front for streaming (faststart).

    Options: crf (0-51, lower = better, 18 is visually lossless for most footage), preset (x264
    speed preset; 'veryfast' keeps encoding well under the renderer's cost on two cores), threads
    (0 = automatic).
    """

    name = "mp4"
    codec = "libx264"
    container_format = "mp4"
    container_options: ClassVar[dict[str, str]] = {"movflags": "+faststart"}
    options: ClassVar[dict[str, Any]] = {"crf": 18, "preset": "veryfast", "threads": 0}
    share_beside_rasteriser = 0.25
    """x264 takes 15 to 25 of the 55 to 85 CPU ms a 720p frame costs beside llvmpipe. Its automatic
    threads (1.5 a core) only compete with llvmpipe's there: on two cores one thread renders and
    encodes 5 to 10 % faster."""

    presets: ClassVar[tuple[str, ...]] = (
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
    )  # fmt: skip

    def _check_settings(self) -> None:
        if not 0 <= int(self.settings["crf"]) <= 51:
            raise UsageError(f"crf for mp4 must be within 0..51, got {self.settings['crf']}")
        if self.settings["preset"] not in self.presets:
            raise UsageError(
                f"unknown x264 preset '{self.settings['preset']}' (choose from: {', '.join(self.presets)})"
            )

    def _codec_options(self) -> dict[str, str]:
        return {"crf": str(int(self.settings["crf"])), "preset": str(self.settings["preset"])}


@WRITERS.register("webm")
class WebMWriter(_PyAVWriter):
    """VP9 (libvpx-vp9) in WebM, yuv420p, constant quality.

    Options: crf (0-63, lower = better; 31 is a good web default), speed (libvpx cpu-used 0-8: higher
    is faster and a little larger; 6 with row multithreading is near real time at 720p on two cores),
    threads (0 = automatic).
    """

    name = "webm"
    codec = "libvpx-vp9"
    container_format = "webm"
    options: ClassVar[dict[str, Any]] = {"crf": 31, "speed": 6, "threads": 0}

    def _check_settings(self) -> None:
        if not 0 <= int(self.settings["crf"]) <= 63:
            raise UsageError(f"crf for webm must be within 0..63, got {self.settings['crf']}")
        if not 0 <= int(self.settings["speed"]) <= 8:
            raise UsageError(f"speed for webm must be within 0..8, got {self.settings['speed']}")

    def _codec_options(self) -> dict[str, str]:
        crf, speed = int(self.settings["crf"]), int(self.settings["speed"])
        threads = int(self.settings["threads"]) or os.cpu_count() or 1
        return {
            "crf": str(crf),
            "b": "0",  # constant quality: no bitrate target
            "deadline": "good",
            "cpu-used": str(speed),
            "row-mt": "1",
            "tile-columns": "2",
            "threads": str(threads),
        }


@WRITERS.register("gif")
class GifWriter(VideoWriter):
    """Animated GIF with one optimised palette for the whole animation and exact timing.

    Frames are spooled raw to a temporary file beside the output. On close, FFmpeg's ``palettegen``
    (through PyAV) chooses the 255 colours that best cover every frame (the 256th is kept for
    transparency, which the encoder uses for pixels that did not change), ``paletteuse`` maps each
    frame to them and the encoder stores only the changed rectangle of each frame. Dithering
    (`dither`): 'bayer' (the default) is an ordered pattern that stays put from frame to frame, so it
    neither shimmers nor defeats the encoder's frame differencing, and keeps smooth skies free of
    bands; 'floyd_steinberg' and 'sierra2_4a' diffuse the error (a little smoother stills, larger
    files, a crawling pattern on moving images); 'none' bands gradients. GIF frame delays are whole
    centiseconds: frame i starts at round(100 i / fps) cs, so the delays (6 and 7 cs at 15 fps)
    add up to the duration exactly. fps above 50 is refused (browsers slow such GIFs down to 10 fps).
    Options: dither, bayer_scale (0-5: larger = a finer, fainter pattern), loop (0 = forever).
    """

    name = "gif"
    options: ClassVar[dict[str, Any]] = {"dither": "bayer", "bayer_scale": 3, "loop": 0}
    dithers: ClassVar[tuple[str, ...]] = ("bayer", "floyd_steinberg", "sierra2_4a", "none")

    def _check_settings(self) -> None:
        if self.fps > 50.0:
            raise UsageError(f"GIF cannot play {self.fps:g} fps: use 50 fps or less, or .mp4/.webm")
        dither = self.settings["dither"]
        if isinstance(dither, bool):  # True / False: the default pattern / none
            self.settings["dither"] = dither = "bayer" if dither else "none"
        if dither not in self.dithers:
            raise UsageError(f"unknown GIF dither '{dither}' (choose from: {', '.join(self.dithers)})")
        if not 0 <= int(self.settings["bayer_scale"]) <= 5:
            raise UsageError(f"bayer_scale must be within 0..5, got {self.settings['bayer_scale']}")

    def _open(self) -> None:
        _import_av()
        self._spool_path = self.temp_path.with_name(self.temp_path.name + ".raw")
        try:
            self._spool = open(self._spool_path, "wb")  # noqa: SIM115 - closed in _finish/_discard
        except OSError as exc:
            raise OutputError(f"cannot write beside '{self.path}': {exc.strerror}") from exc

    def _write(self, frame: np.ndarray) -> None:
        self._spool.write(frame.data)

    def _frames(self) -> np.ndarray:
        shape = (self.frames_written, self.out_height, self.out_width, 3)
        return np.memmap(self._spool_path, dtype=np.uint8, mode="r", shape=shape)

    def delays(self) -> list[int]:
        """Each frame's delay in centiseconds: they add up to round(100 * frames / fps).

        >>> writer = GifWriter(Path("a.gif"), 16, 16, 15)
        >>> writer.frames_written = 15
        >>> writer.delays(), sum(writer.delays())
        ([7, 6, 7, 7, 6, 7, 7, 6, 7, 7, 6, 7, 7, 6, 7], 100)
        """
        starts = [round(i * 100 / self.fps) for i in range(self.frames_written + 1)]
        return [b - a for a, b in itertools.pairwise(starts)]

    def _palette(self, frames: np.ndarray) -> Any:
        """The animation's palette (a 16x16 frame) from FFmpeg's palettegen over every frame."""
        import av

        graph = av.filter.Graph()
        source = graph.add_buffer(
            width=self.out_width, height=self.out_height, format="rgb24", time_base=Fraction(1, 100)
        )
        generate = graph.add("palettegen", "max_colors=256:reserve_transparent=1:stats_mode=full")
        sink = graph.add("buffersink")
        source.link_to(generate)
        generate.link_to(sink)
        graph.configure()
        for i in range(len(frames)):
            source.push(self._video_frame(frames, i))
        source.push(None)
        return sink.pull()

    def _video_frame(self, frames: np.ndarray, i: int) -> Any:
        import av

        frame = av.VideoFrame.from_ndarray(np.asarray(frames[i]), format="rgb24")
        frame.pts, frame.time_base = round(i * 100 / self.fps), Fraction(1, 100)
        return frame

    def _finish(self) -> None:
        import av

        self._spool.close()
        if self.frames_written == 0:
            raise ValueError("a GIF needs at least one frame")
        frames = self._frames()
        centiseconds = Fraction(1, 100)
        dither = str(self.settings["dither"])
        if dither == "bayer":
            dither += f":bayer_scale={int(self.settings['bayer_scale'])}"
        container = av.open(
            str(self.temp_path), mode="w", format="gif", options={"loop": str(self.settings["loop"])}
        )
        try:
            palette = self._palette(frames)
            graph = av.filter.Graph()
            source = graph.add_buffer(
                width=self.out_width, height=self.out_height, format="rgb24", time_base=centiseconds
            )
            palette_source = graph.add_buffer(
                width=palette.width, height=palette.height, format=palette.format.name, time_base=centiseconds
            )
            use = graph.add("paletteuse", f"dither={dither}:diff_mode=rectangle")
            sink = graph.add("buffersink")
            source.link_to(use, 0, 0)
            palette_source.link_to(use, 0, 1)
            use.link_to(sink)
            graph.configure()
            palette.pts = 0
            palette_source.push(palette)
            palette_source.push(None)

            stream = container.add_stream("gif", rate=_frame_rate(self.fps))
            stream.width, stream.height = self.out_width, self.out_height
            stream.pix_fmt = "pal8"
            stream.codec_context.time_base = centiseconds
            starts = [0, *itertools.accumulate(self.delays())]
            done = 0

            def encode_ready() -> None:
                nonlocal done
                while True:
                    try:
                        frame = sink.pull()
                    except (av.error.BlockingIOError, av.error.EOFError):
                        return
                    frame.pts, frame.time_base = starts[done], centiseconds
                    done += 1
                    for packet in stream.encode(frame):
                        packet.duration = starts[done] - starts[done - 1]  # the last frame's delay too
                        container.mux(packet)

            for i in range(len(frames)):
                source.push(self._video_frame(frames, i))
                encode_ready()
            source.push(None)
            encode_ready()
            container.mux(stream.encode(None))
            if done != len(frames):
                raise RuntimeError(f"the GIF palette filter returned {done} of {len(frames)} frames")
        finally:
            container.close()
            del frames
            self._spool_path.unlink(missing_ok=True)

    def _discard(self) -> None:
        spool = getattr(self, "_spool", None)
        if spool is not None:
            spool.close()
            self._spool_path.unlink(missing_ok=True)
        super()._discard()


@WRITERS.register(FOLDER_FORMAT)
class PngFolderWriter(VideoWriter):
    """Lossless PNG frames frame_00000.png, frame_00001.png, ... in a folder.

    Frames are written into a hidden temporary folder; on success it is renamed to the target (a new
    folder), or, when the target folder exists, its frames are moved in and any older
    frame_NNNNN.png files there are removed, so the folder holds exactly this render's frames.
    Option: compress_level (zlib level 0-9; 1 is fast and only a little larger).
    """

    name = "png folder"
    options: ClassVar[dict[str, Any]] = {"compress_level": 1}

    def _open(self) -> None:
        self._into_existing = self.path.is_dir()
        if self._into_existing:
            self.temp_path = self.path / f".frames.{uuid.uuid4().hex[:8]}.tmp"
        try:
            self.temp_path.mkdir()
        except OSError as exc:
            raise OutputError(f"cannot create a folder beside '{self.path}': {exc.strerror}") from exc

    def _write(self, frame: np.ndarray) -> None:
        from PIL import Image

        target = self.temp_path / FRAME_NAME.format(self.frames_written)
        try:
            Image.fromarray(frame).save(target, compress_level=int(self.settings["compress_level"]))
        except OSError as exc:
            raise OutputError(f"cannot write '{target}': {exc.strerror or exc}") from exc

    def _finish(self) -> None:
        pass

    def _commit(self) -> None:
        if not self._into_existing:
            os.replace(self.temp_path, self.path)
            return
        written = {FRAME_NAME.format(i) for i in range(self.frames_written)}
        for old in self.path.iterdir():
            if _FRAME_NAME_RE.fullmatch(old.name) and old.name not in written:
                old.unlink()
        for name in sorted(written):
            os.replace(self.temp_path / name, self.path / name)
        self.temp_path.rmdir()

    def _discard(self) -> None:
        shutil.rmtree(self.temp_path, ignore_errors=True)
