"""Overscan: the zoom that keeps a move's frames inside the photo, measured by the renderer.

A camera move looks past the photo's frame, where the scene holds only an inpainted margin (the
renderer's `FrameStats.beyond`). Filming the move through a longer lens hides it: at zoom z (every
frame's focal length times z, `dioramic.motion.zoom`) the camera stands and looks where it did, so
each frame is the centre 1/z of its frame at zoom 1. One render of a pose at zoom 1, with the
renderer's per-pixel flags, therefore tells what every zoom would show of it: the measures of each
centred crop, read from summed-area tables.

`fit_overscan` renders the poses of a move that look farthest past the frame (`worst_times`: the
photo's border, at the depth the scene has there, projected from each pose; pure arithmetic) at
`SIZE` pixels, and picks the smallest zoom, up to `MAX_ZOOM`, at which none of them shows more than
`MAX_BEYOND` of its frame beyond the photo (more than the largest zoom leaves): the margin, and the
empty space past it where a move outreaches the scene. Two thresholds, each from a principle rather
than a photo:

* `MAX_BEYOND` = 0.1 %: "almost none" is what the amplitude fit already calls no holes
  (`dioramic.render.fit.MAX_UNCOVERED`), about a one-pixel strip along one side of the frame;
* `MAX_ZOOM` = 1.25: the crop keeps at least the broadcast *title-safe* area (80 % of the frame's
  width and height, SMPTE RP 2046-1 / EBU R 95), inside which a photographer keeps what matters. A
  move that needs more keeps that crop and shows some of the margin.

One measurement pixel is added on each side, so that a strip narrower than a pixel of the small
render, which it may miss, stays out of the video too.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from dioramic.render import MotionLike
from dioramic.render.fit import Prediction
from dioramic.render.opengl import GLRenderer
from dioramic.types import Scene, is_hidden_layer

__all__ = ["MAX_BEYOND", "MAX_ZOOM", "OverscanFit", "fit_overscan", "worst_times", "zoom_needs"]

log = logging.getLogger(__name__)

MAX_BEYOND = 0.001
"""'Almost none': the largest fraction of a frame that may show the margin beyond the photo once
zoomed (the amplitude fit's limit on holes, `MAX_UNCOVERED`)."""
MAX_ZOOM = 1.25
"""The largest automatic zoom: the crop keeps the title-safe area, 80 % of each side."""
SIZE = 384
"""Long side in pixels of the measurement renders (those of a given amplitude's prediction)."""
POSES = 4
"""Poses rendered to choose the zoom: the move's `POSES` worst by `zoom_needs`."""
_CANDIDATES = 31
"""Times of the move whose border projection `worst_times` compares (a circle: every 12 degrees, so
the pose measured is within 6 degrees of the worst, whose strip is then under 0.6 % narrower: a
fraction of the measurement pixel added)."""
_BORDER_SAMPLES = 24
"""Points per side of the photo's frame that `border_points` places."""


@dataclass(frozen=True)
class OverscanFit:
    """The zoom chosen for a move, and what its measured poses show at it."""

    zoom: float
    """Focal length factor (1 = the move's own framing)."""
    prediction: Prediction
    """The worst of the measured poses at `zoom`."""
    unzoomed: Prediction
    """The worst of the measured poses at zoom 1."""
    capped: bool
    """True when the automatic zoom stopped at its largest (`MAX_ZOOM`): a wider move shows some of
    what lies beyond the photo."""
    times: tuple[float, ...]
    """The times of the poses measured, seconds."""
    seconds: float
    """Wall-clock time of the fit."""


def border_points(scene: Scene) -> np.ndarray:
    """(N, 4) homogeneous points on the border of the photo's frame, at the depth of the scene's
    nearest visible vertex there (its surface and silhouettes, not what it rebuilt behind them):
    `_BORDER_SAMPLES` a side, scene coordinates."""
    cam = scene.camera
    width, height = float(cam.width), float(cam.height)
    u, v, depth = [], [], []
    for mesh in scene.meshes:
        if is_hidden_layer(mesh.name) or not len(mesh.vertices):
            continue
        points = mesh.vertices.astype(np.float64)
        d = -points[:, 2]
        ahead = d > 1e-6
        pu = cam.fx * points[ahead, 0] / d[ahead] + cam.cx
        pv = -cam.fy * points[ahead, 1] / d[ahead] + cam.cy
        inside = (pu >= 0) & (pu <= width) & (pv >= 0) & (pv <= height)
        u.append(pu[inside])
        v.append(pv[inside])
        depth.append(d[ahead][inside])
    s = (np.arange(_BORDER_SAMPLES) + 0.5) / _BORDER_SAMPLES
    zeros = np.zeros_like(s)
    bu = np.concatenate([zeros, s * width, np.full_like(s, width), s * width])
    bv = np.concatenate([s * height, zeros, s * height, np.full_like(s, height)])
    if not u or not sum(len(x) for x in u):
        at = np.full(len(bu), scene.focus)
    else:
        pu, pv, pd = np.concatenate(u), np.concatenate(v), np.concatenate(depth)
        edge = np.minimum(np.minimum(pu, width - pu), np.minimum(pv, height - pv))
        keep = np.argsort(edge)[: max(256, int(np.sum(edge <= 0.02 * max(width, height))))]
        pu, pv, pd = pu[keep], pv[keep], pd[keep]
        nearest = np.argmin((bu[:, None] - pu[None, :]) ** 2 + (bv[:, None] - pv[None, :]) ** 2, axis=1)
        at = pd[nearest]
    x = (bu - cam.cx) / cam.fx * at
    y = -(bv - cam.cy) / cam.fy * at
    return np.stack([x, y, -at, np.ones_like(at)], axis=1)


def zoom_needs(scene: Scene, motion: MotionLike, times: list[float], aspect: float) -> np.ndarray:
    """(len(times),) the zoom each pose needs for its frame (width / height `aspect`) to stay inside
    the photo's border as `border_points` places it: pure arithmetic, no occlusion, for ranking poses.

    A left-border point seen at normalised x (-1 = the frame's left edge) needs the crop's half-width
    1 / zoom to be at most -x: zoom >= -1 / x, and so on for each side; a border that crosses the
    frame's centre needs an infinite zoom.
    """
    points = border_points(scene)
    side = np.repeat(np.arange(4), _BORDER_SAMPLES)  # left, top, right, bottom
    needs = []
    for t in times:
        pose = motion.pose(t)
        camera = points @ (pose.view_matrix() @ np.asarray(pose.object_matrix, dtype=np.float64)).T
        depth = np.maximum(-camera[:, 2], 1e-9)
        half_y = math.tan(pose.fov_y / 2.0)
        x = camera[:, 0] / depth / (half_y * aspect)
        y = camera[:, 1] / depth / half_y
        inward = np.select([side == 0, side == 1, side == 2], [-x, y, x], -y)  # > 0: inside the centre
        with np.errstate(divide="ignore"):
            need = np.where(inward > 0, 1.0 / np.maximum(inward, 1e-12), np.inf)
        needs.append(float(np.max(np.maximum(need, 1.0))))
    return np.array(needs)


def worst_times(
    scene: Scene, motion: MotionLike, aspect: float, count: int = POSES, candidates: int = _CANDIDATES
) -> list[float]:
    """`count` times at which `motion` needs the most zoom (`zoom_needs`), at least
    duration / (2 count) apart, so that several sides and both ends of a sweep are measured."""
    times = [float(t) for t in np.linspace(0.0, motion.duration, candidates)]
    needs = zoom_needs(scene, motion, times, aspect)
    gap = motion.duration / (2 * count)
    chosen: list[float] = []
    for i in np.argsort(-needs, kind="stable"):
        if all(abs(times[i] - t) >= gap - 1e-9 for t in chosen):
            chosen.append(times[i])
        if len(chosen) == count:
            break
    return chosen


class _Crops:
    """Summed-area tables of one measured frame: the `FrameStats` of any crop, at once."""

    def __init__(self, coverage: np.ndarray, flags: np.ndarray) -> None:
        channels = np.dstack([coverage, flags])
        # 32-bit sums while they cannot overflow (a 384 px frame's): half the memory traffic
        dtype = np.int32 if 255 * channels.shape[0] * channels.shape[1] < 2**31 else np.int64
        self.table = np.zeros((channels.shape[0] + 1, channels.shape[1] + 1, 4), dtype)
        self.table[1:, 1:] = channels.cumsum(axis=0, dtype=dtype).cumsum(axis=1, dtype=dtype)

    def stats(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(len(x), 4) uncovered, stretched, revealed, beyond of the crops [x, W - x) x [y, H - y)."""
        t = self.table
        h, w = t.shape[0] - 1, t.shape[1] - 1
        x1, y1 = w - x, h - y
        sums = t[y1, x1] - t[y, x1] - t[y1, x] + t[y, x]
        area = 255.0 * ((x1 - x) * (y1 - y))[:, None]
        share = np.minimum(1.0, sums / area)
        share[:, 0] = np.clip(1.0 - share[:, 0], 0.0, 1.0)
        return share


def _insets(width: int, height: int, zooms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whole-pixel insets (x, y) of the centred crops at `zooms`."""
    x = np.round(0.5 * width * (1.0 - 1.0 / zooms)).astype(int)
    y = np.round(0.5 * height * (1.0 - 1.0 / zooms)).astype(int)
    return np.clip(x, 0, (width - 1) // 2), np.clip(y, 0, (height - 1) // 2)


def _worst(crops: list[_Crops], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(len(x), 4) the worst of `crops` at each inset."""
    return np.max([c.stats(x, y) for c in crops], axis=0)


def fit_overscan(
    scene: Scene,
    motion: MotionLike,
    *,
    aspect: float,
    zoom: float | None = None,
    maximum: float = MAX_ZOOM,
    threshold: float = MAX_BEYOND,
    extra_times: list[float] | tuple[float, ...] = (),
    size: int = SIZE,
    backend: str = "egl",
) -> OverscanFit:
    """The zoom for `motion` filmed in frames of width / height `aspect` (see the module docstring),
    or, with `zoom` given, what that zoom shows.

    The poses measured are `worst_times` (for an automatic zoom) and `extra_times`; each is drawn
    once at `size` pixels (long side) at zoom 1.
    """
    start = time.perf_counter()
    times = sorted({*(worst_times(scene, motion, aspect) if zoom is None else ()), *extra_times})
    if not times:
        times = [0.0]
    width = size if aspect >= 1.0 else max(16, round(size * aspect))
    height = max(16, round(size / aspect)) if aspect >= 1.0 else size
    crops = []
    with GLRenderer(scene, width, height, supersample=1, backend=backend, mipmaps=False) as renderer:
        for t in times:
            crops.append(_Crops(*renderer.measure_pixels(motion.pose(t))))
    long_side = max(width, height)
    if zoom is None:
        steps = np.arange(0, int(0.5 * long_side * (1.0 - 1.0 / maximum)) + 1)
        zooms = long_side / (long_side - 2.0 * steps)
        x, y = _insets(width, height, zooms)
        stats = _worst(crops, x, y)
        beyond = stats[:, 3] + stats[:, 0]  # the margin, and the empty space past it
        target = beyond[-1] + threshold
        best = int(np.argmax(beyond <= target))
        if best > 0:  # one measurement pixel more: what the small render may miss
            best = min(best + 1, len(zooms) - 1)
        chosen, capped = float(zooms[best]), best == len(zooms) - 1
    else:
        chosen, capped = float(zoom), False
    x, y = _insets(width, height, np.array([1.0, max(chosen, 1.0)]))
    unzoomed, zoomed = (Prediction(*map(float, row)) for row in _worst(crops, x, y))
    fit = OverscanFit(
        zoom=chosen,
        prediction=zoomed,
        unzoomed=unzoomed,
        capped=capped,
        times=tuple(times),
        seconds=time.perf_counter() - start,
    )
    log.debug(
        "overscan: zoom %.3f (%s), measured beyond %.3f %% -> %.3f %% at %s s, %.2f s",
        fit.zoom, "auto" if zoom is None else "given", 100 * unzoomed.beyond, 100 * zoomed.beyond,
        ", ".join(f"{t:.2f}" for t in times), fit.seconds,
    )  # fmt: skip
    return fit
