"""The narrow hook every depth backend implements, and the registry they join.

A backend turns a `Photo` into a `Prediction` at the photo's size and nothing else: choosing a backend,
refinement and the conversion to a `DepthMap` live once, in `dioramic.depth.estimate`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from dioramic.registry import Registry
from dioramic.types import Photo

PredictionKind = Literal["inverse", "depth", "metric"]


@dataclass(frozen=True)
class Prediction:
    """A backend's own output, resized to the photo."""

    values: np.ndarray
    """(H, W) float32 at the photo's size, finite where valid (NaN marks pixels with no estimate)."""
    kind: PredictionKind
    """'inverse': relative inverse depth, larger = nearer, known up to scale and shift (Depth Anything,
    MiDaS); 'depth': relative depth, larger = farther, known up to scale; 'metric': depth in metres."""
    aligned: bool = False
    """True when the values already follow the photo's edges pixel for pixel (a map the user gives at
    the photo's own resolution): edge refinement, which could only blur them, is skipped."""


@dataclass(frozen=True)
class DepthOptions:
    """Options shared by the backends; each backend reads the ones it understands."""

    model: str | None = None
    """Path of an ONNX file, or a model variant name ('small', 'base', 'large', ...)."""
    depth_map: Path | None = None
    """A depth map file supplied by the user (the 'file' backend)."""
    depth_kind: Literal["depth", "inverse"] = "depth"
    """How to read `depth_map`: 'depth' (larger = farther) or 'inverse' (larger = nearer)."""
    metric: bool = False
    """Treat a user depth map of kind 'depth' as metric: metres for float maps, millimetres for integer
    maps (the depth-camera convention)."""
    threads: int | None = None
    """CPU threads for inference (None: one per core)."""
    offline: bool = False
    """Never reach the network (model weights only from the local cache or `model`)."""


class DepthBackend(ABC):
    """Base class of depth backends. Subclasses set `name`/`description` and implement `predict`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    """One line shown by `dioramic depth --list`."""

    def __init__(self, options: DepthOptions | None = None) -> None:
        self.options = options or DepthOptions()

    def available(self, photo: Photo | None = None) -> bool:
        """Whether `predict` can run now without a download or user input (used by 'auto')."""
        return True

    @abstractmethod
    def predict(self, photo: Photo) -> Prediction:
        """Estimate depth for `photo`; the result has the photo's (H, W)."""


DEPTH_BACKENDS: Registry[type[DepthBackend]] = Registry("depth backend")
