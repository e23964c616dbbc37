"""LaMa, a learned inpainter for the hidden background: ``SceneOptions(inpainter="lama")``.

LaMa (Suvorov et al., WACV 2022, "Resolution-robust Large Mask Inpainting with Fourier Convolutions",
Apache-2.0), the big-lama weights as the ONNX export of the Hugging Face hub repository
`Carve/LaMa-ONNX` (file `lama_fp32.onnx`, 208 MB). Its graph (``ExportLama.forward`` in
``export_LaMa_to_onnx.ipynb`` of github.com/Carve-Photos/lama) takes and returns::

    image  (batch, 3, 512, 512) float32  RGB in [0, 1]
    mask   (batch, 1, 512, 512) float32  1 = fill, 0 = keep
    -> output (batch, 3, 512, 512) float32  RGB in [0, 255]: the prediction inside the mask, the image
       outside it (the graph masks the image itself, blends, multiplies by 255 and clamps)

Only the batch axis is dynamic there; an export with dynamic height and width runs at 512 x 512 too
(`DEFAULT_SIZE`). One call (`inpaint_with`):

1. crop a box around the mask's bounding box with context on every side (half the box's long side,
   at least `_MIN_CONTEXT_PX`), with the model's aspect, at least the model's size when the image is
   that large: the fill sees as much of the photo as the model can take at full resolution;
2. downscale the crop to fit the model (never upscaled) and pad it to the model's size by mirroring,
   so the aspect is kept; the mask is downscaled conservatively (a partly masked pixel is filled);
3. run, take the crop's part of the output and bring it back to the crop's size;
4. paste the masked pixels only, the seam blended: over the first `_SEAM_PX` pixels inside the mask
   the fill is cross-faded from the photo's colours beside it (in full at the edge) to the model's,
   so it meets the photo without a step, whether the model or the resampling made one.

Weights, in this order: the file given (`LamaInpainter.model`, or the environment variable
`MODEL_ENV` for the registered ``lama`` inpainter), the hub cache, one download into the hub cache
(pinned to `REVISION`). Offline or without network and not cached: `ModelUnavailableError`.

    >>> context_box(np.pad(np.ones((10, 20), bool), ((40, 50), (30, 50))), (64, 64))
    (slice(13, 77, None), slice(8, 72, None))
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dioramic.errors import DioramicError, InputError, ModelUnavailableError
from dioramic.hub import fetch_model, load_onnx
from dioramic.scene.layers import INPAINTERS

__all__ = [
    "DEFAULT_SIZE",
    "FILENAME",
    "MODEL_ENV",
    "REPO_ID",
    "REVISION",
    "LamaInpainter",
    "LamaNetwork",
    "context_box",
    "inpaint_with",
    "lama",
    "load_lama",
    "locate_lama_weights",
]

log = logging.getLogger(__name__)

REPO_ID = "Carve/LaMa-ONNX"
"""Hugging Face hub model repository of the ONNX export (Apache-2.0, as the LaMa weights)."""
FILENAME = "lama_fp32.onnx"
"""The fp32 export inside `REPO_ID` (208 MB)."""
REVISION = "c3c0c9e468934d62e79c329e35d82dd09ff8c444"
"""The repository's commit the download is pinned to."""
LICENCE = "Apache-2.0"
MODEL_ENV = "DIORAMIC_INPAINT_MODEL"
"""Environment variable naming a LaMa ONNX file for the registered ``lama`` inpainter."""
DEFAULT_SIZE = 512
"""Side in pixels of the model input for exports whose height and width are dynamic."""

