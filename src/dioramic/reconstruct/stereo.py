"""Per-view depth from stereo between posed neighbours: OpenCV's semi-global matching (SGBM) on
rectified pairs, coarse to fine.

For each view, `choose_partners` picks up to `StereoOptions.partners` other views that share many
sparse points with it at a useful angle (`min_angle`..`max_angle`), preferring one on each side. Each
pair is rectified by rotating both cameras so that the baseline becomes their common x axis
(`PairPlan`). Cameras that converge on an object see it with disparities that vary strongly across
the rectified image, so matching is guided twice:

1. Plane: the sparse points' disparities are fitted by a plane ``a x + b y + c`` (in rectified
   coordinates); the partner's image is resampled shifted by it, and only the relief off the plane is
   searched: the shared points' range, widened to reach surfaces `relief_near` nearer and
   `relief_far` farther (porches, the ground, recesses have few sparse points).
2. Coarse to fine: when that search (pixels times disparities) exceeds `max_work`, it runs on
   images scaled down to fit; its disparities, holes filled and smoothed, become a per-pixel guide, and the
   full-resolution pass searches only `fine_range` pixels either side of it.

SGBM matches both ways and a pixel is kept when the two agree (left-right check). Each pair's depth is
brought back to the view's own pixels and the partners' depths are merged (`merge_depths`); pixels
next to a hole or a depth jump are dropped (`edge_erosion`), as block matching smears depth across
silhouettes, and so are pixels with nothing to match (`textured`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dioramic.reconstruct.model import SparseModel, View, angle_between

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StereoOptions:
    """Settings of the stereo stage."""

    partners: int = 4
    """Most partner views per view."""
    min_angle: float = 2.0
    """Smallest median angle (degrees) between the two cameras' rays to the shared points."""
    max_angle: float = 40.0
    """Largest such angle: wider pairs look too different for block matching."""
    max_pixels: float = 1.6e6
    """Most pixels in a rectified image (the pair is scaled down to fit)."""
    relief_near: float = 0.2
    """Beyond the shared points' own range, the search reaches surfaces this fraction of the
    distance nearer than the dominant plane."""
    relief_far: float = 0.1
    """... and this fraction farther."""
    max_work: float = 2.5e8
    """Most pixel-disparities one SGBM pass may search: a wider search runs coarse to fine."""
    fine_range: int = 24
    """The fine pass searches this many full-resolution pixels either side of the coarse guide (more
    where the coarse pass was coarser)."""
    coarse_to_fine: bool = True
    """Refine a scaled-down pass at full resolution (else keep the scaled-down disparities)."""
    block_size: int = 5
    """SGBM's matching window (odd)."""
    consistency: float = 0.01
    """Relative depth difference within which two partners agree."""
    edge_erosion: int = 2
    """Pixels dropped next to holes and depth jumps."""
    min_contrast: float = 0.75
    """Pixels whose 7 x 7 neighbourhood varies less than this (grey levels, standard deviation) get
    no depth: nothing there to match."""


@dataclass(frozen=True)
class PairPlan:
    """How to rectify a view (1) and its partner (2), in normalised rectified coordinates
    (u, v) = (x / z, y / z) of the rectified camera frame, where a point's disparity is baseline / z."""

    partner: int
    """Index of the partner view."""
    rotation: np.ndarray
    """(3, 3) rectified-from-world rotation shared by both cameras (x along the baseline)."""
    baseline: float
    """Distance between the camera centres (world units)."""
    focal: float
    """Focal length of the rectified images, pixels."""
    box: tuple[float, float, float, float]
    """(u0, v0, u1, v1) extent of view 1 in normalised rectified coordinates."""
    plane: tuple[float, float, float]
    """(a, b, c): the dominant plane's disparity a * u + b * v + c."""
    residual: tuple[float, float]
    """(lo, hi) range of disparity off the plane to search (normalised)."""
    angle: float
    """Median triangulation angle of the shared points, degrees."""
    score: float
    """Preference among partners (larger = better)."""


