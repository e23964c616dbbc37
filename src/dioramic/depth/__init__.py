"""Depth estimation: pluggable backends, edge-aware refinement, conversion to a DepthMap.

    >>> from dioramic.depth import estimate            # doctest: +SKIP
    >>> depth = estimate(photo, backend="auto")         # doctest: +SKIP

Backends register by name in `DEPTH_BACKENDS` (see `dioramic.depth.base`); `estimate` owns choosing
one ('auto'), refinement and conversion, so a backend only predicts.
"""

from __future__ import annotations

import logging

from dioramic.depth import classical, embedded, files, onnx  # noqa: F401 - register the built-ins
from dioramic.depth.base import DEPTH_BACKENDS, DepthBackend, DepthOptions, Prediction
from dioramic.depth.convert import DEFAULT_FAR, DEFAULT_NEAR, to_depth_map
from dioramic.depth.refine import refine
from dioramic.errors import UsageError
from dioramic.notices import notice
from dioramic.types import DepthMap, Photo

__all__ = [
    "DEPTH_BACKENDS",
    "DepthBackend",
    "DepthOptions",
    "Prediction",
    "choose_backend",
    "estimate",
    "predict",
]

log = logging.getLogger(__name__)

AUTO = "auto"
LEARNED_DEFAULT = "depth-anything-v2"
OFFLINE_DEFAULT = "classical"
CLASSICAL_NOTICE = "classical-depth"
"""Key of the notice that 'auto' fell back to the classical estimator (said once per run)."""


def choose_backend(name: str, photo: Photo, options: DepthOptions) -> DepthBackend:
    """Instantiate backend `name`; 'auto' picks user depth, embedded depth, the learned model, or
    the classical estimator, in that order of preference, and says so when it falls back."""
    if name != AUTO:
        return DEPTH_BACKENDS.get(name)(options)
    if options.depth_map is not None:
        return DEPTH_BACKENDS.get("file")(options)
    if options.model is not None:  # the user named a model: use it, and let its errors show
        return DEPTH_BACKENDS.get(LEARNED_DEFAULT)(options)
    for candidate in ("embedded", LEARNED_DEFAULT):
        backend = DEPTH_BACKENDS.get(candidate)(options)
        if backend.available(photo):
            return backend
    notice(
        log,
        CLASSICAL_NOTICE,
        "notice: using the classical depth estimator; for better depth, connect once to the internet "
        "(the Depth Anything V2 small model is then downloaded and cached) or pass --model FILE.onnx",
    )
    return DEPTH_BACKENDS.get(OFFLINE_DEFAULT)(options)


def predict(photo: Photo, backend: str = AUTO, options: DepthOptions | None = None) -> tuple[Prediction, str]:
    """The chosen backend's raw prediction at the photo's size, and the backend's name."""
    options = options or DepthOptions()
    if options.depth_map is not None and backend not in (AUTO, "file"):
        raise UsageError(f"--depth-map selects the 'file' backend; it cannot be used with '{backend}'")
    chosen = choose_backend(backend, photo, options)
    prediction = chosen.predict(photo)
    if prediction.values.shape != (photo.height, photo.width):
        raise RuntimeError(
            f"depth backend '{chosen.name}' returned {prediction.values.shape}, "
            f"expected {(photo.height, photo.width)}"
        )
    return prediction, chosen.name


def estimate(
    photo: Photo,
    backend: str = AUTO,
    options: DepthOptions | None = None,
    *,
    refine_edges: bool = True,
    near: float = DEFAULT_NEAR,
    far: float = DEFAULT_FAR,
) -> DepthMap:
    """Depth for `photo`: (H, W) float32, larger = farther (see `dioramic.depth.convert`)."""
    prediction, name = predict(photo, backend, options)
    if refine_edges and not prediction.aligned:
        prediction = Prediction(refine(prediction.values, photo.rgb), prediction.kind)
    return to_depth_map(prediction, backend=name, near=near, far=far)