_LABEL = f"the LaMa inpainting model ({REPO_ID}/{FILENAME})"
_HINT = "run once with internet or pass the model file (--inpaint-model FILE.onnx)"
_SIGNATURE = (
    "inputs 'image' float32 (1, 3, H, W) in [0, 1] and 'mask' (1, 1, H, W) in {0, 1} "
    "-> output (1, 3, H, W) in [0, 255]"
)
_CONTEXT = 0.5  # context on each side of the mask's box, a fraction of the box's long side
_MIN_CONTEXT_PX = 16
_SEAM_PX = 4.0  # pixels inside the mask over which the fill is blended into the photo's colours
_FLOAT_TYPES: dict[str, type[np.floating]] = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


# --- the model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LamaNetwork:
    """A loaded LaMa ONNX model whose signature has been checked."""

    session: Any
    """The onnxruntime.InferenceSession."""
    path: Path
    size: tuple[int, int]
    """(h, w) in pixels of the input it runs at: the graph's fixed size, else `DEFAULT_SIZE` squared."""
    input_dtype: type[np.floating]
    """np.float32, or np.float16 for exports with half-precision inputs."""
    output_name: str
    providers: tuple[str, ...]
    """Execution providers in use, e.g. ('CPUExecutionProvider',)."""

    def run(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Inpaint one model-sized image.

        Parameters
        ----------
        image
            (h, w, 3) float32 RGB in [0, 1], (h, w) = `size`.
        mask
            (h, w) float32, 1 = fill, 0 = keep.

        Returns
        -------
        (h, w, 3) float32 RGB in [0, 255].
        """
        feed = {
            "image": np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=self.input_dtype),
            "mask": np.ascontiguousarray(mask[None, None], dtype=self.input_dtype),
        }
        out = np.asarray(self.session.run([self.output_name], feed)[0], dtype=np.float32)
        if out.shape != (1, 3, *self.size):
            raise InputError(f"{self.path}: output of shape {out.shape}, expected (1, 3, *{self.size})")
        return out[0].transpose(1, 2, 0)


def _check_signature(session: Any, path: Path) -> tuple[tuple[int, int], type[np.floating], str]:
    """(size, input dtype, output name) of a session with LaMa's signature; InputError otherwise."""

    def unfit(detail: str) -> InputError:
        return InputError(f"{path} does not fit the LaMa signature ({_SIGNATURE}): {detail}")

    def fits(dim: object, value: int) -> bool:  # symbolic dimensions (names, None) fit any value
        return not isinstance(dim, int) or dim == value

    inputs = {i.name: i for i in session.get_inputs()}
    if set(inputs) != {"image", "mask"}:
        raise unfit(f"its inputs are {', '.join(repr(n) for n in inputs)}")
    for name, channels in (("image", 3), ("mask", 1)):
        inp = inputs[name]
        shape = list(inp.shape)
        if inp.type not in _FLOAT_TYPES or len(shape) != 4 or not fits(shape[1], channels):
            raise unfit(f"input '{name}' is {inp.type} {tuple(shape)}")
    out = session.get_outputs()[0]
    oshape = list(out.shape)
    if out.type not in _FLOAT_TYPES or len(oshape) != 4 or not fits(oshape[1], 3):
        raise unfit(f"output '{out.name}' is {out.type} {tuple(oshape)}")
    h, w = inputs["image"].shape[2:]
    fixed = isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0
    size = (h, w) if fixed else (DEFAULT_SIZE, DEFAULT_SIZE)
    return size, _FLOAT_TYPES[inputs["image"].type], out.name


def load_lama(path: Path, threads: int | None = None) -> LamaNetwork:
    """Load `path` with ONNX Runtime (see `dioramic.hub.load_onnx`), check its signature, and keep it
    for the process."""
    return load_onnx(path, threads, _lama_network, missing=f"LaMa model file {path} does not exist: {_HINT}")


def _lama_network(session: Any, path: Path) -> LamaNetwork:
    size, dtype, output_name = _check_signature(session, path)
    log.info("LaMa input size %dx%d", size[1], size[0])
    return LamaNetwork(session, path, size, dtype, output_name, tuple(session.get_providers()))


def locate_lama_weights(
    model: Path | None = None,
    *,
    offline: bool = False,
    download: bool = True,
    cache_dir: Path | None = None,
) -> Path | None:
    """The LaMa ONNX file: `model`, the hub cache's copy, or a fresh download into the hub cache.

    Parameters
    ----------
    model
        The user's file; it must exist.
    offline
        Never download (the environment's HF_HUB_OFFLINE counts too).
    download
        False: return None when the file is not cached, instead of downloading it.
    cache_dir
        The hub cache folder; None: huggingface_hub's (HF_HUB_CACHE).

    Raises ModelUnavailableError for a missing user file, or weights neither cached nor downloadable.
    """
    if model is not None:
        model = Path(model).expanduser()
        if not model.is_file():
            raise ModelUnavailableError(f"LaMa model file {model} does not exist: {_HINT}")
        return model
    return fetch_model(
        REPO_ID, FILENAME, label=_LABEL, hint=_HINT, licence=LICENCE, revision=REVISION,
        cache_dir=cache_dir, offline=offline, download=download,
    )  # fmt: skip


# --- one call --------------------------------------------------------------------------------------


class _Run(Protocol):
    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray: ...


def _span(lo: int, hi: int, length: int, n: int) -> slice:
    """`length` samples of an axis of `n` centred on [lo, hi), moved to lie within the axis."""
    length = min(length, n)
    start = min(max((lo + hi - length) // 2, 0), n - length)
    return slice(start, start + length)


def context_box(mask: np.ndarray, size: tuple[int, int]) -> tuple[slice, slice]:
    """(rows, columns) of the crop the model sees for `mask` ((H, W) bool, not empty).

    The mask's bounding box with `_CONTEXT` of its long side (at least `_MIN_CONTEXT_PX`) on every
    side, grown to the aspect of the model input `size` (h, w) and to at least that size, then
    clipped to the image (moved inwards first, so the box stays inside).
    """
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    margin = max(_MIN_CONTEXT_PX, round(_CONTEXT * max(y1 - y0, x1 - x0)))
    need_h, need_w = y1 - y0 + 2 * margin, x1 - x0 + 2 * margin
    grow = max(need_h / size[0], need_w / size[1], 1.0)
    crop_h, crop_w = round(size[0] * grow), round(size[1] * grow)
    return _span(y0, y1, crop_h, mask.shape[0]), _span(x0, x1, crop_w, mask.shape[1])


def _blend_seam(photo: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`filled` ((h, w, 3) float32) cross-faded into `photo`'s colours ((h, w, 3) uint8) inside `mask`.

    The photo's known pixels are extended into the mask by a normalised Gaussian average (sigma
    `_SEAM_PX` / 2, a convex mix of nearby known pixels: no overshoot); the first pixel inside takes
    it in full, and its share falls linearly to nothing `_SEAM_PX` pixels further in."""
    import cv2

    known = (~mask).astype(np.float32)
    if not known.any():
        return filled
    sigma = _SEAM_PX / 2
    num = cv2.GaussianBlur(photo.astype(np.float32) * known[:, :, None], (0, 0), sigma)
    den = cv2.GaussianBlur(known, (0, 0), sigma)
    extended = num / np.maximum(den, 1e-12)[:, :, None]
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    share = np.clip(1.0 - (inside - 1.0) / _SEAM_PX, 0.0, 1.0) * mask * (den > 1e-12)
    return filled + share[:, :, None] * (extended - filled)


def inpaint_with(run: _Run, size: tuple[int, int], rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fill the masked pixels of `rgb` with a fixed-size inpainting model (see the module docstring).

    Parameters
    ----------
    run
        The model: (h, w, 3) float32 RGB in [0, 1] and (h, w) float32 mask (1 = fill) at `size` ->
        (h, w, 3) float32 RGB in [0, 255] (`LamaNetwork.run`).
    size
        (h, w) in pixels of the model input.
    rgb
        (H, W, 3) uint8 image.
    mask
        (H, W) bool, True = fill.

    Returns
    -------
    (H, W, 3) uint8: `rgb` with its masked pixels replaced, every other pixel unchanged.
    """
    import cv2

    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or mask.shape != rgb.shape[:2]:
        raise ValueError(
            f"expected (H, W, 3) uint8 and an (H, W) mask, got {rgb.shape} {rgb.dtype} and {mask.shape}"
        )
    mask = mask.astype(bool)
    out = rgb.copy()
    if not mask.any():
        return out
    rows, cols = context_box(mask, size)
    crop, crop_mask = rgb[rows, cols], mask[rows, cols]
    crop_h, crop_w = crop_mask.shape
    scale = min(1.0, size[0] / crop_h, size[1] / crop_w)
    small_w, small_h = max(1, round(crop_w * scale)), max(1, round(crop_h * scale))
    image = crop.astype(np.float32) / 255.0
    hole = crop_mask.astype(np.float32)
    if scale < 1.0:
        image = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
        hole = cv2.resize(hole, (small_w, small_h), interpolation=cv2.INTER_AREA)
    pad = ((0, size[0] - small_h), (0, size[1] - small_w))
    image = np.pad(image, (*pad, (0, 0)), mode="symmetric")
    hole = np.pad((hole > 0).astype(np.float32), pad, mode="symmetric")
    filled = np.asarray(run(image, hole), dtype=np.float32)[:small_h, :small_w]
    if scale < 1.0:
        filled = cv2.resize(filled, (crop_w, crop_h), interpolation=cv2.INTER_LINEAR)
    filled = _blend_seam(crop, filled, crop_mask)
    patch = out[rows, cols]
    patch[crop_mask] = np.clip(np.rint(filled[crop_mask]), 0, 255).astype(np.uint8)
    return out


# --- the inpainter ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LamaInpainter:
    """The LaMa inpainter with its weights' source: an `Inpainter` of `dioramic.scene.layers`.

    >>> LamaInpainter(model=Path("big-lama.onnx")).model.name
    'big-lama.onnx'
    """

    model: Path | None = None
    """The user's LaMa ONNX file; None: the hub's (`REPO_ID`), from the cache or downloaded once."""
    offline: bool = False
    """Never download (the environment's HF_HUB_OFFLINE counts too)."""
    threads: int | None = None
    """ONNX Runtime intra-op threads on the CPU; None: one per core."""
    cache_dir: Path | None = None
    """The hub cache folder; None: huggingface_hub's (HF_HUB_CACHE)."""

    def network(self) -> LamaNetwork:
        """The loaded model, downloading its weights first if needed (ModelUnavailableError if not)."""
        path = locate_lama_weights(self.model, offline=self.offline, cache_dir=self.cache_dir)
        assert path is not None  # download=True returns a path or raises
        return load_lama(path, self.threads)

    def available(self) -> bool:
        """True when the weights are on disk or were just downloaded; never raises."""
        try:
            return locate_lama_weights(self.model, offline=self.offline, cache_dir=self.cache_dir) is not None
        except DioramicError as exc:
            log.info("LaMa is not available: %s", exc)
            return False

    def __call__(self, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """`rgb` (H, W, 3) uint8 and `mask` (H, W) bool (True = fill) -> (H, W, 3) uint8."""
        if not np.any(mask):
            return rgb.copy()
        network = self.network()
        return inpaint_with(network.run, network.size, rgb, mask)


@INPAINTERS.register("lama")
def lama(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """LaMa (big-lama) through ONNX Runtime: learned fills that continue textures and structures.

    Weights: the file named by the environment variable `MODEL_ENV`, else the Hugging Face hub's
    (cached, or downloaded once: 208 MB); ModelUnavailableError when neither is possible.
    """
    model = os.environ.get(MODEL_ENV, "").strip()
    return LamaInpainter(model=Path(model) if model else None)(rgb, mask)
