"""`capture`: the camera move of a reconstruction, chosen from where its photos were taken.

Seen from the model's centre, the photos' cameras stand in some directions around it. The rule:

* **All the way round** (no gap between neighbouring photos wider than `FULL_TURN_GAP` degrees about
  the model's up axis): a full turn, `spin`'s circle at the photos' mean distance and height.
* **Otherwise** (a facade photographed from the front, one side of an object): the camera flies
  along the photographed viewpoints and back, through the smoothed path of the cameras, never past
  the first or the last photo, always looking at the model's centre. The photos are ordered around
  the up axis (or, when they barely turn about it, along their main direction of travel); the path
  interpolates their directions from the centre (spherically) and their distances (geometrically),
  then is smoothed over about one photo's spacing. The camera starts at the photo nearest the scene's
  own camera and sweeps to both ends and back, easing at the ends: the video loops, and each frame
  looks from where a photo was taken or from between two neighbouring ones.

`amplitude` scales the sweep about the middle of the path (1 = the whole path; for a full turn, the
number of turns, as for `spin`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dioramic.errors import UsageError
from dioramic.motion.presets import MOTION_PRESETS, Motion, PresetMotion, _base, spin
from dioramic.motion.transforms import look_at
from dioramic.types import Pose, Scene

FULL_TURN_GAP = 60.0
"""Widest gap (degrees about the up axis) between neighbouring photos for which the photos count as
going all the way round, and the move is a full turn."""
MIN_TURN = 10.0
"""Below this spread about the up axis (degrees) the photos are ordered along their main direction
of travel instead."""
_SAMPLES = 256
"""Points of the smoothed path."""


@dataclass(frozen=True)
class CapturePath(PresetMotion):
    """A sweep along the photos' path (see the module doc), looking at `centre`."""

    centre: np.ndarray = field(default_factory=lambda: np.zeros(3))
    """(3,) float64 the model's centre."""
    axis: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0, 0.0]))
    """(3,) float64 the model's up axis."""
    path: np.ndarray = field(default_factory=lambda: np.zeros((2, 3)))
    """(P, 3) float64 points of the smoothed path, evenly spaced along it."""
    start: float = 0.0
    """Where on the path (0..1) the camera starts: at the photo nearest the scene's camera."""
    span: float = 1.0
    """Fraction (0..1] of the path the sweep covers, centred on its middle."""

    def at(self, s: float) -> Pose:
        middle, half = 0.5, 0.5 * self.span
        phase = math.asin(float(np.clip((self.start - middle) / half, -1.0, 1.0))) if half > 0 else 0.0
        where = middle + half * math.sin(2.0 * math.pi * s + phase)
        position = _along(self.path, where)
        return Pose(position, look_at(position, self.centre, self.axis), self.fov_y)


def _along(path: np.ndarray, where: float) -> np.ndarray:
    """The point at fraction `where` (0..1) of the polyline `path` (evenly spaced points)."""
    x = float(np.clip(where, 0.0, 1.0)) * (len(path) - 1)
    i = min(int(x), len(path) - 2)
    t = x - i
    return (1.0 - t) * path[i] + t * path[i + 1]


