"""The learned depth models as data: one frozen `ModelPreset` per model, and the rule that turns the
user's `--model` value into a preset, a precision and a file.

A preset names where the weights live (a Hugging Face hub repository and one ONNX file per precision)
and how the photo is prepared for the network and the output brought back (`Processing`), exactly as
the model's reference code does it. `dioramic.depth.onnx` holds the one machinery that applies them.

    >>> choice = resolve_model("depth-anything-v2", "small-int8")
    >>> choice.preset.repo_id, choice.filename
    ('onnx-community/depth-anything-v2-small', 'onnx/model_int8.onnx')
    >>> resolve_model("midas", None).filename
    'onnx/model.onnx'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dioramic.depth.base import PredictionKind
from dioramic.errors import UsageError
from dioramic.notices import notice

log = logging.getLogger(__name__)

ResizeRule = Literal["lower-bound", "exact"]
Resample = Literal["cv2-cubic", "pil-bilinear"]
Upsample = Literal["bilinear-corners", "bicubic"]
Precision = Literal["fp32", "fp16", "int8"]

PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "int8")
_PRECISION_ALIASES: dict[str, Precision] = {
    "fp32": "fp32",
    "float32": "fp32",
    "fp16": "fp16",
    "float16": "fp16",
    "int8": "int8",
    "q8": "int8",
    "quantized": "int8",
}


@dataclass(frozen=True)
class Processing:
    """How a photo becomes the network input and the network output becomes a map at the photo's size."""

    input_size: int
    """Target side in pixels: the shorter side for 'lower-bound', both sides for 'exact'."""
    multiple_of: int
    """Each input side is rounded (half to even) to a multiple of this (14: the ViT patch size)."""
    resize_rule: ResizeRule
    """'lower-bound': keep the aspect ratio, scale so the shorter side reaches `input_size`, never let
    a side fall below it after rounding (Depth Anything's Resize(keep_aspect_ratio=True,
    resize_method='lower_bound')); 'exact': stretch to `input_size` x `input_size` (DPTImageProcessor
    with keep_aspect_ratio=False)."""
    resample: Resample
    """'cv2-cubic': RGB / 255 in float64, then cv2 INTER_CUBIC (Depth Anything's image2tensor);
    'pil-bilinear': PIL bilinear on the uint8 image, then / 255 (transformers' DPTImageProcessor)."""
    mean: tuple[float, float, float]
    """Per-channel mean subtracted from RGB in [0, 1]."""
    std: tuple[float, float, float]
    """Per-channel standard deviation the result is divided by."""
    upsample: Upsample
    """Output back to the photo: 'bilinear-corners' = torch bilinear, align_corners=True (Depth
    Anything's infer_image); 'bicubic' = torch bicubic, align_corners=False (MiDaS / transformers)."""


DEPTH_ANYTHING_V2_PROCESSING = Processing(
    input_size=518,
    multiple_of=14,
    resize_rule="lower-bound",
    resample="cv2-cubic",
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    upsample="bilinear-corners",
)
"""depth_anything_v2/dpt.py `infer_image` / `image2tensor` of github.com/DepthAnything/Depth-Anything-V2."""

MIDAS_DPT_PROCESSING = Processing(
    input_size=384,
    multiple_of=1,
    resize_rule="exact",
    resample="pil-bilinear",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    upsample="bicubic",
)
"""preprocessor_config.json of Xenova/dpt-hybrid-midas (DPTImageProcessor: size 384x384,
keep_aspect_ratio false, ensure_multiple_of 1, resample 2 = bilinear, mean = std = 0.5), and the
bicubic upsampling of MiDaS' run.py and transformers' post_process_depth_estimation."""


@dataclass(frozen=True)
class ModelPreset:
    """One downloadable model: where its ONNX files are, how to feed it, what it returns."""

    backend: str
    """Name of the depth backend that serves it ('depth-anything-v2', 'midas')."""
    variant: str
    """Short name the user types ('small', 'base', 'large', 'hybrid')."""
    repo_id: str
    """Hugging Face hub model repository holding the ONNX exports."""
    files: tuple[tuple[Precision, str], ...]
    """(precision, path of the ONNX file inside the repository) for each precision it offers."""
    processing: Processing
    kind: PredictionKind
    """What the network outputs ('inverse': relative inverse depth, larger = nearer)."""
    licence: str
    """SPDX-like licence identifier of the weights."""
    commercial: bool
    """Whether the weights' licence allows commercial use; False ones are used only on request."""

    @property
    def repo_name(self) -> str:
        """The repository's name without its owner, also accepted as the variant's name."""
        return self.repo_id.rpartition("/")[2]

    @property
    def precisions(self) -> tuple[Precision, ...]:
        return tuple(p for p, _ in self.files)

    def filename(self, precision: Precision) -> str:
        """The repository file of `precision`; UsageError if the repository has none."""
        for p, name in self.files:
            if p == precision:
                return name
        raise UsageError(
            f"{self.backend} '{self.variant}' has no {precision} weights "
            f"(choose from: {', '.join(self.precisions)})"
        )


