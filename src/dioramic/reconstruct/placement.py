"""Placing the reconstruction in the scene's coordinates (`dioramic.types`): the default camera is one of
the input views, the model's centre lies in front of it, and the views' circle gives the spin.

* Reference view (`choose_reference`): among the views standing near the middle of the camera
  trajectory (within `CENTRAL_SPREAD` of its extent from the most central one), the sharpest. On a ring
  around an object every view is as central as the others, so the sharpest wins; along an arc in front
  of a building, one near the middle.
* Centre (`model_centre`): the point closest to all the views' optical axes (what the photographer
  aimed at), when the axes converge in front of the cameras and near the sparse points; else the
  median of the sparse points.
* Up axis (`model_axis`): the normal of the plane of the camera centres when they spread around it (a
  ring), oriented like the cameras' mean up direction, or, when that direction is undecided (photos
  rotated every which way), towards the side where the cameras stand; when the centres lie along a
  line, the cameras' mean up direction.
* Scale: photos carry no absolute scale, so the model is scaled to put the views `NOMINAL_DISTANCE`
  metres from the centre on average.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dioramic.reconstruct.model import View
from dioramic.types import Pose, ViewCircle

log = logging.getLogger(__name__)

NOMINAL_DISTANCE = 1.0
"""Mean distance (metres) of the input views from the model's centre in the scene."""
CENTRAL_SPREAD = 0.15
"""Views this close (fraction of the trajectory's extent) to the most central one count as central."""
_CV_TO_GL = np.diag([1.0, -1.0, -1.0])  # camera axes: x right, y down, z ahead -> x right, y up, z back


@dataclass(frozen=True)
class Placement:
    """A similarity ``x -> scale * rotation @ x + translation`` from the reconstruction's world to the
    scene, with what the scene needs to know about the views."""

    scale: float
    rotation: np.ndarray
    """(3, 3) float64."""
    translation: np.ndarray
    """(3,) float64."""
    reference: int
    """Index of the view whose camera is the scene's (at the origin, looking down -Z)."""
    views: ViewCircle
    """The circle the views stood on, scene coordinates."""
    focus: float
    """Depth of the model's centre seen from the reference view, metres (> 0)."""

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 3) scene points."""
        return self.scale * np.asarray(points, dtype=np.float64) @ self.rotation.T + self.translation

    def to_world(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) scene points -> (N, 3) world points (the inverse of `apply`)."""
        return (np.asarray(points, dtype=np.float64) - self.translation) @ self.rotation / self.scale

    def pose(self, view: View) -> Pose:
        """Where `view`'s camera stands in the scene, as a `Pose` (its vertical field of view)."""
        world_from_camera = self.rotation @ view.rotation.T @ _CV_TO_GL
        return Pose(self.apply(view.centre[None])[0], world_from_camera, view.camera.fov_y)


def choose_reference(views: Sequence[View], candidates: Sequence[int]) -> int:
    """The index (among `candidates`) of the sharpest view near the middle of the trajectory."""
    from dioramic.reconstruct.inputs import sharpness

    centres = np.array([views[i].centre for i in candidates])
    offsets = np.linalg.norm(centres - centres.mean(axis=0), axis=1)
    extent = max(float(np.ptp(centres, axis=0).max()), 1e-12)
    central = [
        i for i, d in zip(candidates, offsets, strict=True) if d <= offsets.min() + CENTRAL_SPREAD * extent
    ]
    return max(central, key=lambda i: sharpness(views[i].image))


