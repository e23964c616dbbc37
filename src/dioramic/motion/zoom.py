"""Overscan: a motion filmed through a longer lens, so that its frames show less beyond the photo.

A move lets the camera see past the photo's frame, where the scene holds only an inpainted margin.
`Zoomed` films the same move with every frame's focal length multiplied by `zoom` (the field of view
narrowed): the camera stands and looks where it did, so each frame is the centre ``1 / zoom`` of the
frame it replaces, enlarged. `dioramic.render.overscan` chooses the zoom for ``--overscan auto``.

    >>> from dioramic.types import Camera, Scene
    >>> from dioramic.motion import make_motion
    >>> scene = Scene((), Camera.from_fov(64, 48, 40.0), near=1.0, far=8.0, focus=2.0)
    >>> motion = Zoomed(make_motion("circle", scene, duration=4.0), 1.25)
    >>> round(math.degrees(motion.pose(0.0).fov_y), 2)
    32.47
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from dioramic.motion.presets import Motion
from dioramic.types import Pose


def zoomed_fov(fov_y: float, zoom: float) -> float:
    """The vertical field of view (radians) of `fov_y` seen through a focal length `zoom` times longer.

    >>> round(math.degrees(zoomed_fov(math.radians(90.0), 2.0)), 3)
    53.13
    """
    return 2.0 * math.atan(math.tan(fov_y / 2.0) / zoom)


@dataclass(frozen=True)
class Zoomed:
    """`motion` with each frame's focal length `zoom` times its own (1 = the motion as it is)."""

    motion: Motion
    """The move."""
    zoom: float
    """Focal length factor, >= 1 for an overscan (a number < 1 widens the view)."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.zoom) and self.zoom > 0):
            raise ValueError(f"the zoom must be a positive number, got {self.zoom}")

    @property
    def duration(self) -> float:
        return self.motion.duration

    @property
    def timing(self) -> Any:
        """The motion's `Timing` (easing, loop) where it has one (presets), else None."""
        return getattr(self.motion, "timing", None)

    def pose(self, t: float) -> Pose:
        pose = self.motion.pose(t)
        if self.zoom == 1.0:
            return pose
        return replace(pose, fov_y=zoomed_fov(pose.fov_y, self.zoom))


def with_zoom(motion: Motion, zoom: float) -> Motion:
    """`motion` filmed at `zoom` (see `Zoomed`); the motion itself for a zoom of 1.

    >>> from dioramic.types import Camera, Scene
    >>> from dioramic.motion import make_motion
    >>> scene = Scene((), Camera.from_fov(64, 48, 40.0), near=1.0, far=8.0, focus=2.0)
    >>> circle = make_motion("circle", scene, duration=4.0)
    >>> with_zoom(circle, 1.0) is circle, with_zoom(circle, 1.1).zoom
    (True, 1.1)
    """
    base = motion.motion if isinstance(motion, Zoomed) else motion
    zoom = zoom * (motion.zoom if isinstance(motion, Zoomed) else 1.0)
    return base if zoom == 1.0 else Zoomed(base, zoom)


def frames_itself(motion: Motion) -> bool:
    """Whether `motion` sets its own field of view (a timeline file that gives `fov`): such a move
    keeps its framing under ``--overscan auto``."""
    base = motion.motion if isinstance(motion, Zoomed) else motion
    return bool(getattr(base, "sets_fov", False))