def fit_plane_disparity(u: np.ndarray, v: np.ndarray, d: np.ndarray) -> tuple[float, float, float]:
    """Robust least-squares (a, b, c) with d ~ a * u + b * v + c (refitted without the points off by
    more than 2.5 times the median residual).

    >>> u, v = np.meshgrid(np.arange(5.0), np.arange(4.0))
    >>> d = (0.1 * u - 0.2 * v + 3).ravel(); d[0] = 50
    >>> [round(x, 6) for x in fit_plane_disparity(u.ravel(), v.ravel(), d)]
    [0.1, -0.2, 3.0]
    """
    design = np.stack([u, v, np.ones_like(u)], axis=1)
    keep = np.ones(len(d), bool)
    coef = np.zeros(3)
    for _ in range(3):
        coef = np.linalg.lstsq(design[keep], d[keep], rcond=None)[0]
        residual = np.abs(design @ coef - d)
        keep = residual <= 2.5 * max(float(np.median(residual)), 1e-12)
    return float(coef[0]), float(coef[1]), float(coef[2])


def plan_pair(view: View, other: View, points: np.ndarray, partner: int, angle: float,
              options: StereoOptions) -> PairPlan | None:  # fmt: skip
    """The rectification of `view` with `other` seeing the (K, 3) shared `points`; None when the
    baseline points too far along the view's axis (rectified images would be unbounded)."""
    x = other.centre - view.centre
    baseline = float(np.linalg.norm(x))
    if baseline <= 0:
        return None
    x = x / baseline
    y = np.cross(view.rotation[2], x)
    if np.linalg.norm(y) < 1e-6:
        return None
    y /= np.linalg.norm(y)
    rotation = np.stack([x, y, np.cross(x, y)])
    cam = view.camera
    corners = np.array(
        [[0, 0], [cam.width, 0], [0, cam.height], [cam.width, cam.height],
         [cam.width / 2, 0], [cam.width / 2, cam.height], [0, cam.height / 2], [cam.width, cam.height / 2]],
        dtype=np.float64,
    )  # fmt: skip
    rays = np.stack([(corners[:, 0] - cam.cx) / cam.fx, (corners[:, 1] - cam.cy) / cam.fy, np.ones(8)])
    rect = rotation @ view.rotation.T @ rays
    if (rect[2] <= 1e-3).any():
        return None
    rect = rect[:2] / rect[2]
    box = (float(rect[0].min()), float(rect[1].min()), float(rect[0].max()), float(rect[1].max()))
    local = rotation @ (points - view.centre).T
    local = local[:, local[2] > 0]
    if local.shape[1] < 3:
        return None
    u, v, disparity = local[0] / local[2], local[1] / local[2], baseline / local[2]
    plane = fit_plane_disparity(u, v, disparity) if len(u) >= 10 else (0.0, 0.0, 0.0)
    if not plane[0] < 0.7:  # the plane would fold the partner's image over itself
        plane = (0.0, 0.0, 0.0)
    residual = disparity - (plane[0] * u + plane[1] * v + plane[2])
    lo, hi = float(residual.min()), float(residual.max())
    typical = float(np.median(disparity))
    span = hi - lo
    # a point a fraction q nearer than the plane lies q / (1 - q) of its disparity off it
    near, far = options.relief_near, options.relief_far
    lo = lo - 0.3 * span - far / (1.0 + far) * typical
    hi = hi + 0.3 * span + near / (1.0 - near) * typical
    area = (box[2] - box[0]) * (box[3] - box[1]) * cam.fx**2
    scale = min(1.0, math.sqrt(options.max_pixels / area))
    return PairPlan(
        partner=partner,
        rotation=rotation,
        baseline=baseline,
        focal=cam.fx * scale,
        box=box,
        plane=plane,
        residual=(float(lo), float(hi)),
        angle=angle,
        score=scale * min(1.0, angle / 8.0),
    )


def choose_partners(
    views: Sequence[View], model: SparseModel, i: int, allowed: Sequence[int], options: StereoOptions
) -> list[PairPlan]:
    """Up to `options.partners` pair plans for view `i` among the `allowed` view indices (views and
    the model's images are in the same order), the best first, one on each side when possible."""
    counts = {j: model.shared_points(i, j) for j in allowed if j != i}
    most = max((len(v) for v in counts.values()), default=0)
    plans = []
    for j, shared in counts.items():
        if len(shared) < max(20, 0.1 * most):
            continue
        points = model.points[shared]
        angle = float(np.median(angle_between(points - views[i].centre, points - views[j].centre)))
        if not options.min_angle <= angle <= options.max_angle:
            continue
        plan = plan_pair(views[i], views[j], points, j, angle, options)
        if plan is not None:
            plans.append((plan.score * len(shared) / most, plan))
    plans.sort(key=lambda item: -item[0])
    ordered = [plan for _, plan in plans]
    if not ordered:
        return []
    side = _side(views[i], views[ordered[0].partner])
    opposite = next((p for p in ordered[1:] if _side(views[i], views[p.partner]) != side), None)
    chosen = [ordered[0]] + ([opposite] if opposite is not None else [])
    chosen += [p for p in ordered[1:] if p is not opposite][: max(0, options.partners - len(chosen))]
    return chosen[: options.partners]


