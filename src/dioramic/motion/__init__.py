"""Camera and object moves: presets, easing, keyframe timeline files.

A motion is any object with ``duration`` (seconds) and ``pose(t) -> Pose`` for 0 <= t <= duration: a
pure, deterministic function of time that knows nothing of rendering. The renderer samples it at
``t = i / fps``; the glTF exporter samples the same object for its animation.

    >>> from dioramic.types import Camera, Scene
    >>> scene = Scene((), Camera.from_fov(64, 48, 40.0), near=1.0, far=8.0, focus=2.0)
    >>> motion = make_motion("circle", scene, duration=4.0)
    >>> motion.pose(0.0).camera_position.round(3).tolist()
    [0.08, 0.0, 0.0]
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from dioramic.errors import UsageError
from dioramic.motion import capture as _capture  # noqa: F401 - registers the 'capture' preset
from dioramic.motion.easing import EASINGS, CubicBezier, Easing, easing_names, get_easing
from dioramic.motion.presets import MOTION_PRESETS, Motion, PresetFactory
from dioramic.motion.timeline import TIMELINE_SUFFIXES, Timeline, load_timeline, parse_timeline
from dioramic.types import Scene

__all__ = [
    "DEFAULT_MOTION",
    "EASINGS",
    "MODEL_PRESETS",
    "MOTION_PRESETS",
    "TIMELINE_SUFFIXES",
    "CubicBezier",
    "Easing",
    "Motion",
    "PresetFactory",
    "Timeline",
    "describe_motions",
    "easing_names",
    "get_easing",
    "is_timeline_file",
    "load_timeline",
    "make_motion",
    "motion_reach",
    "parse_timeline",
    "photo_presets",
    "presets_reach",
]

log = logging.getLogger(__name__)

DEFAULT_MOTION = "circle"
"""The move `dioramic run` makes unless told otherwise: a small circle that suits any photo."""
MODEL_PRESETS = frozenset({"spin", "capture"})
"""Presets made for models reconstructed from several photos (a full turn, the photos' path)."""


def photo_presets() -> list[str]:
    """The presets that film a scene built from one photo: every registered one but `MODEL_PRESETS`."""
    return [name for name in MOTION_PRESETS.names() if name not in MODEL_PRESETS]


def is_timeline_file(spec: str | Path) -> bool:
    """Whether `spec` names a timeline file (by its suffix) rather than a preset."""
    return Path(spec).suffix.lower() in TIMELINE_SUFFIXES


def make_motion(
    spec: str | Path,
    scene: Scene,
    *,
    duration: float,
    amplitude: float | None = None,
    easing: str | None = None,
    loop: bool | None = None,
    fps: float | None = None,
) -> Motion:
    """The motion named by `spec`: a preset name, or the path of a timeline file (.yaml, .yml, .json).

    `amplitude` scales the move (None: 1.0, the preset's default strength), `easing` names an easing
    (None: the preset's or file's default) and `loop` asks for a seamless loop (None: the default).
    A timeline's own keyframe times set its length; `duration` serves a timeline only when the file
    implies none (see `parse_timeline`), and `fps` only for keyframes given in frames without an fps.
    Raises UsageError for an unknown preset or a bad value, InputError for a bad timeline file.
    """
    amplitude = 1.0 if amplitude is None else amplitude
    if not (isinstance(amplitude, int | float) and math.isfinite(amplitude) and amplitude >= 0):
        raise UsageError(f"the motion's amplitude must be a number >= 0, got {amplitude}")
    if not (isinstance(duration, int | float) and math.isfinite(duration) and duration > 0):
        raise UsageError(f"the motion's duration must be a positive number of seconds, got {duration}")
    if easing is not None:
        get_easing(easing)  # an unknown easing is the caller's mistake, whatever the spec
    if isinstance(spec, str) and spec in MOTION_PRESETS:
        factory = MOTION_PRESETS.get(spec)
        return factory(scene, duration=duration, amplitude=amplitude, easing=easing, loop=loop)
    if is_timeline_file(spec):
        timeline = load_timeline(
            spec, scene, duration=duration, amplitude=amplitude, easing=easing, loop=loop, fps=fps
        )
        if not math.isclose(timeline.duration, duration):
            log.debug(
                "timeline %s lasts %.3g s (its own times), not %.3g s", spec, timeline.duration, duration
            )
        return timeline
    raise UsageError(
        f"unknown motion '{spec}': choose a preset ({', '.join(MOTION_PRESETS.names())}) "
        f"or give a timeline file ({', '.join(TIMELINE_SUFFIXES)})"
    )


def describe_motions() -> list[tuple[str, str]]:
    """(name, one-line description) of every registered preset, in registration order."""
    out = []
    for name, factory in MOTION_PRESETS.items():
        doc = (getattr(factory, "__doc__", None) or "").strip()
        out.append((name, doc.splitlines()[0].strip() if doc else ""))
    return out


def motion_reach(motion: Motion, focus: float, samples: int = 97) -> tuple[float, float]:
    """How far `motion` takes the camera from the photo's viewpoint, relative to the scene: the largest
    sideways and the largest forward-or-back displacement, as fractions of `focus` (metres).

    The camera is followed in the scene's own frame (an object rotation counts as the camera moving
    round it) at `samples` evenly spaced times. `dioramic.scene` sizes what it rebuilds behind depth
    edges and beyond the frame from these.

    >>> from dioramic.types import Camera, Scene
    >>> scene = Scene((), Camera.from_fov(64, 48, 40.0), near=1.0, far=8.0, focus=2.0)
    >>> [round(x, 3) for x in motion_reach(make_motion("circle", scene, duration=4.0), 2.0)]
    [0.04, 0.0]
    """
    lateral = axial = 0.0
    for t in np.linspace(0.0, motion.duration, samples):
        pose = motion.pose(float(t))
        to_scene = np.linalg.inv(np.asarray(pose.object_matrix, dtype=np.float64))
        x, y, z = (to_scene @ np.append(pose.camera_position, 1.0))[:3]
        lateral = max(lateral, math.hypot(x, y))
        axial = max(axial, abs(z))
    return lateral / focus, axial / focus


def presets_reach(scene: Scene, amplitude: float = 1.0) -> tuple[float, float]:
    """How far every preset of `photo_presets` takes the camera at `amplitude` (the largest sideways
    and the largest axial reach among them, see `motion_reach`): what a scene must hold to serve any
    of them. A preset that refuses the amplitude (a dolly into the subject) is left out.

    >>> from dioramic.types import Camera, Scene
    >>> scene = Scene((), Camera.from_fov(64, 48, 40.0), near=1.0, far=8.0, focus=2.0)
    >>> [round(x, 3) for x in presets_reach(scene)]  # orbit's sin 3 degrees; dolly-zoom's 25 %
    [0.052, 0.25]
    """
    lateral = axial = 0.0
    for name in photo_presets():
        try:
            motion = make_motion(name, scene, duration=1.0, amplitude=amplitude)
        except UsageError:
            continue
        side, ahead = motion_reach(motion, scene.focus)
        lateral, axial = max(lateral, float(side)), max(axial, float(ahead))
    return lateral, axial
