"""Turning a backend's `Prediction` into a `DepthMap` (larger = farther, > 0).

Relative predictions carry no metric scale, so they are placed with a documented convention: the
nearest surface sits at `near` metres and the farthest at `far` metres (defaults 1 m and 6 m, a
tabletop-to-room range that gives pleasant parallax for any photo). Inverse predictions (Depth
Anything, MiDaS: affine-invariant disparity) are mapped linearly onto [1/far, 1/near] in inverse
depth, which is the space they are affine in; relative depth predictions are scaled so that their
near end lands on `near`. Metric predictions are kept as they are.
"""

from __future__ import annotations

import numpy as np

from dioramic.depth.base import Prediction
from dioramic.types import DepthMap

DEFAULT_NEAR = 1.0
DEFAULT_FAR = 6.0
# Robust ends of the range: a few stray pixels must not set the scale of the whole scene.
_LOW_PERCENTILE, _HIGH_PERCENTILE = 0.5, 99.5


def _fill_invalid(values: np.ndarray, fill: float) -> np.ndarray:
    out = values.astype(np.float32, copy=True)
    out[~np.isfinite(out)] = fill
    return out


def to_depth_map(
    prediction: Prediction, backend: str = "", near: float = DEFAULT_NEAR, far: float = DEFAULT_FAR
) -> DepthMap:
    """Convert `prediction` to a DepthMap; pixels without an estimate get the farthest depth.

    >>> import numpy as np
    >>> p = Prediction(np.array([[0.0, 1.0]], np.float32), "inverse")
    >>> to_depth_map(p, near=1.0, far=4.0).depth.round(3).tolist()
    [[4.0, 1.0]]
    """
    if not 0 < near < far:
        raise ValueError(f"need 0 < near < far, got near={near}, far={far}")
    values = prediction.values
    valid = np.isfinite(values)
    if prediction.kind == "metric":
        if not valid.any():
            raise ValueError("the depth prediction has no valid pixel")
        finite = values[valid]
        if (finite <= 0).any():
            raise ValueError("metric depth must be > 0 where it is valid")
        depth = _fill_invalid(values, float(finite.max()))
        return DepthMap(depth, metric=True, backend=backend)

    if not valid.any():
        raise ValueError("the depth prediction has no valid pixel")
    finite = values[valid].astype(np.float64)
    lo, hi = np.percentile(finite, [_LOW_PERCENTILE, _HIGH_PERCENTILE])
    if prediction.kind == "inverse":
        if hi - lo <= 1e-12 * max(1.0, abs(hi)):
            t = np.zeros_like(values, dtype=np.float64)
        else:
            t = np.clip((values - lo) / (hi - lo), 0.0, 1.0)
        t = np.where(valid, t, 0.0)
        inverse = 1.0 / far + t * (1.0 / near - 1.0 / far)
        depth = (1.0 / inverse).astype(np.float32)
    else:  # relative depth, larger = farther: scale-invariant, so pin the near end
        if lo <= 0:
            # shift so that the range is positive while keeping its ratios as far as possible
            finite = finite - lo + (hi - lo) * 1e-3 + 1e-6
            values = values - lo + (hi - lo) * 1e-3 + 1e-6
            lo, hi = np.percentile(finite, [_LOW_PERCENTILE, _HIGH_PERCENTILE])
        depth = np.maximum(values / lo * near, near)
        depth = np.where(valid, depth, np.nanmax(np.where(valid, depth, np.nan)))
        depth = depth.astype(np.float32)
    return DepthMap(depth, metric=False, backend=backend)
