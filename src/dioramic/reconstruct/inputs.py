"""The images of a reconstruction: photos given one by one or as a folder, or frames of a video.

`collect_images` writes every image, upright and 8-bit sRGB, into one folder (COLMAP reads them from
there, and the output keeps them so that NeRF or splat trainers find them) and returns their names and
pixels. Photos that need no conversion are copied byte for byte. A video is sampled into frames by
`sample_video`: its length is cut into equal intervals and the sharpest frame of each is kept.

Bad input is refused early and cheaply, with one line that says what to do: fewer than `MIN_IMAGES`
photos (before any is decoded), a set that is the same picture over and over, a video shorter than
`MIN_VIDEO_SECONDS` (before decoding) or one whose camera stands still (`image_motion`, on the sampled
frames). A photo that cannot be read, or repeats the pixels of another, is left out and reported
(`InputImages.skipped`) as long as enough others remain.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
MIN_IMAGES = 3
"""Fewest images, given and placed, a reconstruction needs."""
MIN_VIDEO_SECONDS = 1.0
"""Shortest video accepted: a shorter one cannot walk far enough around anything."""
STILL_VIDEO = 0.02
"""A video whose sampled frames all lie within this fraction of the frame's long side of the first one
(median motion of tracked corners) is refused: its camera stands still, so there is nothing to
triangulate."""
_SHARPNESS_SIDE = 320
"""Long side (pixels) at which a frame's sharpness (and the video's motion) is measured."""
_MIN_CORNERS = 20
"""Fewest trackable corners in the first frame for `image_motion` to judge a video."""
_LISTED = 8
"""Most file names written out in one message (then 'and N more')."""
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
    skipped: dict[str, str] = field(default_factory=dict)
    """Photos given but left out, as given (path) -> why: unreadable, or the same pixels as another."""


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def collect_images(
    sources: Sequence[str | os.PathLike[str]],
    folder: Path,
    *,
    max_frames: int | None = None,
    min_images: int = MIN_IMAGES,
) -> InputImages:
    """Gather the images named by `sources` (photo files, folders of photos, or one video) into
    `folder` (created). Photos that cannot be read or repeat another's pixels are left out (listed
    in `skipped`, for the caller to report). Raises InputError for a missing file, an empty folder,
    a bad video, or fewer than `min_images` usable images (the message names the ones left out)."""
    paths = [Path(s) for s in sources]
    if not paths:
        raise InputError("no images given")
    videos = [p for p in paths if p.is_file() and is_video(p)]
    if videos:
        if len(paths) > 1:
            raise InputError(f"{videos[0]}: give one video alone, not with other videos or photos")
        return _video_frames(videos[0], folder, max_frames, min_images)
    photos = _photo_paths(paths)
    if len(photos) < min_images:  # said before any photo is decoded
        raise InputError(
            f"a reconstruction needs at least {min_images} photos, taken from different places around "
            f"the object, got {len(photos)}: {listing(_shown(map(str, photos)))}"
        )
    loaded: list[tuple[Path, np.ndarray, float | None]] = []
    skipped: dict[str, str] = {}
    seen: dict[bytes, Path] = {}
    for path in photos:
        try:
            photo = load_photo(path)
        except InputError as exc:
            skipped[str(path)] = str(exc).removeprefix(f"{path}: ")
            continue
        digest = _digest(photo.rgb)
        if digest in seen:
            skipped[str(path)] = f"the same picture as {seen[digest].name}"
            continue
        seen[digest] = path
        loaded.append((path, photo.rgb, photo.focal_length_35mm))
    if len(loaded) < min_images:
        kept = [str(p) for p, _, _ in loaded]
        raise InputError(_too_few_usable(kept, skipped, len(photos), min_images))
    folder.mkdir(parents=True, exist_ok=True)
    names = _stored_names([path for path, _, _ in loaded])
    for (path, rgb, _), name in zip(loaded, names, strict=True):
        target = folder / name
        if _unchanged(path, rgb.shape) and path.suffix.lower() == target.suffix.lower():
            shutil.copyfile(path, target)
        else:
            Image.fromarray(rgb).save(target, quality=95)
    order = np.argsort(names, kind="stable")
    return InputImages(
        folder=folder,
        names=tuple(names[i] for i in order),
        pixels=tuple(loaded[i][1] for i in order),
        sources=tuple(str(loaded[i][0]) for i in order),
        focal_lengths_35mm=tuple(loaded[i][2] for i in order),
        video=False,
        skipped=skipped,
    )


def _folder_photos(folder: Path) -> list[Path]:
    """The photos in `folder` (by suffix, sorted; hidden files such as macOS's '._IMG_1.jpg' skipped)."""
    return sorted(
        q
        for q in folder.iterdir()
        if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES and not q.name.startswith(".")
    )


def _photo_paths(paths: Sequence[Path]) -> list[Path]:
    """The photo files named by `paths`: files as given, folders' photos (`_folder_photos`; a folder
    without photos of its own but with an `images/` folder that has some, as COLMAP and nerfstudio lay
    out a capture, gives those). Raises InputError for a missing path or a folder without photos."""
    photos: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = _folder_photos(path)
            if not found and (path / "images").is_dir():
                found = _folder_photos(path / "images")
            if not found:
                raise InputError(f"{path}: the folder holds no photos ({', '.join(sorted(IMAGE_SUFFIXES))})")
            photos.extend(found)
        elif not path.exists():
            raise InputError(f"{path}: no such file")
        else:
            photos.append(path)
    return photos


def _digest(rgb: np.ndarray) -> bytes:
    """A fingerprint of the pixels (and their shape): equal for the same picture under two names."""
    fingerprint = hashlib.blake2b(np.asarray(rgb.shape, np.int64).tobytes(), digest_size=16)
    fingerprint.update(np.ascontiguousarray(rgb).data)
    return fingerprint.digest()


def _too_few_usable(kept: list[str], skipped: dict[str, str], given: int, needed: int) -> str:
    """The one line refusing a set with fewer than `needed` usable photos, naming those left out.

    >>> print(_too_few_usable(["a.png"], {"b.png": "the same picture as a.png"}, 2, 3))
    ... # doctest: +NORMALIZE_WHITESPACE
    the 2 photos are all the same picture (a.png, b.png): a reconstruction needs at least 3 photos
    taken from different places around the object
    >>> print(_too_few_usable(["a.png", "b.png"], {"c.jpg": "not an image file"}, 3, 3))
    ... # doctest: +NORMALIZE_WHITESPACE
    only 2 of the 3 photos can be used (a.png, b.png); a reconstruction needs at least 3: left out
    c.jpg: not an image file
    """
    if len(kept) == 1 and all(why.startswith("the same picture as") for why in skipped.values()):
        return (
            f"the {given} photos are all the same picture ({listing(_shown([*kept, *skipped]))}): a "
            f"reconstruction needs at least {needed} photos taken from different places around the object"
        )
    return (
        f"only {len(kept)} of the {given} photos can be used ({listing(_shown(kept)) or 'none'}); "
        f"a reconstruction needs at least {needed}: left out {left_out(skipped)}"
    )


def left_out(skipped: dict[str, str]) -> str:
    """'a.jpg: why; b.png: why' for photos left out (path -> why; those with the same reason
    grouped; file names alone unless two are alike).

    >>> same = "the same picture as a.png"
    >>> left_out({"x.jpg": "truncated", "b.png": same, "c.png": same})
    'x.jpg: truncated; b.png, c.png: the same picture as a.png'
    """
    groups: dict[str, list[str]] = {}
    for shown, why in zip(_shown(skipped), skipped.values(), strict=True):
        groups.setdefault(why, []).append(shown)
    return "; ".join(f"{listing(paths)}: {why}" for why, paths in groups.items())


def _shown(paths: Iterable[str]) -> list[str]:
    """The paths as file names, or as given when two file names are alike.

    >>> _shown(["in/a.png", "in/b.png"]), _shown(["x/a.png", "y/a.png"])
    (['a.png', 'b.png'], ['x/a.png', 'y/a.png'])
    """
    paths = list(paths)
    names = [Path(p).name for p in paths]
    return names if len(set(names)) == len(names) else paths


def listing(names: Sequence[str]) -> str:
    """Names joined with commas, at most `_LISTED` of them.

    >>> listing(["a", "b"]), listing([str(k) for k in range(10)])
    ('a, b', '0, 1, 2, 3, 4, 5, 6, 7 and 2 more')
    """
    if len(names) <= _LISTED:
        return ", ".join(names)
    return f"{', '.join(names[:_LISTED])} and {len(names) - _LISTED} more"


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
    intervals of the video, decoded once with PyAV. Raises InputError for an unreadable video or one
    shorter than `MIN_VIDEO_SECONDS` (said before decoding when the file states its length)."""
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
        if 0 < duration < MIN_VIDEO_SECONDS:
            raise InputError(_too_short(path, duration))
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


def _too_short(path: Path, duration: float) -> str:
    return (
        f"{path}: the video lasts {duration:.2f} s; a reconstruction needs at least "
        f"{MIN_VIDEO_SECONDS:g} s (better 10 to 60 s) filmed walking slowly around the object"
    )


def _duration(container: object, stream: object) -> float:
    """The video stream's length in seconds (from the stream, else the container, else its frame
    count and rate); 0 when the file does not say."""
    if stream.duration is not None and stream.time_base is not None:  # type: ignore[attr-defined]
        return float(stream.duration * stream.time_base)  # type: ignore[attr-defined]
    if container.duration is not None:  # type: ignore[attr-defined]
        return float(container.duration) / 1_000_000.0  # type: ignore[attr-defined]
    if stream.frames and stream.average_rate:  # type: ignore[attr-defined]
        return float(stream.frames / stream.average_rate)  # type: ignore[attr-defined]
    return 0.0


def image_motion(frames: Sequence[np.ndarray]) -> float | None:
    """How far the picture moves over a video: the largest, over the frames after the first, of
    the median displacement of corners tracked from the first frame (pyramidal Lucas-Kanade, kept
    when tracking back lands within a pixel), as a fraction of the frame's long side; 1.0 when a
    frame has changed beyond tracking (half the corners lost). None when the first frame has too
    few corners to tell (a plain picture). Frames are (H, W, 3) uint8 RGB, all one size."""
    import cv2

    greys = []
    for rgb in frames:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        scale = _SHARPNESS_SIDE / max(grey.shape)
        if scale < 1.0:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        greys.append(grey)
    first, side = greys[0], max(greys[0].shape)
    corners = cv2.goodFeaturesToTrack(first, maxCorners=300, qualityLevel=0.01, minDistance=6)
    if corners is None or len(corners) < _MIN_CORNERS:
        return None
    lk = {"winSize": (21, 21), "maxLevel": 3}
    most = 0.0
    for grey in greys[1:]:
        moved, found, _ = cv2.calcOpticalFlowPyrLK(first, grey, corners, None, **lk)
        back, found_back, _ = cv2.calcOpticalFlowPyrLK(grey, first, moved, None, **lk)
        ok = found.ravel().astype(bool) & found_back.ravel().astype(bool)
        ok &= np.linalg.norm((back - corners).reshape(-1, 2), axis=1) < 1.0
        if ok.mean() < 0.5:
            return 1.0
        shift = np.linalg.norm((moved - corners).reshape(-1, 2)[ok], axis=1)
        most = max(most, float(np.median(shift)) / side)
    return most


def _video_frames(path: Path, folder: Path, max_frames: int | None, min_images: int) -> InputImages:
    frames = sample_video(path, max_frames)
    if len(frames) < min_images:
        raise InputError(
            f"{path}: the video gave only {len(frames)} frame(s); a reconstruction needs at least "
            f"{min_images}: film at least {MIN_VIDEO_SECONDS:g} s walking slowly around the object"
        )
    motion = image_motion([rgb for _, rgb in frames])
    if motion is not None and motion < STILL_VIDEO:
        raise InputError(
            f"{path}: the camera does not move (over {frames[-1][0] - frames[0][0]:.1f} s the picture "
            f"moves by at most {motion:.1%} of the frame): no depth can be seen without moving; "
            "film walking slowly around the object"
        )
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
