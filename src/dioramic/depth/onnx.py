"""Learned depth through ONNX Runtime: Depth Anything V2 and MiDaS, one machinery for both.

The models themselves are data (`dioramic.depth.models`); this module finds their weights (a user file,
the Hugging Face hub cache, or one download), loads an ONNX Runtime session once per file, and applies
the preset's processing exactly as the model's reference code does:

    photo (H, W, 3) uint8 -> resize + normalise -> (1, 3, h, w) float32 'pixel_values'
    -> network -> (1, h', w') 'predicted_depth' -> upsample -> (H, W) float32, larger = nearer

    >>> network_input_size(480, 640, DEPTH_ANYTHING_V2_PROCESSING)
    (518, 686)
    >>> network_input_size(768, 1024, MIDAS_DPT_PROCESSING)
    (384, 384)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from dioramic import hub
from dioramic.depth.base import DEPTH_BACKENDS, DepthBackend, DepthOptions, Prediction
from dioramic.depth.models import (
    DEPTH_ANYTHING_V2_PROCESSING,
    MIDAS_DPT_PROCESSING,
    ModelChoice,
    Processing,
    Upsample,
    resolve_model,
)
from dioramic.errors import DioramicError, InputError, ModelUnavailableError
from dioramic.hub import env_offline, fetch_model, load_onnx
from dioramic.notices import notice
from dioramic.types import Photo

__all__ = [
    "DEPTH_ANYTHING_V2_PROCESSING",
    "MIDAS_DPT_PROCESSING",
    "DepthAnythingV2Backend",
    "DepthNetwork",
    "MidasBackend",
    "OnnxDepthBackend",
    "load_network",
    "locate_weights",
    "network_input_size",
    "prepare_input",
    "upsample",
]

log = logging.getLogger(__name__)

_SIGNATURE = "input 'pixel_values' float32 (1, 3, H, W) -> output 'predicted_depth' (1, H, W)"
_OFFLINE_HINT = "run once with internet or pass --model FILE.onnx"


# --- processing ------------------------------------------------------------------------------------


def _constrain(x: float, multiple: int, min_val: int = 0) -> int:
    """Round `x` (half to even) to a multiple of `multiple`, rounding up instead if that falls below
    `min_val` (Depth Anything's Resize.constrain_to_multiple_of, same float operations)."""
    y = int(np.round(x / multiple) * multiple)
    if y < min_val:
        y = int(np.ceil(x / multiple) * multiple)
    return y


def network_input_size(height: int, width: int, processing: Processing) -> tuple[int, int]:
    """(h, w) in pixels of the network input for a photo of `height` x `width` pixels."""
    size, multiple = processing.input_size, processing.multiple_of
    if processing.resize_rule == "exact":
        return _constrain(size, multiple), _constrain(size, multiple)
    scale_h, scale_w = size / height, size / width
    scale = max(scale_h, scale_w)  # lower bound: the shorter side reaches `size`
    return _constrain(scale * height, multiple, size), _constrain(scale * width, multiple, size)


def prepare_input(rgb: np.ndarray, processing: Processing, size: tuple[int, int]) -> np.ndarray:
    """The network input for `rgb` ((H, W, 3) uint8): (1, 3, h, w) float32 for `size` = (h, w)."""
    h, w = size
    mean, std = np.asarray(processing.mean), np.asarray(processing.std)
    if processing.resample == "cv2-cubic":
        image = rgb.astype(np.float64) / 255.0
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_CUBIC)
        image = (image - mean) / std
    else:
        from PIL import Image

        resized = np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.BILINEAR))
        image = (resized.astype(np.float64) * (1.0 / 255.0)).astype(np.float32)
        image = (image - mean.astype(np.float32)) / std.astype(np.float32)
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)


def _cubic_weights(t: np.ndarray, a: float = -0.75) -> np.ndarray:
    """(N, 4) weights of taps -1, 0, 1, 2 at fractional offsets `t` ((N,) in [0, 1)): Keys' cubic
    convolution with a = -0.75, as torch and OpenCV use it."""

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a

    return np.stack([far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)], axis=1)


