"""The classical depth estimator: scene-geometry cues, no learned weights, works offline.

It predicts relative inverse depth (kind 'inverse', larger = nearer) from three cues that hold on
ordinary photos, chosen for robustness over cleverness (see docs/depth.md for the reasoning and the
measured numbers):

1. **Ground plane below a horizon.** Seen by a pinhole camera, a flat floor or road has inverse depth
   proportional to the image row's distance below the horizon. When the photo shows converging lines
   (road edges, floor tiles, shelves) on *both* sides of a common vanishing point inside the frame,
   that point's row is taken as the horizon: ground above it is far. Otherwise the camera is
   assumed to look down on its subject (the horizon above the frame), and the plane spans the image.
2. **Ground contact ("pop-up").** Upright things (people, furniture, walls, trees) stand on the
   ground, so their depth is that of the ground where they touch it, not of the row they reach. The
   ground's appearance is learnt from the strip in front of the camera (bottom centre of the photo, as
   in appearance-based obstacle detection); per column, the lowest run of pixels that do not look like
   it marks the column's contact row. Above it the photo is cut into superpixels (seeded watershed);
   as in Hoiem's photo pop-up, each one stands where it visibly ends (its bottom row). That bottom is
   the farthest contact consistent with the photo; the column's contact row is the nearest (a segment
   hidden behind the lowest obstacle stands behind it). Pixels take a point `CONTACT_WEIGHT` of the
   way from the first to the second, because the appearance test is crude. A segment that ends above
   the horizon cannot touch the ground: it rests on the segment below it, so a tree or a building
   that rises above eye level keeps the depth of its foot.
3. **Sky.** Bright, smooth regions touching the top edge above the horizon, bluish or nearly grey,
   are placed at infinity (inverse depth 0).

Work happens at a reduced resolution (long side `WORK_SIDE`); the result is upsampled to the photo's
size with the photo as a guide (`dioramic.depth.refine.guided_filter`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import median_filter

from dioramic.depth.base import DEPTH_BACKENDS, DepthBackend, Prediction
from dioramic.depth.refine import guided_filter
from dioramic.types import Photo

log = logging.getLogger(__name__)

WORK_SIDE = 384
"""Long side (pixels) of the internal working image."""
MIN_SEGMENT_FRACTION = 0.03
"""Line segments shorter than this fraction of the working image's diagonal are ignored."""
VP_ANGLE_TOLERANCE_DEG = 2.0
"""A segment supports a vanishing point when it points at it within this angle."""
VP_MIN_SUPPORT = 0.1
"""Share of the total segment length that must converge on the vanishing point from each side."""
GROUND_STRIP = 0.1
"""Height of the bottom strip (fraction of the image) that samples the ground's appearance."""
GROUND_MAX_DISTANCE = 5.0
"""Mahalanobis distance (CIELAB) beyond which a pixel does not look like the ground."""
CONTACT_RUN = 0.015
"""Rows of non-ground pixels (fraction of the height) that make an obstacle, not noise."""
CONTACT_WEIGHT = 0.3
"""Where an upright pixel's contact lies between its segment's bottom (0) and its column's contact (1)."""
SEGMENTS = 64
"""Number of seeds of the superpixel segmentation (segments of about 1/64 of the photo: a wall,
a door or a piece of furniture is one to a few segments)."""
SEGMENT_BOTTOM_QUANTILE = 0.9
"""A segment's bottom is this quantile of its pixels' rows (robust to a few stray pixels)."""
FAR_INVERSE = 1e-3
"""Inverse depth (relative to the nearest, 1) of the farthest non-sky surface."""


@dataclass(frozen=True)
class Horizon:
    """A horizon found from converging lines, in working-image pixels."""

    row: float
    """Row of the vanishing point (0 = top edge)."""
    column: float
    """Column of the vanishing point."""
    support: float
    """Share of the segment length converging on it from the weaker side (0..0.5)."""


