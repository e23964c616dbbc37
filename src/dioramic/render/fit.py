"""Artifact-aware motion: the strongest amplitude whose frames stay free of holes and smears.

A single photo shows nothing beyond what its layers rebuilt, so a move that is too strong uncovers
empty space (holes) or stretches surfaces across depth edges (smears). `predict` renders a few poses
of a motion at a low resolution and measures both (`FrameStats`); `fit_amplitude` bisects on the
motion's amplitude, before the video is rendered, until the prediction stays within `ArtifactLimits`.

    >>> make = lambda a: make_motion("circle", scene, duration=5, amplitude=a)  # doctest: +SKIP
    >>> fit = fit_amplitude(scene, make)  # doctest: +SKIP
    >>> fit.amplitude  # doctest: +SKIP
    0.8125
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dioramic.errors import UsageError
from dioramic.render import MotionLike
from dioramic.render.opengl import FrameStats, GLRenderer
from dioramic.types import Pose, Scene

__all__ = ["ArtifactLimits", "FitResult", "Prediction", "extreme_times", "fit_amplitude", "predict"]

log = logging.getLogger(__name__)

MAX_UNCOVERED = 0.001
"""Default per-frame limit on uncovered pixels: 0.1 % of the frame."""
MAX_STRETCHED = 0.01
"""Default per-frame limit on pixels stretched more than 4x (`STRETCH_LIMIT`): 1 % of the frame (a
surface seen edge-on; the layered scene has no sheet across a depth edge to stretch)."""
MAX_REVEALED = 0.08
"""Default per-frame limit on what the scene rebuilt behind its depth edges (its hidden layers):
8 % of the frame. Thin strips of it read as background; a move that opens wide ones shows the fill
for what it is (smooth, textureless)."""
MAX_BEYOND = 0.15
"""Default per-frame limit on the scene's margin beyond the photo's frame: 15 % of the frame (the
gentle presets show 5 to 7 % at their default amplitude, at the frame's edges)."""


@dataclass(frozen=True)
class ArtifactLimits:
    """Per-frame bounds that a motion's frames must keep."""

    uncovered: float = MAX_UNCOVERED
    """Largest fraction of a frame that no geometry covers."""
    stretched: float = MAX_STRETCHED
    """Largest fraction of a frame drawn from surfaces stretched more than `STRETCH_LIMIT`."""
    revealed: float = MAX_REVEALED
    """Largest fraction of a frame showing the scene's hidden layers (rebuilt, not photographed)."""
    beyond: float = MAX_BEYOND
    """Largest fraction of a frame showing the margin beyond the photo's frame."""


@dataclass(frozen=True)
class Prediction:
    """The worst sampled frame of a motion, rendered at low resolution."""

    uncovered: float
    """Largest uncovered fraction among the sampled poses."""
    stretched: float
    """Largest stretched fraction among the sampled poses."""
    revealed: float = 0.0
    """Largest fraction showing hidden layers among the sampled poses."""
    beyond: float = 0.0
    """Largest fraction showing the margin beyond the photo among the sampled poses."""

    def within(self, limits: ArtifactLimits) -> bool:
        return (
            self.uncovered <= limits.uncovered
            and self.stretched <= limits.stretched
            and self.revealed <= limits.revealed
            and self.beyond <= limits.beyond
        )

    def worse(self, stats: FrameStats) -> Prediction:
        """The worst of this and one more frame's `stats`."""
        return Prediction(
            max(self.uncovered, stats.uncovered),
            max(self.stretched, stats.stretched),
            max(self.revealed, stats.revealed),
            max(self.beyond, stats.beyond),
        )

    def describe(self) -> str:
        """The numbers as a user reads them."""
        return (
            f"{100 * self.uncovered:.2f} % of a frame uncovered, {100 * self.stretched:.2f} % stretched, "
            f"{100 * self.revealed:.1f} % rebuilt behind depth edges, {100 * self.beyond:.1f} % beyond "
            "the photo's frame"
        )


@dataclass(frozen=True)
class FitResult:
    """The amplitude `fit_amplitude` chose, and what it predicts there."""

    amplitude: float
    """The chosen amplitude (<= the maximum asked for)."""
    prediction: Prediction
    """Predicted worst frame at that amplitude."""
    within_limits: bool
    """False when every amplitude tried exceeded the limits: the amplitude is then 0 (no move), or,
    with ``iterations=0``, the one asked for, with its prediction."""
    evaluations: int
    """Amplitudes tried."""
    seconds: float
    """Wall-clock time of the fit."""


def _probe_points(scene: Scene) -> np.ndarray:
    """(27, 4) homogeneous points: a 3 x 3 grid over the photo's frame at the near, subject and far
    depths, unprojected through the photo's camera."""
    cam = scene.camera
    points = []
    for depth in (scene.near, scene.focus, scene.far):
        for v in (0.0, 0.5 * cam.height, cam.height):
            for u in (0.0, 0.5 * cam.width, cam.width):
                points.append([(u - cam.cx) / cam.fx * depth, -(v - cam.cy) / cam.fy * depth, -depth, 1.0])
    return np.array(points)


def _image_of(points: np.ndarray, pose: Pose, aspect: float) -> np.ndarray:
    """(2 * len(points),) normalised image coordinates of `points` seen from `pose`."""
    camera = np.einsum("ij,nj->ni", pose.view_matrix() @ np.asarray(pose.object_matrix), points)
    depth = np.maximum(-camera[:, 2], 1e-6)
    scale = 1.0 / math.tan(pose.fov_y / 2.0)
    return np.concatenate([camera[:, 0] / depth * scale / aspect, camera[:, 1] / depth * scale])


def extreme_times(scene: Scene, motion: MotionLike, count: int = 3, candidates: int = 25) -> list[float]:
    """`count` times at which `motion` departs most, and most differently, from the photo's view.

    Probe points of the scene are projected from `candidates` evenly spaced poses; the first time
    chosen moves them farthest from where the photo shows them, each next one farthest from the
    times already chosen (farthest-point sampling), so that both ends of a sweep and several
    directions of a circle are tried. Pure arithmetic: no rendering.
    """
    points = _probe_points(scene)
    aspect = scene.camera.aspect
    identity = Pose(np.zeros(3), np.eye(3), scene.camera.fov_y)
    origin = _image_of(points, identity, aspect)
    times = [float(t) for t in np.linspace(0.0, motion.duration, candidates)]
    shifts = np.array([_image_of(points, motion.pose(t), aspect) - origin for t in times])
    chosen = [int(np.argmax(np.linalg.norm(shifts, axis=1)))]
    distance = np.linalg.norm(shifts - shifts[chosen[0]], axis=1)
    while len(chosen) < min(count, candidates) and distance.max() > 1e-9:
        chosen.append(int(np.argmax(distance)))
        distance = np.minimum(distance, np.linalg.norm(shifts - shifts[chosen[-1]], axis=1))
    return [times[i] for i in chosen]


def predict(
    renderer: GLRenderer, motion: MotionLike, times: list[float], limits: ArtifactLimits | None = None
) -> Prediction:
    """The worst of the frames of `motion` at `times` drawn by `renderer`.

    With `limits`, stops at the first pose beyond them (the prediction then holds that pose's values).
    """
    worst = Prediction(0.0, 0.0)
    for t in times:
        stats = renderer.measure(motion.pose(t))
        worst = worst.worse(stats)
        if limits is not None and not worst.within(limits):
            break
    return worst


def fit_amplitude(
    scene: Scene,
    make: Callable[[float], MotionLike],
    limits: ArtifactLimits | None = None,
    *,
    maximum: float = 1.0,
    size: int = 256,
    samples: int = 3,
    iterations: int = 3,
    backend: str = "egl",
) -> FitResult:
    """The largest amplitude in [0, `maximum`] whose sampled frames keep within `limits`.

    Parameters
    ----------
    scene
        The scene the motion films.
    make
        Builds the motion for an amplitude (e.g. ``lambda a: make_motion(name, scene, ..., amplitude=a)``).
    limits
        Per-frame bounds (default `ArtifactLimits()`: 0.1 % uncovered, 1 % stretched).
    maximum
        The amplitude tried first; kept when it is within the limits.
    size
        Long side in pixels of the test renders (no supersampling).
    samples
        Poses tried per amplitude: the motion's most extreme ones (`extreme_times`, found once at
        `maximum`).
    iterations
        Bisection steps after `maximum` fails (the answer is within maximum / 2**iterations below the
        true limit).

    Amplitude 0 is assumed safe (the photo's own view); artifacts are assumed to grow with the
    amplitude. Each render costs about as much as a video frame's (the triangle count dominates on a
    CPU): at most samples * (1 + iterations) of them (bench/artifacts.py prints the time).
    """
    if not (math.isfinite(maximum) and maximum >= 0):
        raise UsageError(f"the largest amplitude must be a number >= 0, got {maximum}")
    limits = limits or ArtifactLimits()
    start = time.perf_counter()
    cam = scene.camera
    scale = size / max(cam.width, cam.height)
    width, height = max(16, round(cam.width * scale)), max(16, round(cam.height * scale))
    evaluations = 0
    times = extreme_times(scene, make(maximum), samples)
    with GLRenderer(scene, width, height, supersample=1, backend=backend, mipmaps=False) as renderer:

        def check(amplitude: float) -> Prediction:
            nonlocal evaluations
            evaluations += 1
            # bisecting, a pose past the limits settles it; judging one amplitude, all poses count
            return predict(renderer, make(amplitude), times, limits if iterations else None)

        best, prediction = maximum, check(maximum)
        ok = prediction.within(limits)
        if not ok and iterations > 0:
            lo, hi = 0.0, maximum
            best, prediction = 0.0, Prediction(0.0, 0.0)  # the photo's own view
            for _ in range(iterations):
                mid = 0.5 * (lo + hi)
                candidate = check(mid)
                if candidate.within(limits):
                    lo, best, prediction = mid, mid, candidate
                else:
                    hi = mid
            ok = best > 0.0
    seconds = time.perf_counter() - start
    return FitResult(best, prediction, ok, evaluations, seconds)
