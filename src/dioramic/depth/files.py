"""The 'file' depth backend: a depth map the user already has (`--depth-map FILE`).

Formats read, by file extension:

* ``.png`` (and other formats Pillow reads): 8- or 16-bit grayscale; an RGB(A) image whose colour
  channels are all equal is accepted as grayscale (a colour-mapped visualisation is refused).
* ``.tif`` / ``.tiff``: 32-bit float (Pillow mode 'F'), or any single-channel TIFF OpenCV reads
  (float16/float64, integer).
* ``.npy``: a 2D float or integer array (``numpy.save``).
* ``.pfm``: Portable Float Map, 'Pf' (grayscale) or 'PF' (colour: the first channel is used), either
  byte order (a negative scale means little-endian), rows stored bottom-to-top.

`DepthOptions.depth_kind` says how to read the values: 'depth' (larger = farther) or 'inverse'
(larger = nearer, e.g. a disparity map). `DepthOptions.metric` marks a 'depth' map as real distances:
float maps are then read in metres and integer maps (16-bit PNG, integer .npy) in millimetres, the
convention of depth cameras (Kinect, RealSense, most RGB-D datasets).

Zero, negative and non-finite values mean "no value" and become NaN in the `Prediction`. The map is
resized to the photo when its aspect ratio matches the photo's within 1% (invalid pixels never bleed
into valid ones); any other shape is refused with an `InputError` that says what to do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dioramic.depth.base import DEPTH_BACKENDS, DepthBackend, Prediction
from dioramic.errors import InputError, UsageError
from dioramic.types import Photo

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.01
"""Largest relative difference of aspect ratios (width / height) for a map to be resized to a photo."""

_MAX_PIXELS = 400_000_000
"""Depth maps declaring more pixels than this are refused (broken headers, decompression bombs)."""


@dataclass(frozen=True)
class RawDepth:
    """A depth file's values as read, before any resizing."""

    values: np.ndarray
    """(h, w) float32 with NaN where the file holds no value (zero, negative or non-finite)."""
    integer: bool
    """True when the file stored integers (8/16-bit PNG, integer .npy), False for float data."""
    bits: int
    """Bits per sample of integer data (8, 16, 32, 64), 0 for float data."""


class _UndecodableError(InputError):
    """Pillow could not decode the file (another reader may)."""


def _invalid_to_nan(array: np.ndarray) -> np.ndarray:
    """(h, w) float32 copy of `array` with zero / negative / non-finite values set to NaN."""
    values = np.asarray(array, dtype=np.float32).copy()
    with np.errstate(invalid="ignore"):
        values[~(np.isfinite(values) & (values > 0))] = np.nan
    return values


def _check_2d(array: np.ndarray, path: Path, what: str) -> None:
    if array.ndim != 2:
        raise InputError(
            f"{path}: {what} has shape {array.shape}; a depth map must be a 2D (height, width) array"
        )
    if array.size == 0:
        raise InputError(f"{path}: {what} is empty (shape {array.shape})")
    if array.size > _MAX_PIXELS:
        raise InputError(f"{path}: {what} has {array.size} values, too many for a depth map")


def _read_npy(path: Path) -> RawDepth:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy array ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise InputError(f"{path}: holds several arrays (.npz); save one 2D array with numpy.save")
    _check_2d(array, path, "the array")
    if array.dtype.kind in "iu":
        return RawDepth(_invalid_to_nan(array), integer=True, bits=array.dtype.itemsize * 8)
    if array.dtype.kind == "f":
        return RawDepth(_invalid_to_nan(array), integer=False, bits=0)
    raise InputError(f"{path}: the array has dtype {array.dtype}; a depth map needs float or integer values")


_PFM_HEADER = re.compile(rb"\A(P[Ff])\s+(\d+)\s+(\d+)\s+(\S+)\s")


