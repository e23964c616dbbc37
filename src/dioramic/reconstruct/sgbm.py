"""Matching one rectified pair: the view against one partner, with OpenCV's semi-global matching.

`pair_depth` follows the `PairPlan` of `dioramic.reconstruct.stereo`: both images are rectified (the
partner's shifted along its rows by the plane's disparity, looked up in its own pixels in one step),
SGBM searches the relief off the plane both ways (left-right check) with a sub-pixel fit, coarse to fine
when the search is too wide for one pass, and the disparities are turned into depths of the view's own
pixels. Coordinates are continuous pixels with pixel centres at +0.5 (OpenCV's integer indices are
converted where it warps).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from dioramic.reconstruct.model import View

if TYPE_CHECKING:
    from dioramic.reconstruct.stereo import PairPlan, StereoOptions


def _sgbm(left: np.ndarray, right: np.ndarray, count: int, options: StereoOptions) -> np.ndarray:
    """(H, W) float32 disparity of `left` against `right` searched over 0..count-1, NaN where SGBM
    finds none or the right-to-left match does not point back (within 1 pixel).

    OpenCV leaves the first `count` columns without disparities: both images are padded by that
    much on the left first (for each direction), so every real column can be matched."""
    import cv2

    block = options.block_size
    count = max(16, math.ceil(count / 16.0) * 16)
    sgbm = cv2.StereoSGBM_create(
        minDisparity=0,
        numDisparities=count,
        blockSize=block,
        P1=8 * block * block,
        P2=32 * block * block,
        disp12MaxDiff=-1,
        uniquenessRatio=10,
        speckleWindowSize=100,
        speckleRange=2,
        mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )
    pad = count + block

    def padded(image: np.ndarray) -> np.ndarray:
        return cv2.copyMakeBorder(np.ascontiguousarray(image), 0, 0, pad, 0, cv2.BORDER_CONSTANT, value=0)

    forward = sgbm.compute(padded(left), padded(right))[:, pad:].astype(np.float32) / 16.0
    backward = sgbm.compute(padded(right[:, ::-1]), padded(left[:, ::-1]))[:, pad:][:, ::-1]
    backward = backward.astype(np.float32) / 16.0
    width = left.shape[1]
    target = np.arange(width)[None, :] - np.round(forward).astype(np.int64)
    ok = (forward >= 0) & (target >= 0) & (target < width)
    back = np.take_along_axis(backward, np.clip(target, 0, width - 1), axis=1)
    ok &= (back >= 0) & (np.abs(back - forward) <= 1.0)
    return np.where(ok, _subpixel(left, right, forward, block), np.nan).astype(np.float32)


def _subpixel(left: np.ndarray, right: np.ndarray, disparity: np.ndarray, window: int) -> np.ndarray:
    """`disparity` refined to a fraction of a pixel: a parabola through the sums of squared
    differences (`window` wide) at the nearest whole disparity and its two neighbours. SGBM's own
    fractions stick to whole pixels (off by up to a quarter pixel on a slanted wall, which makes
    terraces); this fit does not.

    >>> x = np.arange(64, dtype=np.float32)
    >>> left = np.tile(128 + 100 * np.sin(x / 3.0), (9, 1))
    >>> right = np.tile(128 + 100 * np.sin((x + 4.3) / 3.0), (9, 1))  # left(x) = right(x - 4.3)
    >>> refined = _subpixel(left, right, np.full((9, 64), 4.0), 5)[4, 20:40]
    >>> bool(np.abs(refined - 4.3).max() < 0.15)
    True
    """
    import cv2

    width = disparity.shape[1]
    known = disparity >= 0
    whole = np.where(known, np.round(disparity), 0).astype(np.int64)
    reference = np.asarray(left, np.float32)
    other = np.asarray(right, np.float32)
    columns = np.arange(width)[None, :]
    costs = []
    for step in (-1, 0, 1):
        shifted = np.take_along_axis(other, np.clip(columns - whole - step, 0, width - 1), axis=1)
        costs.append(cv2.boxFilter((reference - shifted) ** 2, -1, (window, window), normalize=False))
    before, here, after = costs
    curvature = before - 2.0 * here + after
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = (before - after) / (2.0 * curvature)
    good = known & (curvature > 1e-6) & (np.abs(offset) <= 1.0) & (whole - 1 >= 0)
    return np.where(good, whole + offset, disparity)


def _shift_rows(image: np.ndarray, shift: np.ndarray, interpolation: int) -> np.ndarray:
    """`image` resampled as out(x, y) = image(x - shift(x, y), y) (pixels, same size)."""
    import cv2

    h, w = shift.shape
    x = np.arange(w, dtype=np.float32)[None, :] - shift.astype(np.float32)
    y = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w))
    return cv2.remap(image, x, np.ascontiguousarray(y), interpolation, borderValue=0)


def pair_depth(view: View, other: View, plan: PairPlan, options: StereoOptions) -> np.ndarray:
    """(H, W) float32 depth of `view`'s pixels measured against `other` (0 = not measured)."""
    import cv2

    from dioramic.reconstruct.background import push_pull

    u0, v0, u1, v1 = plan.box
    f = plan.focal
    k = np.array([[f, 0.0, -u0 * f], [0.0, f, -v0 * f], [0.0, 0.0, 1.0]])
    size = (max(32, math.ceil((u1 - u0) * f)), max(16, math.ceil((v1 - v0) * f)))
    h1 = k @ plan.rotation @ view.rotation.T @ np.linalg.inv(view.camera.K)
    h2 = k @ plan.rotation @ other.rotation.T @ np.linalg.inv(other.camera.K)
    grey1, valid1 = _rectify(view, h1, size)
    grey2 = cv2.cvtColor(other.image, cv2.COLOR_RGB2GRAY)
    x = np.arange(size[0], dtype=np.float64)[None, :] + 0.5  # pixel centres
    y = np.arange(size[1], dtype=np.float64)[:, None] + 0.5
    a, b, c = plan.plane
    plane = np.broadcast_to(a * (x + u0 * f) + b * (y + v0 * f) + f * c, (size[1], size[0]))  # pixels

    # first pass: the relief off the plane, on images scaled down (if need be) to fit the search
    lo, hi = f * plan.residual[0], f * plan.residual[1]
    search = (hi - lo) / (1.0 - a)
    # SGBM's work is pixels x disparities: scale down (in both) until it fits the budget
    scale = min(1.0, (options.max_work / (size[0] * size[1] * max(search, 1.0))) ** (1.0 / 3.0))
    shifted, shifted_valid = _partner(grey2, other.valid, h2, plane + lo)  # I2(x - plane(x) - lo)
    if scale == 1.0:
        r = _sgbm(grey1, shifted, math.ceil(search / 16.0) * 16, options)
        r = _matched(r, valid1, shifted_valid)
        disparity = r + plane - a * r + lo  # d = r + plane(x - r) + lo
        return _to_view(view, plan, k, h1, np.where(disparity > 0, disparity, np.nan).astype(np.float32))
    small = (max(32, round(size[0] * scale)), max(16, round(size[1] * scale)))
    sx = small[0] / size[0]
    coarse = _sgbm(
        cv2.resize(grey1, small, interpolation=cv2.INTER_AREA),
        cv2.resize(shifted, small, interpolation=cv2.INTER_AREA),
        math.ceil(search * sx / 16.0) * 16,
        options,
    )
    coarse = _matched(
        coarse,
        cv2.resize(valid1.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST) > 0,
        cv2.resize(shifted_valid.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST) > 0,
    )
    if not options.coarse_to_fine:
        coarse_r = cv2.resize(np.nan_to_num(coarse, nan=-1e6), size, interpolation=cv2.INTER_NEAREST) / sx
        disparity = coarse_r + plane - a * coarse_r + lo
        return _to_view(view, plan, k, h1, np.where(disparity > 0, disparity, np.nan).astype(np.float32))
    # the guide: coarse disparity (full-resolution pixels), holes filled, smoothed
    coarse_r = coarse / sx
    small_plane = cv2.resize(
        np.ascontiguousarray(plane, dtype=np.float32), small, interpolation=cv2.INTER_AREA
    )
    coarse_d = coarse_r + small_plane - a * coarse_r + lo
    known = np.isfinite(coarse_d)
    if not known.any():
        return np.zeros((view.camera.height, view.camera.width), np.float32)
    filled = push_pull(
        np.nan_to_num(coarse_d, nan=0.0)[..., None].astype(np.float64), known.astype(np.float64)
    )
    guide = cv2.resize(filled[..., 0].astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    guide = cv2.GaussianBlur(guide, (0, 0), 1.5 / sx)

    # fine: fine_range either side of the guide, at full resolution
    reach = int(max(options.fine_range, math.ceil(3.0 / sx)))
    fine_shifted, fine_valid = _partner(grey2, other.valid, h2, guide - reach)  # I2(x - guide(x) + reach)
    r = _matched(_sgbm(grey1, fine_shifted, 2 * reach, options), valid1, fine_valid)
    # the match of x is x - r in the shifted image: d = r + guide(x - r) - reach
    guide_at = _shift_rows(guide.astype(np.float32), np.nan_to_num(r, nan=0.0), cv2.INTER_LINEAR)
    disparity = r + guide_at - reach
    return _to_view(view, plan, k, h1, np.where(disparity > 0, disparity, np.nan).astype(np.float32))


def _matched(r: np.ndarray, valid_left: np.ndarray, valid_right: np.ndarray) -> np.ndarray:
    """`r` (disparities, NaN = none) where both the pixel and its match lie inside the images."""
    width = r.shape[1]
    target = np.clip(
        np.round(np.arange(width)[None, :] - np.nan_to_num(r, nan=0.0)).astype(np.int64), 0, width - 1
    )
    ok = np.isfinite(r) & valid_left & np.take_along_axis(valid_right, target, axis=1)
    return np.where(ok, r, np.nan).astype(np.float32)


def _partner(
    grey: np.ndarray, valid: np.ndarray, homography: np.ndarray, shift: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The partner's rectified image shifted along its rows, out(x, y) = I2(x - shift(x, y), y), and
    its valid mask, looked up in the partner's own pixels in one step (so nothing shifted in from
    beyond the rectified frame is lost). `homography` maps the partner's pixels to rectified ones."""
    import cv2

    h, w = shift.shape
    x = np.arange(w, dtype=np.float64)[None, :] + 0.5 - shift
    y = np.broadcast_to(np.arange(h, dtype=np.float64)[:, None] + 0.5, (h, w))
    source = np.linalg.inv(homography) @ np.stack([x.ravel(), y.ravel(), np.ones(x.size)])
    map_x = (source[0] / source[2] - 0.5).reshape(h, w).astype(np.float32)
    map_y = (source[1] / source[2] - 0.5).reshape(h, w).astype(np.float32)
    image = cv2.remap(grey, map_x, map_y, cv2.INTER_LINEAR, borderValue=0)
    inside = cv2.remap(valid.astype(np.uint8), map_x, map_y, cv2.INTER_NEAREST, borderValue=0) > 0
    return image, inside


def _rectify(view: View, homography: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The view's grey image and valid mask warped by `homography` (between pixel-centre coordinates)."""
    import cv2

    # OpenCV warps integer pixel indices: conjugate by the half-pixel shift of our coordinates
    half = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    indexed = np.linalg.inv(half) @ homography @ half
    grey = cv2.warpPerspective(
        cv2.cvtColor(view.image, cv2.COLOR_RGB2GRAY), indexed, size, flags=cv2.INTER_LINEAR
    )
    valid = cv2.warpPerspective(view.valid.astype(np.uint8), indexed, size, flags=cv2.INTER_NEAREST) > 0
    return grey, valid


def _to_view(view: View, plan: PairPlan, k: np.ndarray, h1: np.ndarray, disparity: np.ndarray) -> np.ndarray:
    """(H, W) float32 depth in `view`'s pixels from the rectified `disparity` (NaN = none)."""
    import cv2

    cam = view.camera
    u, v = np.meshgrid(np.arange(cam.width) + 0.5, np.arange(cam.height) + 0.5)
    rectified = h1 @ np.stack([u.ravel(), v.ravel(), np.ones(u.size)])
    rectified = rectified[:2] / rectified[2]
    look_x = (rectified[0] - 0.5).reshape(cam.height, cam.width).astype(np.float32)
    look_y = (rectified[1] - 0.5).reshape(cam.height, cam.width).astype(np.float32)
    looked_up = cv2.remap(disparity, look_x, look_y, cv2.INTER_NEAREST, borderValue=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        rect_depth = plan.focal * plan.baseline / looked_up
    # depth along the view's axis = rectified depth * z of the ray (rectified z = 1) in the view
    rays = view.rotation @ plan.rotation.T @ np.linalg.inv(k) @ np.vstack([rectified, np.ones(u.size)])
    depth = rect_depth * rays[2].reshape(cam.height, cam.width)
    return np.where(np.isfinite(depth) & (depth > 0), depth, 0.0).astype(np.float32)