def _axis_taps(n_in: int, n_out: int, mode: Upsample) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and weights, both (n_out, k), resampling one axis of n_in samples to n_out.

    Source coordinates follow torch's float32 arithmetic (area_pixel_compute_source_index), so the
    sampling positions and weights match F.interpolate on float32 tensors to about 1e-6."""
    dst = np.arange(n_out, dtype=np.float32)
    if mode == "bilinear-corners":
        scale = np.float32(n_in - 1) / np.float32(n_out - 1) if n_out > 1 else np.float32(0.0)
        src = dst * scale
        i0 = np.minimum(src.astype(np.int64), n_in - 1)
        t = src - i0.astype(np.float32)
        idx = np.stack([i0, np.minimum(i0 + 1, n_in - 1)], axis=1)
        return idx, np.stack([np.float32(1.0) - t, t], axis=1)
    scale = np.float32(n_in) / np.float32(n_out)
    # torch's multiply-add is fused (one rounding): compute it exactly in float64, round once
    src = ((dst.astype(np.float64) + 0.5) * np.float64(scale) - 0.5).astype(np.float32)
    i0 = np.floor(src).astype(np.int64)
    idx = np.clip(i0[:, None] + np.arange(-1, 3), 0, n_in - 1)
    return idx, _cubic_weights(src - i0.astype(np.float32), np.float32(-0.75))


def upsample(values: np.ndarray, size: tuple[int, int], mode: Upsample) -> np.ndarray:
    """Resample (h, w) `values` to `size` = (H, W) like torch F.interpolate: 'bilinear-corners' is
    mode='bilinear', align_corners=True; 'bicubic' is mode='bicubic', align_corners=False (edge
    samples repeated). Returns (H, W) float32."""
    src = np.asarray(values, dtype=np.float64)
    (h, w), (out_h, out_w) = src.shape, size
    rows_idx, rows_wt = _axis_taps(h, out_h, mode)
    cols_idx, cols_wt = _axis_taps(w, out_w, mode)
    rows = np.zeros((out_h, w))
    for k in range(rows_idx.shape[1]):
        rows += src[rows_idx[:, k]] * rows_wt[:, k, None]
    out = np.zeros((out_h, out_w))
    for k in range(cols_idx.shape[1]):
        out += rows[:, cols_idx[:, k]] * cols_wt[None, :, k]
    return out.astype(np.float32)


# --- weights ---------------------------------------------------------------------------------------


def locate_weights(choice: ModelChoice, *, offline: bool = False, download: bool = True) -> Path | None:
    """The ONNX file of `choice`: the user's file, the hub cache's copy, or a fresh download.

    Returns None when `download` is False and the file is not cached. Raises ModelUnavailableError
    for a missing user file, or weights neither cached nor downloadable (offline, no network)."""
    if choice.path is not None:
        if not choice.path.is_file():
            raise ModelUnavailableError(f"model file {choice.path} does not exist")
        return choice.path
    return fetch_model(
        choice.preset.repo_id, choice.filename, label=choice.label, hint=_OFFLINE_HINT,
        licence=choice.preset.licence, offline=offline, download=download,
    )  # fmt: skip


# --- sessions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepthNetwork:
    """A loaded ONNX depth model whose signature has been checked."""

    session: Any
    """The onnxruntime.InferenceSession."""
    path: Path
    input_name: str
    output_name: str
    input_dtype: type[np.floating]
    """np.float32, or np.float16 for exports with half-precision inputs."""
    fixed_size: tuple[int, int] | None
    """(h, w) when the export only accepts one input size, else None (any size)."""
    providers: tuple[str, ...]
    """Execution providers in use, e.g. ('CPUExecutionProvider',)."""

    def run(self, pixel_values: np.ndarray) -> np.ndarray:
        """(1, 3, h, w) float32 input -> (h', w') float32 output (relative inverse depth)."""
        feed = {self.input_name: pixel_values.astype(self.input_dtype)}
        out = np.asarray(self.session.run([self.output_name], feed)[0], dtype=np.float32)
        if out.ndim not in (3, 4) or out.shape[0] != 1 or (out.ndim == 4 and out.shape[1] != 1):
            raise InputError(f"{self.path}: output of shape {out.shape}, expected (1, H, W) ({_SIGNATURE})")
        return out.reshape(out.shape[-2:])


_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def _check_signature(session: Any, path: Path) -> tuple[str, str, type[np.floating], tuple[int, int] | None]:
    inputs, outputs = session.get_inputs(), session.get_outputs()

    def unfit(detail: str) -> InputError:
        return InputError(f"{path} does not fit the depth model signature ({_SIGNATURE}): {detail}")

    if len(inputs) != 1:
        raise unfit(f"it has {len(inputs)} inputs ({', '.join(i.name for i in inputs)})")
    inp = inputs[0]
    shape = list(inp.shape)
    channels_ok = len(shape) == 4 and (shape[1] == 3 or not isinstance(shape[1], int))
    if inp.type not in _FLOAT_TYPES or not channels_ok:
        raise unfit(f"input '{inp.name}' is {inp.type} {tuple(shape)}")
    named = [o for o in outputs if o.name == "predicted_depth"]
    out = (named or outputs)[0]
    oshape = list(out.shape)
    channel_ok = len(oshape) == 3 or (
        len(oshape) == 4 and not (isinstance(oshape[1], int) and oshape[1] != 1)
    )
    if out.type not in _FLOAT_TYPES or not channel_ok:
        raise unfit(f"output '{out.name}' is {out.type} {tuple(oshape)}")
    h, w = shape[2], shape[3]
    fixed = (h, w) if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0 else None
    return inp.name, out.name, _FLOAT_TYPES[inp.type], fixed


def load_network(path: Path, threads: int | None = None) -> DepthNetwork:
    """Load `path` with ONNX Runtime (see `dioramic.hub.load_onnx`), check its signature, and keep it
    for the process."""
    return load_onnx(path, threads, _depth_network, missing=f"model file {path} does not exist")


def _depth_network(session: Any, path: Path) -> DepthNetwork:
    input_name, output_name, dtype, fixed = _check_signature(session, path)
    return DepthNetwork(session, path, input_name, output_name, dtype, fixed, tuple(session.get_providers()))


# --- backends --------------------------------------------------------------------------------------


class OnnxDepthBackend(DepthBackend):
    """A depth backend served by the presets of `dioramic.depth.models` registered under its name."""

    def __init__(self, options: DepthOptions | None = None) -> None:
        super().__init__(options)
        self._choice: ModelChoice | None = None

    @property
    def choice(self) -> ModelChoice:
        """The model `options.model` selects (resolved once per instance)."""
        if self._choice is None:
            self._choice = resolve_model(self.name, self.options.model)
        return self._choice

    @property
    def offline(self) -> bool:
        return self.options.offline or env_offline()

    def available(self, photo: Photo | None = None) -> bool:
        """True when the weights are on disk (a `--model` file or the hub cache) or were just downloaded;
        False, after at most a few seconds, when offline or without network. Never raises."""
        try:
            import onnxruntime  # noqa: F401 - only whether it imports

            if locate_weights(self.choice, download=False) is not None:
                return True
            if self.offline or not hub.hub_reachable():
                return False
            return locate_weights(self.choice, offline=self.offline) is not None
        except DioramicError as exc:
            notice(log, f"unavailable-{self.name}", "%s is not available: %s", self.name, exc)
            return False
        except Exception as exc:  # 'auto' must always be able to fall back
            log.debug("%s is not available", self.name, exc_info=exc)
            return False

    def network(self) -> DepthNetwork:
        """The loaded model, downloading its weights first if needed."""
        path = locate_weights(self.choice, offline=self.offline)
        assert path is not None  # download=True returns a path or raises
        return load_network(path, self.options.threads)

    def predict(self, photo: Photo) -> Prediction:
        """Relative inverse depth, (H, W) float32 at the photo's size, larger = nearer."""
        processing = self.choice.preset.processing
        network = self.network()
        size = network.fixed_size or network_input_size(photo.height, photo.width, processing)
        output = network.run(prepare_input(photo.rgb, processing, size))
        values = upsample(output, (photo.height, photo.width), processing.upsample)
        values[~np.isfinite(values)] = np.nan
        return Prediction(values, self.choice.preset.kind)


@DEPTH_BACKENDS.register("depth-anything-v2")
class DepthAnythingV2Backend(OnnxDepthBackend):
    name: ClassVar[str] = "depth-anything-v2"
    description: ClassVar[str] = (
        "Depth Anything V2 via ONNX Runtime (--model small | base | large, -fp16 | -int8, or FILE.onnx)"
    )


@DEPTH_BACKENDS.register("midas")
class MidasBackend(OnnxDepthBackend):
    name: ClassVar[str] = "midas"
    description: ClassVar[str] = (
        "MiDaS v3 DPT-Hybrid via ONNX Runtime (--model hybrid, -fp16 | -int8, or FILE.onnx)"
    )
