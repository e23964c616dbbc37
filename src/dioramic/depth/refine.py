"""Edge-aware refinement of a depth prediction, guided by the photo.

Depth networks and the classical estimator both produce maps whose edges are blurred or shifted
relative to the photo's. `refine` runs a colour guided filter (He, Sun and Tang, "Guided Image
Filtering", TPAMI 2013): in every window the output is an affine function of the photo's colour, so
a depth ramp that straddles a sharp colour edge becomes a step at that edge, while depth in flat
photo regions is only smoothed. The coefficients are computed at a reduced resolution and applied at
full resolution (the "fast guided filter", He and Sun 2015), which keeps it well under 0.2 s for a
1024 x 768 photo.

    >>> import numpy as np
    >>> rgb = np.zeros((8, 8, 3), np.uint8); rgb[:, 4:] = 255
    >>> values = np.tile(np.linspace(0, 1, 8, dtype=np.float32), (8, 1)); values[0, 0] = np.nan
    >>> out = refine(values, rgb)
    >>> out.shape, out.dtype, bool(np.isnan(out[0, 0])), int(np.isnan(out).sum())
    ((8, 8), dtype('float32'), True, 1)
"""

from __future__ import annotations

import cv2
import numpy as np

# Window radius as a fraction of the photo's long side (16 px at 1024 px): wide enough to span the
# blur of a low-resolution prediction, narrow enough to keep thin structures apart.
RADIUS_FRACTION = 1.0 / 64.0
# Regularisation in (colour in [0, 1])^2: colour variations below ~0.03 count as texture, not edges.
EPS = 1e-3
# Long side at which the filter coefficients are computed.
COEFFICIENT_SIDE = 512


def _box(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, borders reflected; works on (h, w) and (h, w, c) float32."""
    return cv2.boxFilter(a, -1, (2 * r + 1, 2 * r + 1), normalize=True, borderType=cv2.BORDER_REFLECT)


def _fill_invalid(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """`values` with invalid pixels replaced by a smooth blend of nearby valid ones.

    Normalised convolution at a coarse scale; pixels far from any valid one get the valid median.
    """
    if valid.all():
        return values
    filled = np.where(valid, values, 0.0).astype(np.float32)
    weight = valid.astype(np.float32)
    sigma = max(1.0, 0.05 * max(values.shape))
    num = cv2.GaussianBlur(filled, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(weight, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    fallback = float(np.median(values[valid]))
    smooth = np.where(den > 1e-4, num / np.maximum(den, 1e-4), fallback)
    return np.where(valid, values, smooth).astype(np.float32)


def guided_filter(
    guide: np.ndarray,
    src: np.ndarray,
    radius: int,
    eps: float = EPS,
    coefficient_side: int = COEFFICIENT_SIDE,
) -> np.ndarray:
    """Colour guided filter of `src` by `guide` (fast variant: coefficients at reduced resolution).

    Parameters
    ----------
    guide : (H, W, 3) float32, colour in [0, 1].
    src : (H, W) float32, finite (any units; the filter is linear in `src`).
    radius : window radius in pixels at full resolution.
    eps : regularisation in guide units squared; larger = smoother, fewer edges transferred.
    coefficient_side : long side (pixels) of the grid the per-window coefficients are solved on.

    Returns
    -------
    (H, W) float32 in the units of `src`.
    """
    h, w = src.shape
    scale = min(1.0, coefficient_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        g = cv2.resize(guide, size, interpolation=cv2.INTER_AREA)
        p = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
    else:
        g, p = guide, src
    r = max(1, round(radius * scale))
    mean_i = _box(g, r)
    mean_p = _box(p, r)
    cov_ip = _box(g * p[..., None], r) - mean_i * mean_p[..., None]
    # the symmetric 3x3 covariance of the guide in each window, plus eps on the diagonal
    rr = _box(g[..., 0] * g[..., 0], r) - mean_i[..., 0] ** 2 + eps
    rg = _box(g[..., 0] * g[..., 1], r) - mean_i[..., 0] * mean_i[..., 1]
    rb = _box(g[..., 0] * g[..., 2], r) - mean_i[..., 0] * mean_i[..., 2]
    gg = _box(g[..., 1] * g[..., 1], r) - mean_i[..., 1] ** 2 + eps
    gb = _box(g[..., 1] * g[..., 2], r) - mean_i[..., 1] * mean_i[..., 2]
    bb = _box(g[..., 2] * g[..., 2], r) - mean_i[..., 2] ** 2 + eps
    # its inverse by cofactors (vectorised 3x3 solve)
    inv_rr = gg * bb - gb * gb
    inv_rg = gb * rb - rg * bb
    inv_rb = rg * gb - gg * rb
    inv_gg = rr * bb - rb * rb
    inv_gb = rb * rg - rr * gb
    inv_bb = rr * gg - rg * rg
    det = rr * inv_rr + rg * inv_rg + rb * inv_rb
    det = np.where(np.abs(det) < 1e-12, 1e-12, det)
    c0, c1, c2 = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    a = np.stack(
        [
            (inv_rr * c0 + inv_rg * c1 + inv_rb * c2) / det,
            (inv_rg * c0 + inv_gg * c1 + inv_gb * c2) / det,
            (inv_rb * c0 + inv_gb * c1 + inv_bb * c2) / det,
        ],
        axis=-1,
    ).astype(np.float32)
    b = (mean_p - (a * mean_i).sum(axis=-1)).astype(np.float32)
    mean_a = _box(a, r)
    mean_b = _box(b, r)
    if scale < 1.0:
        mean_a = cv2.resize(mean_a, (w, h), interpolation=cv2.INTER_LINEAR)
        mean_b = cv2.resize(mean_b, (w, h), interpolation=cv2.INTER_LINEAR)
    return ((mean_a * guide).sum(axis=-1) + mean_b).astype(np.float32)


def refine(values: np.ndarray, rgb: np.ndarray, radius: int | None = None, eps: float = EPS) -> np.ndarray:
    """Snap the edges of a depth prediction to the photo's edges.

    Parameters
    ----------
    values : (H, W) float32, a prediction of any kind ('inverse', 'depth' or 'metric'); NaN = invalid.
    rgb : (H, W, 3) uint8, the photo (the guide).
    radius : window radius in pixels; default `RADIUS_FRACTION` of the long side (at least 2).
    eps : regularisation, see `guided_filter`.

    Returns
    -------
    (H, W) float32 in the units of `values`; NaN exactly where `values` is NaN. The output stays
    within the range of the valid input values (no overshoot past the extremes).
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or rgb.shape != (*values.shape, 3):
        raise ValueError(f"refine needs (H, W) values and (H, W, 3) rgb, got {values.shape} and {rgb.shape}")
    valid = np.isfinite(values)
    if not valid.any() or min(values.shape) < 2:
        return values.copy()
    lo, hi = float(values[valid].min()), float(values[valid].max())
    if hi - lo <= 0.0:
        return values.copy()
    if radius is None:
        radius = max(2, round(max(values.shape) * RADIUS_FRACTION))
    # filter a copy normalised to [0, 1] so float32 precision does not depend on the units
    src = (_fill_invalid(values, valid) - lo) / (hi - lo)
    guide = rgb.astype(np.float32) * (1.0 / 255.0)
    out = guided_filter(guide, src, radius, eps)
    out = np.clip(out, 0.0, 1.0) * (hi - lo) + lo
    out[~valid] = np.nan
    return out.astype(np.float32)