def azimuths(cameras: np.ndarray, centre: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(N,) degrees of each camera about `axis` through `centre`, in (-180, 180]."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    offsets = cameras - centre
    return np.degrees(np.arctan2(offsets @ e2, offsets @ e1))


def largest_gap(angles: np.ndarray) -> tuple[float, int]:
    """(width in degrees, index into sorted `angles` of the photo just after it) of the widest gap
    between neighbouring angles around the circle.

    >>> largest_gap(np.array([0.0, 90.0, 100.0]))
    (260.0, 0)
    """
    ordered = np.sort(np.asarray(angles, dtype=np.float64) % 360.0)
    gaps = np.diff(np.concatenate([ordered, ordered[:1] + 360.0]))
    k = int(np.argmax(gaps))
    return float(gaps[k]), (k + 1) % len(ordered)


def goes_round(cameras: np.ndarray, centre: np.ndarray, axis: np.ndarray) -> bool:
    """Whether the cameras surround the model: no gap about the axis wider than `FULL_TURN_GAP`."""
    if len(cameras) < 3:
        return False
    return largest_gap(azimuths(cameras, centre, axis))[0] <= FULL_TURN_GAP


def capture_order(cameras: np.ndarray, centre: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(N,) indices of the cameras in the order the path visits them: around the axis from one side
    of the widest gap to the other, or along their main direction when they barely turn about it."""
    angles = azimuths(cameras, centre, axis)
    gap, after = largest_gap(angles)
    if 360.0 - gap >= MIN_TURN:
        start = np.sort(angles % 360.0)[after]
        return np.argsort((angles - start) % 360.0, kind="stable")
    offsets = cameras - cameras.mean(axis=0)
    direction = np.linalg.svd(offsets, full_matrices=False)[2][0] if len(cameras) > 1 else np.ones(3)
    return np.argsort(offsets @ direction, kind="stable")


def smooth_path(cameras: np.ndarray, centre: np.ndarray, samples: int = _SAMPLES) -> np.ndarray:
    """(samples, 3) points along the ordered `cameras`: directions from `centre` interpolated along
    great circles and distances geometrically, smoothed over about one camera's spacing (the ends
    stay at the first and last camera), evenly spaced."""
    offsets = cameras - centre
    distance = np.maximum(np.linalg.norm(offsets, axis=1), 1e-12)
    direction = offsets / distance[:, None]
    steps = np.arccos(np.clip((direction[1:] * direction[:-1]).sum(axis=1), -1.0, 1.0))
    steps = np.maximum(steps, 1e-9) + 1e-3 * np.abs(np.diff(np.log(distance)))  # distance matters a little
    where = np.concatenate([[0.0], np.cumsum(steps)])
    u = np.linspace(0.0, where[-1], samples)
    k = np.clip(np.searchsorted(where, u, side="right") - 1, 0, len(cameras) - 2)
    t = ((u - where[k]) / np.maximum(where[k + 1] - where[k], 1e-12))[:, None]
    dirs = (1.0 - t) * direction[k] + t * direction[k + 1]  # normalised below (a near-slerp)
    logd = (1.0 - t[:, 0]) * np.log(distance[k]) + t[:, 0] * np.log(distance[k + 1])
    sigma = max(float(np.median(steps)), where[-1] / 50.0) / max(where[-1], 1e-12) * samples
    dirs = _smooth(dirs, sigma)
    logd = _smooth(logd[:, None], sigma)[:, 0]
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    return centre + dirs * np.exp(logd)[:, None]


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of (P, C) `values` along P with odd reflection at the ends (which keeps the
    end points where they are)."""
    if sigma < 0.5 or len(values) < 3:
        return values
    radius = int(min(3.0 * sigma, len(values) - 1))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    head = 2.0 * values[:1] - values[radius:0:-1]
    tail = 2.0 * values[-1:] - values[-2 : -radius - 2 : -1]
    padded = np.concatenate([head, values, tail])
    return np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(values.shape[1])], axis=1)


@MOTION_PRESETS.register("capture")
def capture(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """Along the photos of a reconstruction: a full turn if they go all round, else their arc and back."""
    views = scene.views
    if views is None:
        raise UsageError(
            "'capture' follows the photos of a model reconstructed from several photos "
            "(dioramic reconstruct); this scene comes from one photo: choose another move"
        )
    cameras = views.cameras
    if cameras is None or len(cameras) < 2 or goes_round(cameras, views.centre, views.axis):
        return spin(scene, duration=duration, amplitude=amplitude, easing=easing, loop=loop)
    common, a = _base(scene, duration, amplitude, easing, loop, default="linear", closed=True)
    ordered = cameras[capture_order(cameras, views.centre, views.axis)]
    path = smooth_path(ordered, views.centre)
    origin_nearest = int(np.argmin(np.linalg.norm(path, axis=1)))  # the scene's camera is at the origin
    span = min(1.0, a)
    start = float(np.clip(origin_nearest / (len(path) - 1), 0.5 - 0.5 * span, 0.5 + 0.5 * span))
    return CapturePath(**common, centre=views.centre, axis=views.axis, path=path, start=start, span=span)
