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
   images scaled down to fit; its disparities, holes filled and smoothed, become a per-pixel guide,
   and the full-resolution pass searches only `fine_range` pixels either side of it.

SGBM matches both ways and a pixel is kept when the two agree (left-right check); the matching of one
pair lives in `dioramic.reconstruct.sgbm`. Each pair's depth is brought back to the view's own pixels
and the partners' depths are merged (`merge_depths`); pixels next to a hole or a depth jump are
dropped (`edge_erosion`), as block matching smears depth across silhouettes, and so are pixels with
nothing to match (`textured`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dioramic.reconstruct.model import SparseModel, View, angle_between
from dioramic.reconstruct.sgbm import pair_depth

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
    max_pixels: float = 1.2e6
    """Most pixels in a rectified image (the pair is scaled down to fit). On entry-P10 (6 MP photos)
    1.6e6 took a quarter longer for the same held-out PSNR (25.2 dB, within the run-to-run spread)."""
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