def _read_pfm(path: Path) -> RawDepth:
    """Portable Float Map: header 'PF'|'Pf', 'width height', scale (< 0: little-endian), then the
    rows bottom-to-top as float32, 3 values per pixel for 'PF' and 1 for 'Pf'."""
    data = path.read_bytes()
    match = _PFM_HEADER.match(data[:256])
    if match is None:
        raise InputError(
            f"{path}: not a PFM file (the header must be 'Pf' or 'PF', then width height, then a scale)"
        )
    channels = 3 if match.group(1) == b"PF" else 1
    width, height = int(match.group(2)), int(match.group(3))
    try:
        scale = float(match.group(4))
    except ValueError:
        raise InputError(f"{path}: the PFM scale {match.group(4)!r} is not a number") from None
    if scale == 0 or not np.isfinite(scale):
        raise InputError(f"{path}: the PFM scale must be a non-zero number, got {scale}")
    if width == 0 or height == 0 or width * height > _MAX_PIXELS:
        raise InputError(f"{path}: the PFM header declares {width}x{height} pixels")
    dtype = np.dtype("<f4" if scale < 0 else ">f4")
    count = width * height * channels
    start = match.end()
    if len(data) - start < count * 4:
        raise InputError(
            f"{path}: the PFM data is truncated ({len(data) - start} bytes, "
            f"{count * 4} expected for {width}x{height}x{channels})"
        )
    pixels = np.frombuffer(data, dtype=dtype, count=count, offset=start).reshape(height, width, channels)
    return RawDepth(_invalid_to_nan(pixels[::-1, :, 0]), integer=False, bits=0)


def _from_pillow_array(array: np.ndarray, mode: str, path: Path) -> RawDepth:
    if array.ndim == 3:  # RGB, RGBA, LA: grayscale only if the colour channels agree
        colour = array[..., :3] if array.shape[2] >= 3 else array[..., :1]
        values = colour[..., 0]
        if colour.shape[2] == 3:
            spread = np.ptp(colour.astype(np.float64), axis=2).max()
            # JPEG compression leaves grey slightly uneven: a few levels of 8-bit noise are tolerated
            tolerance = 3 if colour.dtype == np.uint8 and path.suffix.lower() in (".jpg", ".jpeg") else 0
            if spread > tolerance:
                raise InputError(
                    f"{path}: is a colour image ({mode}) whose channels differ, a coloured visualisation "
                    "rather than depth values; save the depth as a grayscale PNG, float TIFF, .npy or .pfm"
                )
            if tolerance:
                values = np.round(colour.astype(np.float64).mean(axis=2)).astype(colour.dtype)
        if array.shape[2] in (2, 4):  # transparent pixels hold no value
            values = np.where(array[..., -1] > 0, values, 0)
        array = values
    _check_2d(array, path, "the image")
    if array.dtype.kind in "iu":
        return RawDepth(_invalid_to_nan(array), integer=True, bits=array.dtype.itemsize * 8)
    return RawDepth(_invalid_to_nan(array), integer=False, bits=0)