def model_centre(views: Sequence[View], points: np.ndarray) -> np.ndarray:
    """(3,) the point nearest to every view's optical axis (least squares), or the sparse points'
    median where the axes do not meet in front of the views, inside the points' bulk."""
    median = np.median(points, axis=0)
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for view in views:
        d = view.rotation[2]
        m = np.eye(3) - np.outer(d, d)
        a += m
        b += m @ view.centre
    eigen = np.linalg.eigvalsh(a)
    if eigen[0] < 0.05 * eigen[-1]:  # the axes are (nearly) parallel: they meet nowhere
        return median
    centre = np.linalg.solve(a, b)
    ahead = np.mean([float(v.rotation[2] @ (centre - v.centre)) > 0 for v in views])
    lo, hi = np.percentile(points, [5, 95], axis=0)
    margin = 0.25 * (hi - lo)
    inside = bool(((centre >= lo - margin) & (centre <= hi + margin)).all())
    return centre if ahead >= 0.75 and inside else median


def model_axis(views: Sequence[View], centre: np.ndarray) -> np.ndarray:
    """(3,) unit up axis of the model (see the module docstring)."""
    ups = np.array([-v.rotation[1] for v in views])  # camera y points down
    mean_up = ups.mean(axis=0)
    agreed = float(np.linalg.norm(mean_up)) > 0.3
    centres = np.array([v.centre for v in views])
    spread = np.linalg.svd(centres - centres.mean(axis=0), compute_uv=False) if len(views) >= 3 else None
    if spread is not None and spread[1] > 0.3 * spread[0] and spread[2] < 0.5 * spread[1]:
        normal = np.linalg.svd(centres - centres.mean(axis=0))[2][2]
        if agreed:
            sign = np.sign(normal @ mean_up) or 1.0
        else:
            sign = np.sign(float(np.mean((centres - centre) @ normal))) or 1.0
        return normal * sign
    if agreed:
        return mean_up / np.linalg.norm(mean_up)
    return ups[0] / np.linalg.norm(ups[0])


def place(views: Sequence[View], points: np.ndarray, candidates: Sequence[int]) -> Placement:
    """Where the scene puts the reconstruction of `views` (all registered) with sparse `points`; the
    reference view is one of the `candidates` (the views that are textured)."""
    reference = choose_reference(views, candidates)
    centre = model_centre(views, points)
    axis = model_axis(views, centre)
    offsets = np.array([v.centre for v in views]) - centre
    heights = offsets @ axis
    radii = np.linalg.norm(offsets - np.outer(heights, axis), axis=1)
    scale = NOMINAL_DISTANCE / max(float(np.linalg.norm(offsets, axis=1).mean()), 1e-12)
    ref = views[reference]
    rotation = _CV_TO_GL @ ref.rotation
    translation = scale * _CV_TO_GL @ ref.translation
    scene_centre = scale * rotation @ centre + translation
    focus = -float(scene_centre[2])
    if not focus > 0.05 * NOMINAL_DISTANCE:  # the centre is not in front of the reference view
        depths = -(scale * points @ rotation.T + translation)[:, 2]
        focus = float(np.median(depths[depths > 0])) if (depths > 0).any() else NOMINAL_DISTANCE
        log.debug("the model's centre is not in front of %s: focus from the points", ref.name)
    circle = ViewCircle(
        centre=scene_centre,
        axis=rotation @ axis,
        radius=max(scale * float(radii.mean()), 1e-6 * NOMINAL_DISTANCE),
        height=scale * float(heights.mean()),
        cameras=scale * np.array([v.centre for v in views]) @ rotation.T + translation,
    )
    return Placement(scale, rotation, translation, reference, circle, focus)


def depth_range(placement: Placement, vertices: np.ndarray) -> tuple[float, float]:
    """(near, far) depths of the scene-space `vertices` seen from the reference camera (robust
    percentiles of those in front of it), for `Scene.near` and `Scene.far`."""
    depths = -vertices[:, 2]
    depths = depths[depths > 0]
    if depths.size == 0:
        return 0.1 * placement.focus, 10.0 * placement.focus
    near = max(float(np.percentile(depths, 0.5)), 0.01 * placement.focus)
    far = max(float(np.percentile(depths, 99.5)), near * (1.0 + 1e-3), placement.focus)
    return near, far