def _side(view: View, other: View) -> bool:
    """Whether `other` stands to the right of `view` (in `view`'s image)."""
    return bool((view.rotation @ (other.centre - view.centre))[0] > 0)


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


def merge_depths(depths: Sequence[np.ndarray], options: StereoOptions) -> np.ndarray:
    """(H, W) float32 one depth map from the partners' (0 = unknown), given best first: per pixel
    the first measurement that another partner confirms (within `options.consistency`), else the
    first measurement (the other views check it again in the fusion).

    >>> a, b, c = np.array([[1.0, 2.0, 0.0]]), np.array([[1.5, 2.01, 3.0]]), np.array([[1.49, 0, 0]])
    >>> merge_depths([a, b, c], StereoOptions()).tolist()
    [[1.5, 2.0, 3.0]]
    """
    stack = np.stack([np.asarray(d, dtype=np.float64) for d in depths])
    known = stack > 0
    confirmed = np.zeros_like(known)
    for i in range(len(stack)):
        for j in range(len(stack)):
            if i != j:
                close = np.abs(stack[i] - stack[j]) <= options.consistency * np.maximum(stack[i], 1e-12)
                confirmed[i] |= known[i] & known[j] & close
    pick = np.where(confirmed.any(axis=0), np.argmax(confirmed, axis=0), np.argmax(known, axis=0))
    out = np.take_along_axis(stack, pick[None], axis=0)[0]
    return np.where(known.any(axis=0), out, 0.0).astype(np.float32)


def trim_edges(depth: np.ndarray, pixels: int, jump: float = 0.05) -> np.ndarray:
    """`depth` without the pixels within `pixels` of a hole or of a relative depth jump > `jump`."""
    import cv2

    if pixels <= 0:
        return depth
    known = depth > 0
    log_depth = np.log(np.where(known, depth, 1.0))
    steep = np.zeros_like(known)
    steep[:, 1:] |= np.abs(np.diff(log_depth, axis=1)) > jump
    steep[1:, :] |= np.abs(np.diff(log_depth, axis=0)) > jump
    bad = (~known | steep).astype(np.uint8)
    bad = cv2.dilate(bad, np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8))
    return np.where(bad > 0, 0.0, depth).astype(np.float32)


def textured(image: np.ndarray, min_contrast: float, window: int = 7) -> np.ndarray:
    """(H, W) bool: pixels whose `window`-wide neighbourhood in the (H, W, 3) uint8 `image` varies
    by more than `min_contrast` grey levels (standard deviation). Where it does not (a black
    backdrop, a blown-out sky), semi-global matching only spreads its neighbours' depth.

    >>> image = np.zeros((9, 18, 3), np.uint8); image[:, 9:] = np.arange(9)[:, None, None] * 20
    >>> textured(image, 1.0)[4].astype(int).tolist()
    [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    """
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(grey, (window, window))
    variance = cv2.blur(grey * grey, (window, window)) - mean * mean
    return variance > min_contrast * min_contrast


def depth_maps(
    views: Sequence[View],
    model: SparseModel,
    fused: Sequence[int],
    options: StereoOptions = StereoOptions(),
    on_view: Callable[[int, int], None] | None = None,
) -> dict[int, np.ndarray]:
    """{view index: (H, W) float32 depth, 0 = unknown} for the `fused` views, each matched only
    against other `fused` views. A view with no usable partner gets no entry."""
    out = {}
    for k, i in enumerate(fused):
        plans = choose_partners(views, model, i, fused, options)
        measured = [pair_depth(views[i], views[p.partner], p, options) for p in plans]
        if measured:
            depth = trim_edges(merge_depths(measured, options), options.edge_erosion)
            depth = np.where(textured(views[i].image, options.min_contrast), depth, 0.0).astype(np.float32)
            out[i] = depth
            log.debug(
                "%s: depth for %.0f %% of the pixels from %s",
                views[i].name,
                100 * float((depth > 0).mean()),
                ", ".join(f"{views[p.partner].name} ({p.angle:.0f} deg)" for p in plans),
            )
        else:
            log.debug("%s: no partner view for stereo", views[i].name)
        if on_view is not None:
            on_view(k + 1, len(fused))
    return out