_DA_FILES: tuple[tuple[Precision, str], ...] = (
    ("fp32", "onnx/model.onnx"),
    ("fp16", "onnx/model_fp16.onnx"),
    ("int8", "onnx/model_int8.onnx"),
)


def _depth_anything(variant: str, licence: str, commercial: bool) -> ModelPreset:
    return ModelPreset(
        backend="depth-anything-v2",
        variant=variant,
        repo_id=f"onnx-community/depth-anything-v2-{variant}",
        files=_DA_FILES,
        processing=DEPTH_ANYTHING_V2_PROCESSING,
        kind="inverse",
        licence=licence,
        commercial=commercial,
    )


PRESETS: tuple[ModelPreset, ...] = (
    _depth_anything("small", "Apache-2.0", commercial=True),
    _depth_anything("base", "CC-BY-NC-4.0", commercial=False),
    _depth_anything("large", "CC-BY-NC-4.0", commercial=False),
    ModelPreset(
        backend="midas",
        variant="hybrid",
        repo_id="Xenova/dpt-hybrid-midas",
        files=(
            ("fp32", "onnx/model.onnx"),
            ("fp16", "onnx/model_fp16.onnx"),
            ("int8", "onnx/model_quantized.onnx"),
        ),
        processing=MIDAS_DPT_PROCESSING,
        kind="inverse",
        licence="Apache-2.0",  # as Intel/dpt-hybrid-midas, the weights Xenova converted
        commercial=True,
    ),
)
"""Every known model; the first preset of a backend is its default."""


@dataclass(frozen=True)
class ModelChoice:
    """What `--model` resolved to for one backend."""

    preset: ModelPreset
    """The model family: processing and output kind (for a user file, the backend's default preset)."""
    precision: Precision
    path: Path | None = None
    """The user's own ONNX file, or None to use the preset's hub file."""

    @property
    def filename(self) -> str:
        """Path of the weights inside the hub repository."""
        return self.preset.filename(self.precision)

    @property
    def label(self) -> str:
        """Short description for messages: the file, or 'repo/file'."""
        return str(self.path) if self.path is not None else f"{self.preset.repo_id}/{self.filename}"


def presets_for(backend: str) -> tuple[ModelPreset, ...]:
    """The presets served by `backend`, default first."""
    return tuple(p for p in PRESETS if p.backend == backend)


def looks_like_path(model: str) -> bool:
    """Whether a `--model` value names a file rather than a variant."""
    return model.lower().endswith(".onnx") or "/" in model or "\\" in model or Path(model).is_file()


def resolve_model(backend: str, model: str | None) -> ModelChoice:
    """Turn a `--model` value into a `ModelChoice` for `backend`.

    `model` is None (the default variant in fp32), a path to an ONNX file, or a variant name with an
    optional precision suffix: 'small', 'base-fp16', 'small-int8', 'int8' (default variant), or the
    repository's name: 'depth-anything-v2-large', 'dpt-hybrid-midas-int8'. Non-commercial weights are
    used only when named, and a warning says so. Raises UsageError for an unknown name.
    """
    presets = presets_for(backend)
    if not presets:
        raise UsageError(f"no model presets for depth backend '{backend}'")
    default = presets[0]
    if model is None or not model.strip():
        return ModelChoice(default, "fp32")
    text = model.strip()
    if looks_like_path(text):
        return ModelChoice(default, "fp32", Path(text).expanduser())

    name = text.lower()
    precision: Precision = "fp32"
    head, _, tail = name.rpartition("-")
    if tail in _PRECISION_ALIASES:
        precision, name = _PRECISION_ALIASES[tail], head
    elif name in _PRECISION_ALIASES:
        precision, name = _PRECISION_ALIASES[name], ""
    preset = default if not name else next((p for p in presets if name in (p.variant, p.repo_name)), None)
    if preset is None:
        names = ", ".join(f"{p.variant}[-{'|-'.join(p.precisions[1:])}]" for p in presets)
        raise UsageError(
            f"unknown {backend} model '{model}' (choose from: {names}; or a path to an .onnx file)"
        )
    choice = ModelChoice(preset, precision)
    choice.filename  # noqa: B018 - raises UsageError for a precision the repository lacks
    if not preset.commercial:
        notice(
            log,
            f"licence-{backend}-{preset.variant}",
            "%s '%s' weights are licensed %s: non-commercial use only",
            backend,
            preset.variant,
            preset.licence,
        )
    return choice