def _working_image(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 copy of `rgb` with long side at most WORK_SIDE (area-averaged)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    if scale >= 1.0:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def find_horizon(gray: np.ndarray, max_segments: int = 120, max_candidates: int = 3000) -> Horizon | None:
    """The vanishing point of the ground's receding lines, or None when the photo shows none.

    Parameters
    ----------
    gray : (h, w) uint8 image.

    Line segments (LSD) that are neither near-vertical nor near-horizontal vote for the pairwise
    intersections of the longest ones that lie inside the frame's central columns and upper three
    quarters. A candidate's support is the length of the segments *below* it that point at it, taken
    on its weaker side (left or right), so that one textured object's parallel edges do not count as
    a horizon.
    """
    h, w = gray.shape
    if min(h, w) < 16:
        return None
    lines = cv2.createLineSegmentDetector().detect(gray)[0]
    if lines is None:
        return None
    seg = lines.reshape(-1, 4).astype(np.float64)
    d = seg[:, 2:] - seg[:, :2]
    length = np.hypot(d[:, 0], d[:, 1])
    angle = np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 180.0
    keep = (length > MIN_SEGMENT_FRACTION * np.hypot(h, w)) & (np.abs(angle - 90.0) > 10.0)
    keep &= np.minimum(angle, 180.0 - angle) > 3.0
    seg, d, length = seg[keep], d[keep], length[keep]
    if len(seg) < 4:
        return None
    longest = seg[np.argsort(-length)[:max_segments]]
    ones = np.ones((len(longest), 1))
    lines_h = np.cross(np.hstack([longest[:, :2], ones]), np.hstack([longest[:, 2:], ones]))
    i, j = np.triu_indices(len(longest), 1)
    meet = np.cross(lines_h[i], lines_h[j])
    meet = meet[np.abs(meet[:, 2]) > 1e-9]
    cand = meet[:, :2] / meet[:, 2:3]
    inside = (cand[:, 0] > 0.1 * w) & (cand[:, 0] < 0.9 * w) & (cand[:, 1] > 0) & (cand[:, 1] < 0.75 * h)
    cand = cand[inside]
    if len(cand) == 0:
        return None
    if len(cand) > max_candidates:
        cand = cand[np.random.default_rng(0).choice(len(cand), max_candidates, replace=False)]
    mid = (seg[:, :2] + seg[:, 2:]) / 2.0
    unit = d / length[:, None]
    to_c = cand[:, None, :] - mid[None]
    dist = np.hypot(to_c[..., 0], to_c[..., 1]) + 1e-9
    cos = np.abs(to_c[..., 0] * unit[None, :, 0] + to_c[..., 1] * unit[None, :, 1]) / dist
    votes = (cos > np.cos(np.radians(VP_ANGLE_TOLERANCE_DEG))) & (mid[None, :, 1] > cand[:, None, 1])
    left = mid[None, :, 0] < cand[:, None, 0]
    weaker = np.minimum((votes & left) @ length, (votes & ~left) @ length) / length.sum()
    best = int(np.argmax(weaker))
    if weaker[best] < VP_MIN_SUPPORT:
        return None
    return Horizon(row=float(cand[best, 1]), column=float(cand[best, 0]), support=float(weaker[best]))


def ground_contact_rows(rgb: np.ndarray) -> np.ndarray:
    """Per column, the row where the ground (as seen at the bottom of the photo) meets an obstacle.

    Parameters
    ----------
    rgb : (h, w, 3) uint8 working image.

    Returns
    -------
    (w,) int64 row indices in 0..h; h means the column shows no obstacle above the ground strip.
    """
    h, w = rgb.shape[:2]
    lab = cv2.cvtColor(cv2.GaussianBlur(rgb, (0, 0), 1.5), cv2.COLOR_RGB2LAB).astype(np.float32)
    strip = lab[int(h * (1.0 - GROUND_STRIP)) :, int(w * 0.25) : max(int(w * 0.75), int(w * 0.25) + 1)]
    strip = strip.reshape(-1, 3)
    mean = strip.mean(axis=0)
    cov = np.cov(strip.T) + np.eye(3) * 4.0 if len(strip) > 3 else np.eye(3) * 100.0
    diff = lab.reshape(-1, 3) - mean
    dist2 = np.einsum("ij,jk,ik->i", diff, np.linalg.inv(cov), diff).reshape(h, w)
    obstacle = dist2 > GROUND_MAX_DISTANCE**2
    # length of the run of obstacle pixels ending at each row, counted from the top
    run = np.zeros((h, w), np.int32)
    run[0] = obstacle[0]
    for r in range(1, h):
        run[r] = np.where(obstacle[r], run[r - 1] + 1, 0)
    k = max(2, round(CONTACT_RUN * h))
    rows = np.where(run >= k, np.arange(h)[:, None], -1)
    contact = rows.max(axis=0) + 1
    contact[contact == 0] = h
    # an obstacle spans many columns: a median then a mean across columns remove single-column
    # misses that would otherwise show as vertical stripes in the depth map
    contact = median_filter(contact, size=max(3, w // 20) | 1, mode="nearest").astype(np.float32)
    contact = cv2.blur(contact[None, :], (max(3, w // 20) | 1, 1), borderType=cv2.BORDER_REPLICATE)[0]
    return np.rint(contact).astype(np.int64)


def superpixels(rgb: np.ndarray, count: int = SEGMENTS) -> np.ndarray:
    """Compact colour segments: a watershed of the CIELAB image seeded on a regular grid.

    Parameters
    ----------
    rgb : (h, w, 3) uint8 working image.
    count : approximate number of segments.

    Returns
    -------
    (h, w) int32 labels in 1..n; every pixel belongs to exactly one segment.
    """
    h, w = rgb.shape[:2]
    lab = cv2.cvtColor(cv2.GaussianBlur(rgb, (0, 0), 1.0), cv2.COLOR_RGB2LAB)
    step = max(2, round(np.sqrt(h * w / max(count, 1))))
    markers = np.zeros((h, w), np.int32)
    ys = np.arange(min(step // 2, h - 1), h, step)
    xs = np.arange(min(step // 2, w - 1), w, step)
    markers[np.ix_(ys, xs)] = np.arange(1, len(ys) * len(xs) + 1, dtype=np.int32).reshape(len(ys), len(xs))
    cv2.watershed(np.ascontiguousarray(lab), markers)
    # watershed lines (-1) join the segment of a neighbour
    lines = markers <= 0
    if lines.any():
        grown = cv2.dilate(np.where(lines, 0, markers).astype(np.float32), np.ones((3, 3), np.uint8))
        markers[lines] = grown[lines].astype(np.int32)
        markers[markers <= 0] = 1
    return markers


def segment_bottoms(
    labels: np.ndarray, quantile: float = SEGMENT_BOTTOM_QUANTILE, horizon_row: float | None = None
) -> np.ndarray:
    """(h, w) float32: for each pixel, the bottom row of its segment (a quantile of the segment's rows).

    Parameters
    ----------
    labels : (h, w) non-negative int segment labels.
    quantile : which quantile of a segment's rows is its bottom.
    horizon_row : when given, a segment whose bottom lies above this row cannot touch the ground (its
        foot would be above eye level): it rests on the segment below it (the one most of its lower
        boundary touches) and takes that segment's bottom, recursively. This keeps the upper part of a
        tree or a building that rises above the horizon at the depth of its foot.
    """
    h, w = labels.shape
    flat = labels.ravel()
    rows = np.repeat(np.arange(h), w)
    order = np.lexsort((rows, flat))
    sorted_labels, sorted_rows = flat[order], rows[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_labels)) + 1]
    ends = np.r_[starts[1:], len(sorted_labels)]
    pick = starts + np.floor(quantile * (ends - starts - 1)).astype(np.int64)
    bottom = np.zeros(int(flat.max()) + 1, np.float32)
    present = sorted_labels[starts]
    bottom[present] = sorted_rows[pick]
    if horizon_row is not None and h > 1:
        bottom = _rest_on_supports(labels, bottom, present, horizon_row)
    return bottom[labels]


def _rest_on_supports(
    labels: np.ndarray, bottom: np.ndarray, present: np.ndarray, horizon_row: float
) -> np.ndarray:
    """Per-label bottoms where segments ending above `horizon_row` take the bottom of their support."""
    upper, lower = labels[:-1].ravel(), labels[1:].ravel()
    edge = upper != lower
    if not edge.any():
        return bottom
    n = len(bottom)
    pairs, counts = np.unique(upper[edge].astype(np.int64) * n + lower[edge], return_counts=True)
    support = np.full(n, -1, np.int64)
    # for each upper label keep the lower neighbour with the longest shared boundary
    by_count = np.lexsort((-counts, pairs // n))
    first = np.r_[True, np.diff((pairs // n)[by_count]) != 0]
    chosen = pairs[by_count][first]
    support[chosen // n] = chosen % n
    out = bottom.copy()
    # lowest segments first, so that a support's own bottom is final before anything rests on it
    for label in present[np.argsort(-bottom[present], kind="stable")]:
        below = support[label]
        if bottom[label] < horizon_row and below >= 0 and bottom[below] > bottom[label]:
            out[label] = out[below]
    return out


def sky_mask(rgb: np.ndarray, horizon_row: float | None) -> np.ndarray:
    """(h, w) bool: bright, smooth, bluish-or-grey regions above the horizon touching the top edge.

    Without a horizon only bluish regions qualify (a white wall or ceiling is not sky).
    """
    h, w = rgb.shape[:2]
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    lum, a, b = lab[..., 0], lab[..., 1] - 128.0, lab[..., 2] - 128.0
    grad = cv2.GaussianBlur(
        np.hypot(cv2.Sobel(lum, cv2.CV_32F, 1, 0), cv2.Sobel(lum, cv2.CV_32F, 0, 1)), (0, 0), 2
    )
    smooth = grad < 40.0
    blue = (b < -8.0) & (np.abs(a) < 25.0) & (lum > 110.0)
    grey = (np.hypot(a, b) < 10.0) & (lum > 190.0)
    cand = smooth & (blue | (grey if horizon_row is not None else False))
    limit = h if horizon_row is None else int(np.clip(horizon_row, 0, h))
    cand[limit:] = False
    n, labels = cv2.connectedComponents(cand.astype(np.uint8), connectivity=4)
    if n <= 1:
        return np.zeros((h, w), bool)
    top = np.unique(labels[0][labels[0] > 0])
    return np.isin(labels, top)


def estimate_inverse_depth(rgb: np.ndarray) -> np.ndarray:
    """Relative inverse depth of a photo from geometric cues (larger = nearer).

    Parameters
    ----------
    rgb : (H, W, 3) uint8 photo.

    Returns
    -------
    (H, W) float32 in [0, 1]: 1 at the nearest ground, 0 for sky, `FAR_INVERSE` at the horizon.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"need (H, W, 3) uint8 rgb, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[:2]
    small = _working_image(rgb)
    h, w = small.shape[:2]
    horizon = find_horizon(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    found_row = horizon.row if horizon is not None else None
    # without a horizon the camera looks down on its subject: the ground plane spans the image
    horizon_row = found_row if found_row is not None else 0.0
    log.debug("classical depth: horizon %s", horizon)

    rows = np.arange(h, dtype=np.float32)[:, None] + 0.5
    contact = ground_contact_rows(small).astype(np.float32)[None, :]
    # above its column's contact row a pixel is upright (also above the horizon: trees and buildings
    # rise above eye level): it stands between its segment's visible bottom (farthest possible
    # contact) and the column's contact (nearest)
    bottom = segment_bottoms(superpixels(small), horizon_row=found_row) + 0.5
    bottom = np.minimum(np.maximum(bottom, rows), contact)
    upright = rows < contact
    effective = np.where(upright, (1.0 - CONTACT_WEIGHT) * bottom + CONTACT_WEIGHT * contact, rows)
    inverse = np.maximum(effective - horizon_row, 0.0) / max(h - horizon_row, 1.0)
    inverse = np.maximum(inverse, FAR_INVERSE)
    inverse = np.broadcast_to(inverse, (h, w)).astype(np.float32)
    sky = sky_mask(small, found_row)
    inverse = np.where(sky, 0.0, inverse).astype(np.float32)

    if (h, w) == (height, width):
        return inverse
    up = cv2.resize(inverse, (width, height), interpolation=cv2.INTER_LINEAR)
    radius = max(2, round(max(height, width) / max(h, w)) * 2)
    guided = guided_filter(rgb.astype(np.float32) * (1.0 / 255.0), up, radius)
    return np.clip(guided, 0.0, 1.0).astype(np.float32)


@DEPTH_BACKENDS.register("classical")
class ClassicalBackend(DepthBackend):
    """Ground plane, horizon, ground contact and sky cues; no weights, no network, any photo."""

    name = "classical"
    description = "geometric cues (horizon, ground plane, ground contact, sky); offline, no model weights"

    def predict(self, photo: Photo) -> Prediction:
        return Prediction(estimate_inverse_depth(photo.rgb), "inverse")
