"""Loading photos: EXIF orientation, colour modes and profiles, size limits, clear errors.

`load_photo` accepts whatever Pillow reads (JPEG, PNG 8/16-bit, grayscale, palette, RGBA, CMYK, WebP,
TIFF, BMP, the first frame of a GIF) and HEIC/HEIF when the `heic` extra (pillow-heif) is installed.
The result is upright (EXIF orientation applied), 8-bit sRGB RGB, with the alpha channel kept apart.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from dioramic.errors import InputError
from dioramic.types import Photo

log = logging.getLogger(__name__)

MIN_SIDE = 2
"""Smallest width or height accepted, in pixels."""
MAX_DECLARED_PIXELS = 400_000_000
"""Files declaring more pixels than this are refused before decoding (decompression bombs)."""
DEFAULT_MAX_PIXELS = 16_000_000
"""Photos larger than this are downscaled to it (with a notice) before the pipeline."""

_EXIF_IFD = 0x8769
_FOCAL_LENGTH_35MM = 0xA405
_FOCAL_LENGTH = 0x920A
_HEIF_REGISTERED = False


def _register_heif() -> None:
    global _HEIF_REGISTERED
    if _HEIF_REGISTERED:
        return
    _HEIF_REGISTERED = True
    try:
        import pillow_heif
    except ImportError:
        return
    pillow_heif.register_heif_opener()


def focal_length_35mm(image: Image.Image) -> float | None:
    """The 35 mm-equivalent focal length (mm) stated in the image's EXIF, or None."""
    try:
        exif = image.getexif().get_ifd(_EXIF_IFD)
        value = exif.get(_FOCAL_LENGTH_35MM)
    except Exception:  # malformed EXIF is common and never fatal
        return None
    try:
        f = float(value) if value is not None else 0.0
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return f if math.isfinite(f) and 1.0 <= f <= 2000.0 else None


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert an image with an embedded ICC profile to sRGB (RGB/RGBA/L/CMYK inputs)."""
    icc = image.info.get("icc_profile")
    if not icc:
        return image
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out_mode = "RGBA" if image.mode in ("RGBA", "LA", "PA") else "RGB"
        if image.mode not in ("RGB", "RGBA", "L", "CMYK"):
            image = image.convert(out_mode)
        if image.mode == "L" and out_mode == "RGB":
            image = image.convert("RGB")
            return image  # a grey profile cannot be applied to RGB data; grey is grey
        return ImageCms.profileToProfile(image, src, ImageCms.createProfile("sRGB"), outputMode=out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        log.warning("notice: ignoring the embedded colour profile (%s)", exc)
        return image


def _to_8bit_rgb_alpha(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3) uint8 RGB and (H, W) uint8 alpha or None, from any Pillow mode."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2), None
    if mode == "F":
        arr = np.nan_to_num(np.asarray(image, dtype=np.float64))
        top = 1.0 if arr.max() <= 1.0 else float(arr.max())
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2), None
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"))
        alpha = rgba[..., 3].copy()
        if alpha.min() == 255:
            return np.ascontiguousarray(rgba[..., :3]), None
        return np.ascontiguousarray(rgba[..., :3]), alpha
    return np.asarray(image.convert("RGB")).copy(), None


def _existing_file(path: str | Path) -> Path:
    """`path` as a Path, after the InputErrors for a file that is missing, a folder or empty; the
    HEIF opener registered, so that Pillow can open what comes next."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a photo file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    _register_heif()
    return path


def check_photo(path: str | Path) -> None:
    """Raise the InputError `load_photo` would for a file that is missing, empty or not an image at
    all, reading only its header: a cheap check before a batch sends a photo to a worker. A photo
    that passes may still fail to decode (truncated data); `load_photo` says so then.
    """
    path = _existing_file(path)
    try:
        with Image.open(path):
            pass
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file Pillow can read (JPEG, PNG, WebP, TIFF, ...)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{path}: the image is too large to decode safely (decompression bomb?)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: cannot be read as an image ({exc})") from None


def load_photo(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Read the photo at `path`, upright, as 8-bit sRGB; downscale it to at most `max_pixels`.

    Raises InputError with one line naming the file for anything that is not a readable image.
    """
    path = _existing_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                w, h = opened.size
                if w * h > MAX_DECLARED_PIXELS:
                    raise InputError(
                        f"{path}: declares {w}x{h} pixels, more than the {MAX_DECLARED_PIXELS // 10**6} "
                        "megapixels accepted (a decompression bomb or a broken header)"
                    )
                opened.seek(0)  # first frame of animations
                opened.load()
                f35 = focal_length_35mm(opened)
                image = ImageOps.exif_transpose(opened)
                image = _to_srgb(image)
                rgb, alpha = _to_8bit_rgb_alpha(image)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{path}: the image is too large to decode safely (decompression bomb?)") from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file Pillow can read (JPEG, PNG, WebP, TIFF, ...)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: the image data is corrupt or truncated ({exc})") from None
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise InputError(f"{path}: the image is {w}x{h} pixels; at least {MIN_SIDE}x{MIN_SIDE} is needed")
    if w * h > max_pixels:
        scale = math.sqrt(max_pixels / (w * h))
        nw, nh = max(MIN_SIDE, int(w * scale)), max(MIN_SIDE, int(h * scale))
        log.warning("notice: %s is %dx%d; working at %dx%d", path.name, w, h, nw, nh)
        rgb = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.Resampling.LANCZOS))
        if alpha is not None:
            alpha = np.asarray(Image.fromarray(alpha).resize((nw, nh), Image.Resampling.LANCZOS))
    return Photo(rgb=np.ascontiguousarray(rgb), source=path, alpha=alpha, focal_length_35mm=f35)


def photo_from_array(
    rgb: np.ndarray, name: str | None = None, focal_length_35mm: float | None = None
) -> Photo:
    """A Photo from an in-memory (H, W, 3) uint8 array (or (H, W) grey, or (H, W, 4) RGBA)."""
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        raise InputError(f"expected a uint8 image array, got {arr.dtype}")
    alpha = None
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        alpha = np.ascontiguousarray(arr[..., 3])
        arr = arr[..., :3]
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"expected an (H, W, 3) image array, got shape {arr.shape}")
    source = Path(name) if name else None
    return Photo(np.ascontiguousarray(arr), source=source, alpha=alpha, focal_length_35mm=focal_length_35mm)
