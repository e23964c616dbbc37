"""The images of a reconstruction: photos given one by one or as a folder, or frames of a video.

`collect_images` writes every image, upright and 8-bit sRGB, into one folder (COLMAP reads them from
there, and the output keeps them so that NeRF or splat trainers find them) and returns their names and
pixels. Photos that need no conversion are copied byte for byte. A video is sampled into frames by
`sample_video`: its length is cut into equal intervals and the sharpest frame of each is kept.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dioramic.errors import InputError
from dioramic.photo import load_photo

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".heic", ".heif"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm"}
FRAMES_PER_SECOND = 2.0
"""Video frames kept per second of video (before the limits below)."""
MIN_FRAMES = 12
"""Fewest frames kept from a video (if it has that many)."""
MAX_FRAMES = 48
"""Most frames kept from a video by default: about 7 degrees apart on a slow walk around an object."""
_SHARPNESS_SIDE = 320
"""Long side (pixels) at which a frame's sharpness is measured."""
_COPIED_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class InputImages:
    """The images to reconstruct from, stored in one folder."""

    folder: Path
    """Where the images are (file names = `names`)."""
    names: tuple[str, ...]
    """File names, sorted; unique."""
    pixels: tuple[np.ndarray, ...]
    """(H, W, 3) uint8 upright sRGB pixels of each image, as stored."""
    sources: tuple[str, ...]
    """Where each came from: the photo's path, or 'VIDEO @ 12.50 s'."""
    focal_lengths_35mm: tuple[float | None, ...]
    """35 mm-equivalent focal length from EXIF, per image (None if unknown)."""
    video: bool
    """True when the images are frames of one video (matched sequentially)."""


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def collect_images(
    sources: Sequence[str | os.PathLike[str]], folder: Path, *, max_frames: int | None = None
) -> InputImages:
    """Gather the images named by `sources` (photo files, folders of photos, or one video) into
    `folder` (created). Raises InputError for a missing or unreadable file or an empty folder."""
    paths = [Path(s) for s in sources]
    if not paths:
        raise InputError("no images given")
    videos = [p for p in paths if p.is_file() and is_video(p)]
    if videos:
        if len(paths) > 1:
            raise InputError(f"{videos[0]}: give one video alone, not with other videos or photos")
        return _video_frames(videos[0], folder, max_frames)
    photos: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(q for q in path.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InputError(f"{path}: the folder holds no photos ({', '.join(sorted(IMAGE_SUFFIXES))})")
            photos.extend(found)
        elif not path.exists():
            raise InputError(f"{path}: no such file")
        else:
            photos.append(path)
    folder.mkdir(parents=True, exist_ok=True)
    names = _stored_names(photos)
    pixels, focals = [], []
    for path, name in zip(photos, names, strict=True):
        photo = load_photo(path)
        target = folder / name
        if _unchanged(path, photo.rgb.shape) and path.suffix.lower() == target.suffix.lower():
            shutil.copyfile(path, target)
        else:
            Image.fromarray(photo.rgb).save(target, quality=95)
        pixels.append(photo.rgb)
        focals.append(photo.focal_length_35mm)
    order = np.argsort(names, kind="stable")
    return InputImages(
        folder=folder,
        names=tuple(names[i] for i in order),
        pixels=tuple(pixels[i] for i in order),
        sources=tuple(str(photos[i]) for i in order),
        focal_lengths_35mm=tuple(focals[i] for i in order),
        video=False,
    )


def _stored_names(photos: Sequence[Path]) -> list[str]:
    """A unique file name per photo: its own where possible (COLMAP's files name images by it),
    '.png' for formats COLMAP may not read, a numbered stem where names collide.

    >>> _stored_names([Path("a/x.jpg"), Path("b/x.jpg"), Path("c/y.heic")])
    ['x.jpg', 'x_2.jpg', 'y.png']
    """
    out: list[str] = []
    for path in photos:
        suffix = path.suffix.lower() if path.suffix.lower() in _COPIED_SUFFIXES else ".png"
        suffix = path.suffix if suffix == path.suffix.lower() else suffix
        name, k = f"{path.stem}{suffix}", 1
        while name in out:
            k += 1
            name = f"{path.stem}_{k}{suffix}"
        out.append(name)
    return out


def _unchanged(path: Path, shape: tuple[int, ...]) -> bool:
    """Whether the file's own pixels are what `load_photo` made of it: 8-bit RGB, upright, no colour
    profile, not downscaled (then the file can be copied as it is)."""
    try:
        with Image.open(path) as image:
            orientation = image.getexif().get(0x0112, 1)
            return (
                image.mode == "RGB"
                and orientation in (0, 1)
                and not image.info.get("icc_profile")
                and image.size == (shape[1], shape[0])
            )
    except (OSError, ValueError):
        return False


def frame_count(duration: float, max_frames: int | None = None) -> int:
    """How many frames to keep from a video of `duration` seconds.

    >>> frame_count(3.0), frame_count(10.0), frame_count(600.0), frame_count(600.0, 100)
    (12, 20, 48, 100)
    """
    limit = MAX_FRAMES if max_frames is None else max_frames
    return int(min(limit, max(MIN_FRAMES, round(duration * FRAMES_PER_SECOND))))


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of the image's grey levels at a fixed size (larger = sharper)."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    scale = _SHARPNESS_SIDE / max(grey.shape)
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return laplacian_variance(grey)


def laplacian_variance(grey: np.ndarray) -> float:
    """Variance of the Laplacian of an (H, W) uint8 grey image: its sharpness."""
    import cv2

    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def sample_video(path: Path, max_frames: int | None = None) -> list[tuple[float, np.ndarray]]:
    """(time in seconds, (H, W, 3) uint8 RGB) of the sharpest frame in each of `frame_count` equal
    intervals of the video, decoded once with PyAV. Raises InputError for an unreadable video."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise InputError(f"{path}: not a video PyAV can read ({exc})") from None
    with container:
        if not container.streams.video:
            raise InputError(f"{path}: the file holds no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = _duration(container, stream)
        count = frame_count(duration, max_frames)
        best: dict[int, tuple[float, float, np.ndarray]] = {}
        scale = 1.0
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                slot = min(count - 1, int(frame.time / duration * count)) if duration > 0 else 0
                scale = min(1.0, _SHARPNESS_SIDE / max(frame.width, frame.height))
                small = frame.to_ndarray(
                    format="gray",
                    width=max(2, round(frame.width * scale)),
                    height=max(2, round(frame.height * scale)),
                )
                score = laplacian_variance(small)
                if slot not in best or score > best[slot][0]:
                    best[slot] = (score, float(frame.time), frame.to_ndarray(format="rgb24"))
        except av.error.FFmpegError as exc:
            if not best:
                raise InputError(f"{path}: the video cannot be decoded ({exc})") from None
            log.warning("notice: %s: decoding stopped early (%s)", path.name, exc)
    if not best:
        raise InputError(f"{path}: the video holds no frames")
    return [(best[k][1], best[k][2]) for k in sorted(best)]


def _duration(container: object, stream: object) -> float:
    """The video stream's length in seconds (from the stream, else the container)."""
    if stream.duration is not None and stream.time_base is not None:  # type: ignore[attr-defined]
        return float(stream.duration * stream.time_base)  # type: ignore[attr-defined]
    if container.duration is not None:  # type: ignore[attr-defined]
        return float(container.duration) / 1_000_000.0  # type: ignore[attr-defined]
    return 0.0


def _video_frames(path: Path, folder: Path, max_frames: int | None) -> InputImages:
    frames = sample_video(path, max_frames)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"frame_{i + 1:04d}.jpg" for i in range(len(frames))]
    for name, (_, rgb) in zip(names, frames, strict=True):
        Image.fromarray(rgb).save(folder / name, quality=95)
    log.info("%s: kept the sharpest of each of %d intervals", path.name, len(frames))
    return InputImages(
        folder=folder,
        names=tuple(names),
        pixels=tuple(rgb for _, rgb in frames),
        sources=tuple(f"{path} @ {t:.2f} s" for t, _ in frames),
        focal_lengths_35mm=(None,) * len(frames),
        video=True,
    )