def _read_with_pillow(path: Path) -> RawDepth:
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                mode = image.mode
                if mode in ("1", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
                    raise InputError(
                        f"{path}: a {mode} image cannot hold depth values; "
                        "save the depth map as a grayscale PNG, float TIFF, .npy or .pfm"
                    )
                array = np.asarray(image)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise _UndecodableError(
            f"{path}: not an image file Pillow can read (expected PNG, TIFF, .npy or .pfm)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning) as exc:
        raise _UndecodableError(f"{path}: the depth image is corrupt or truncated ({exc})") from None
    return _from_pillow_array(array, mode, path)


def _read_with_opencv(path: Path) -> RawDepth | None:
    """Single-channel TIFFs Pillow cannot decode (float16/float64, tiled, compressed); None if
    OpenCV cannot read it either."""
    import cv2

    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if array is None:
        return None
    if array.ndim == 3:
        array = array[..., ::-1] if array.shape[2] in (3, 4) else array  # BGR(A) -> RGB(A)
    return _from_pillow_array(array, "OpenCV", path)


def _is_16bit_colour_png(path: Path) -> bool:
    """Whether the PNG header declares 16-bit RGB(A) samples (IHDR bit depth 16, colour type 2 or 6)."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    return (
        head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR" and head[24] == 16 and head[25] in (2, 6)
    )


def read_depth_file(path: str | Path) -> RawDepth:
    """Read a depth map file (see the module docstring for the formats).

    Raises InputError, naming the file, for a missing, malformed, empty or all-invalid map.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such depth map file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a depth map file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the depth map file is empty (0 bytes)")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        raw = _read_npy(path)
    elif suffix == ".pfm":
        raw = _read_pfm(path)
    elif suffix in (".tif", ".tiff"):
        try:
            raw = _read_with_pillow(path)
        except _UndecodableError:
            fallback = _read_with_opencv(path)
            if fallback is None:
                raise
            raw = fallback
    elif suffix == ".png" and _is_16bit_colour_png(path):
        raw = _read_with_opencv(path) or _read_with_pillow(path)  # Pillow would cut it to 8 bits
    else:
        raw = _read_with_pillow(path)
    if not np.isfinite(raw.values).any():
        raise InputError(
            f"{path}: the depth map holds no valid value (every pixel is zero, negative, NaN or infinite)"
        )
    return raw


def _aspect_mismatch(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Relative difference of the aspect ratios (width / height) of two (height, width) sizes."""
    ra, rb = a[1] / a[0], b[1] / b[0]
    return abs(ra - rb) / rb


def resize_values(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resample (h, w) float32 `values` (NaN = no value) to (height, width) without letting invalid
    pixels bleed into valid ones.

    Valid values are interpolated by normalised convolution (bilinear when enlarging, area averaging
    when shrinking, of the values and of the validity mask, divided); a pixel of the result is valid
    where the nearest source pixel is valid. Enlarging [[1, NaN], [3, 5]] to 4x4 leaves the top-right
    2x2 block NaN and starts the top row with [1, 1] (see tests/depth/test_files.py).
    """
    import cv2

    h, w = values.shape
    if (h, w) == (height, width):
        return values.astype(np.float32, copy=True)
    valid = np.isfinite(values)
    weights = valid.astype(np.float32)
    filled = np.where(valid, values, 0.0).astype(np.float32)
    shrinking = height * width < h * w
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    num = cv2.resize(filled, (width, height), interpolation=interpolation)
    den = cv2.resize(weights, (width, height), interpolation=interpolation)
    mask = cv2.resize(valid.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST_EXACT) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    ok = mask & (den > 1e-6)
    return np.where(ok, out, np.nan).astype(np.float32)


def fit_to_photo(values: np.ndarray, photo: Photo, path: Path | str) -> np.ndarray:
    """Resize a (h, w) map to the photo's (H, W) when the aspect ratios agree within 1%, else raise
    InputError explaining the mismatch."""
    size = values.shape[:2]
    target = (photo.height, photo.width)
    if size == target:
        return values.astype(np.float32, copy=False)
    (h, w), (ph, pw) = size, target
    if _aspect_mismatch(size, target) <= ASPECT_TOLERANCE:
        log.info("resizing the depth map %s from %dx%d to the photo's %dx%d", path, w, h, pw, ph)
        return resize_values(values, ph, pw)
    if _aspect_mismatch((w, h), target) <= ASPECT_TOLERANCE:
        exact = (w, h) == target
        raise InputError(
            f"{path}: the depth map is {w}x{h} but the upright photo is {pw}x{ph}: the map is turned by "
            f"90 degrees{' (exactly transposed)' if exact else ''}, likely because the photo carries an EXIF "
            "rotation; rotate the depth map to match the photo as it is displayed"
        )
    raise InputError(
        f"{path}: the depth map is {w}x{h} but the photo is {pw}x{ph} (aspect ratios {w / h:.3f} and "
        f"{pw / ph:.3f} differ); supply a map of the same framing as the photo (same crop, any resolution)"
    )


@DEPTH_BACKENDS.register("file")
class FileDepth(DepthBackend):
    """Depth from a file the user supplies (`DepthOptions.depth_map`)."""

    name = "file"
    description = "your own depth map (--depth-map FILE: PNG 8/16-bit, float TIFF, .npy, .pfm)"

    def available(self, photo: Photo | None = None) -> bool:
        return self.options.depth_map is not None

    def predict(self, photo: Photo) -> Prediction:
        """The map resized to the photo: (H, W) float32, NaN where the file holds no value."""
        path = self.options.depth_map
        if path is None:
            raise UsageError("the 'file' depth backend needs a depth map: pass --depth-map FILE")
        kind = self.options.depth_kind
        if kind not in ("depth", "inverse"):
            raise UsageError(f"depth map kind must be 'depth' or 'inverse', got '{kind}'")
        if self.options.metric and kind == "inverse":
            raise UsageError(
                "metric depth (--depth-kind metric) is larger = farther; an inverse map cannot be metric"
            )
        raw = read_depth_file(path)
        values = raw.values
        if self.options.metric:
            if raw.integer and raw.bits <= 8:
                raise InputError(
                    f"{path}: an 8-bit map cannot hold metric depth; use a 16-bit PNG in millimetres, "
                    "or a float TIFF, .npy or .pfm in metres"
                )
            if raw.integer:
                values = values / np.float32(1000.0)  # integer depth maps are in millimetres
        native = values.shape[:2] == (photo.height, photo.width)
        values = fit_to_photo(values, photo, path)
        prediction_kind = "inverse" if kind == "inverse" else ("metric" if self.options.metric else "depth")
        return Prediction(values.astype(np.float32, copy=False), prediction_kind, aligned=native)
