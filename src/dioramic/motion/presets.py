"""Built-in camera moves, registered by name in `MOTION_PRESETS`.

Every preset is sized by the scene, not in metres: translations are fractions of `scene.focus`, the
distance of the subject at (0, 0, -focus), and rotations are angles about the subject. A preset thus
gives the same angular motion, and the same picture, on a close-up and on a landscape. Defaults are
gentle (lateral moves of about 4 % of the subject distance) because a single photo shows nothing behind
its foreground: the farther the camera moves, the larger the holes it uncovers. `amplitude` scales the
move (1.0 = the default strength, 0 = no move).

Each preset maps progress to a pose. Timing first turns t (seconds) into progress in [0, 1] and eases
it. Closed paths (circle, swing, turntable, still, and spin by whole turns) end where they begin and
always loop seamlessly; the other presets sweep once from start to end, or out and back when `loop` is
true.

`spin` is the one preset sized in turns rather than by the subject distance: a full 360-degree circle
around a model reconstructed from several photos (`Scene.views` says where those photos stood); its
amplitude is the number of turns.

A preset factory is any callable ``factory(scene, *, duration, amplitude, easing, loop) -> Motion``
whose docstring's first line describes it; outside code registers its own the same way::

    @MOTION_PRESETS.register("my-move")
    def my_move(scene, *, duration, amplitude=1.0, easing=None, loop=None):
        '''One line for `dioramic motions`.'''
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from dioramic.errors import UsageError
from dioramic.motion.easing import Easing, get_easing
from dioramic.motion.transforms import look_at, pivot_transform, rotation_y
from dioramic.registry import Registry
from dioramic.types import Pose, Scene

LATERAL = 0.04
"""Circle radius, swing and pan half-range, Ken Burns shift: fraction of the subject distance."""
ORBIT_DEGREES = 3.0
"""Half the orbit's arc about the subject (sin 3 deg = 5 % of the subject distance sideways)."""
TURNTABLE_DEGREES = 3.0
"""How far the turntable turns the model each way about its vertical axis through the subject."""
DOLLY = 0.15
"""Push-in distance: fraction of the subject distance."""
ZOOM = 0.15
"""Focal length increase of the zoom: 0.15 = 15 % longer at the end."""
DOLLY_ZOOM = 0.25
"""Dolly-zoom pull-back: fraction of the subject distance (the focal length grows by the same)."""
KEN_BURNS_ZOOM = 0.12
"""Focal length increase of the Ken Burns move."""
_MIN_FOV, _MAX_FOV = math.radians(1.0), math.radians(170.0)


@runtime_checkable
class Motion(Protocol):
    """A camera and object move: a pure, deterministic function of time."""

    @property
    def duration(self) -> float:
        """Length in seconds."""
        ...

    def pose(self, t: float) -> Pose:
        """The pose at `t` seconds, 0 <= t <= duration (clamped to that range)."""
        ...


class PresetFactory(Protocol):
    """Builds a preset's motion for a scene; its docstring's first line describes the preset."""

    def __call__(
        self,
        scene: Scene,
        *,
        duration: float,
        amplitude: float = 1.0,
        easing: str | None = None,
        loop: bool | None = None,
    ) -> Motion: ...


MOTION_PRESETS: Registry[PresetFactory] = Registry("motion preset")


@dataclass(frozen=True)
class Timing:
    """Turns time into eased progress along a preset's path."""

    duration: float
    """Seconds, > 0."""
    easing: Easing
    loop: bool
    """For an open path: go out and back (progress 0 -> 1 -> 0) so that the end meets the start."""
    closed: bool
    """The path ends where it begins (progress 0 and 1 give the same pose)."""

    def progress(self, t: float) -> float:
        """Eased progress for `t` seconds; t is clamped to [0, duration], a non-finite t is an error."""
        if not math.isfinite(t):
            raise ValueError(f"motion time must be finite, got {t}")
        u = min(1.0, max(0.0, t / self.duration))
        if self.loop and not self.closed:
            u = 1.0 - abs(2.0 * u - 1.0)
        return float(self.easing(u))


@dataclass(frozen=True)
class PresetMotion:
    """Base of the built-in presets: a camera path around the subject at (0, 0, -focus)."""

    timing: Timing
    focus: float
    """Subject distance, metres."""
    fov_y: float
    """The photo's vertical field of view, radians."""

    @property
    def duration(self) -> float:
        return self.timing.duration

    @property
    def subject(self) -> np.ndarray:
        """(3,) float64 the point the camera looks at."""
        return np.array([0.0, 0.0, -self.focus])

    def pose(self, t: float) -> Pose:
        return self.at(self.timing.progress(t))

    def at(self, s: float) -> Pose:
        """The pose at eased progress `s` (0 = start, 1 = end)."""
        return self._looking(np.zeros(3))

    def _looking(self, position: np.ndarray, fov_y: float | None = None) -> Pose:
        return Pose(position, look_at(position, self.subject), self.fov_y if fov_y is None else fov_y)

    def _facing_forward(self, position: np.ndarray, fov_y: float | None = None) -> Pose:
        return Pose(position, np.eye(3), self.fov_y if fov_y is None else fov_y)

    def _zoomed_fov(self, magnification: float) -> float:
        """The vertical field of view for a focal length `magnification` times the photo's."""
        return 2.0 * math.atan(math.tan(self.fov_y / 2.0) / magnification)


@dataclass(frozen=True)
class Still(PresetMotion):
    """The photo's own view."""


@dataclass(frozen=True)
class Circle(PresetMotion):
    radius: float = 0.0
    """Metres; the circle lies in the image plane, centred on the photo's camera."""

    def at(self, s: float) -> Pose:
        phi = 2.0 * math.pi * s
        return self._looking(np.array([self.radius * math.cos(phi), self.radius * math.sin(phi), 0.0]))


@dataclass(frozen=True)
class Swing(PresetMotion):
    half_width: float = 0.0
    """Metres to each side."""

    def at(self, s: float) -> Pose:
        return self._looking(np.array([self.half_width * math.sin(2.0 * math.pi * s), 0.0, 0.0]))


@dataclass(frozen=True)
class Orbit(PresetMotion):
    half_angle: float = 0.0
    """Degrees each side of the photo's view, about the vertical axis through the subject."""

    def at(self, s: float) -> Pose:
        theta = math.radians(self.half_angle * (2.0 * s - 1.0))
        position = self.subject + self.focus * np.array([math.sin(theta), 0.0, math.cos(theta)])
        return self._looking(position)


@dataclass(frozen=True)
class Dolly(PresetMotion):
    distance: float = 0.0
    """Metres towards the subject at the end."""

    def at(self, s: float) -> Pose:
        return self._looking(np.array([0.0, 0.0, -self.distance * s]))


@dataclass(frozen=True)
class Zoom(PresetMotion):
    magnification: float = 1.0
    """Focal length at the end over the photo's."""

    def at(self, s: float) -> Pose:
        return self._looking(np.zeros(3), self._zoomed_fov(1.0 + (self.magnification - 1.0) * s))


@dataclass(frozen=True)
class DollyZoom(PresetMotion):
    distance: float = 0.0
    """Metres the camera backs away from the subject; the focal length grows so the subject keeps its
    size while the background looms."""

    def at(self, s: float) -> Pose:
        back = self.distance * s
        return self._looking(np.array([0.0, 0.0, back]), self._zoomed_fov((self.focus + back) / self.focus))


@dataclass(frozen=True)
class Pan(PresetMotion):
    axis: int = 0
    """0: left to right, 1: bottom to top."""
    half_width: float = 0.0
    """Metres each side of the photo's camera."""

    def at(self, s: float) -> Pose:
        position = np.zeros(3)
        position[self.axis] = self.half_width * (2.0 * s - 1.0)
        return self._facing_forward(position)


@dataclass(frozen=True)
class KenBurns(PresetMotion):
    shift: float = 0.0
    """Metres the camera slides right (and half of it up) by the end."""
    magnification: float = 1.0
    """Focal length at the end over the photo's."""

    def at(self, s: float) -> Pose:
        position = np.array([self.shift * s, 0.5 * self.shift * s, 0.0])
        return self._facing_forward(position, self._zoomed_fov(1.0 + (self.magnification - 1.0) * s))


@dataclass(frozen=True)
class Turntable(PresetMotion):
    half_angle: float = 0.0
    """Degrees the model turns each way about its vertical axis through the subject."""

    def at(self, s: float) -> Pose:
        rotation = rotation_y(self.half_angle * math.sin(2.0 * math.pi * s))
        matrix = pivot_transform(rotation, np.ones(3), np.zeros(3), self.subject)
        return Pose(np.zeros(3), np.eye(3), self.fov_y, matrix)


@dataclass(frozen=True)
class Spin(PresetMotion):
    centre: np.ndarray = field(default_factory=lambda: np.zeros(3))
    """(3,) float64 the pivot: the model's centre."""
    axis: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0, 0.0]))
    """(3,) float64 unit vector the camera turns about."""
    start: np.ndarray = field(default_factory=lambda: np.zeros(3))
    """(3,) float64 the camera's position at the start."""
    start_rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    """(3, 3) float64 the camera's world-from-camera rotation at the start."""
    degrees: float = 360.0
    """How far the camera turns about the axis by the end."""

    def at(self, s: float) -> Pose:
        turn = _rotation_about(self.axis, self.degrees * s)
        return Pose(self.centre + turn @ (self.start - self.centre), turn @ self.start_rotation, self.fov_y)


def _rotation_about(axis: np.ndarray, degrees: float) -> np.ndarray:
    """(3, 3) rotation by `degrees` about the unit vector `axis` (right-handed, Rodrigues)."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    angle = math.radians(degrees)
    return np.eye(3) + math.sin(angle) * k + (1.0 - math.cos(angle)) * (k @ k)


def spin_circle(scene: Scene) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(centre, axis, radius, height) of the circle `spin` follows: the scene's `views` for a
    reconstructed model, else the subject at (0, 0, -focus), +Y, the subject distance and 0."""
    if scene.views is not None:
        v = scene.views
        return v.centre, v.axis, float(v.radius), float(v.height)
    return np.array([0.0, 0.0, -scene.focus]), np.array([0.0, 1.0, 0.0]), float(scene.focus), 0.0


def _base(
    scene: Scene,
    duration: float,
    amplitude: float,
    easing: str | None,
    loop: bool | None,
    *,
    default: str,
    closed: bool = False,
) -> tuple[dict[str, object], float]:
    """Validate the common arguments; the keyword arguments of `PresetMotion` and the amplitude."""
    if not (isinstance(duration, int | float) and math.isfinite(duration) and duration > 0):
        raise UsageError(f"the motion's duration must be a positive number of seconds, got {duration}")
    if not (isinstance(amplitude, int | float) and math.isfinite(amplitude) and amplitude >= 0):
        raise UsageError(f"the motion's amplitude must be a number >= 0, got {amplitude}")
    if not (math.isfinite(scene.focus) and scene.focus > 0):
        raise ValueError(f"the scene's focus distance must be > 0, got {scene.focus}")
    ease = get_easing(easing if easing is not None else default)
    timing = Timing(float(duration), ease, bool(loop), closed)
    return {"timing": timing, "focus": float(scene.focus), "fov_y": scene.camera.fov_y}, float(amplitude)


def _check_fov(name: str, fov: float, amplitude: float) -> None:
    if not _MIN_FOV <= fov <= _MAX_FOV:
        raise UsageError(
            f"amplitude {amplitude:g} is too strong for '{name}': the field of view would reach "
            f"{math.degrees(fov):.2f} degrees (allowed 1 to 170)"
        )


@MOTION_PRESETS.register("circle")
def circle(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """The camera circles in the image plane (radius 4 % of the subject distance), eyes on the subject."""
    common, a = _base(scene, duration, amplitude, easing, loop, default="linear", closed=True)
    return Circle(**common, radius=LATERAL * a * scene.focus)


@MOTION_PRESETS.register("swing")
def swing(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """The camera sways left and right (4 % of the subject distance each way), eyes on the subject."""
    common, a = _base(scene, duration, amplitude, easing, loop, default="linear", closed=True)
    return Swing(**common, half_width=LATERAL * a * scene.focus)


@MOTION_PRESETS.register("dolly")
def dolly(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """The camera pushes in towards the subject by 15 % of its distance."""
    common, a = _base(scene, duration, amplitude, easing, loop, default="ease-in-out")
    if DOLLY * a >= 0.9:
        raise UsageError(f"amplitude {a:g} would push the camera into the subject (dolly allows < 6)")
    return Dolly(**common, distance=DOLLY * a * scene.focus)


@MOTION_PRESETS.register("zoom")
def zoom(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """The camera stays and zooms in: the focal length grows by 15 %."""
    common, a = _base(scene, duration, amplitude, easing, loop, default="ease-in-out")
    motion = Zoom(**common, magnification=1.0 + ZOOM * a)
    _check_fov("zoom", motion.at(1.0).fov_y, a)
    return motion


@MOTION_PRESETS.register("dolly-zoom")
def dolly_zoom(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """Vertigo: the camera backs away while zooming in, so the subject keeps its size."""
    common, a = _base(scene, duration, amplitude, easing, loop, default="ease-in-out")
    motion = DollyZoom(**common, distance=DOLLY_ZOOM * a * scene.focus)
    _check_fov("dolly-zoom", motion.at(1.0).fov_y, a)
    return motion


@MOTION_PRESETS.register("pan-horizontal")
def pan_horizontal(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """The camera slides from left to right (4 % of the subject distance each side), facing ahead."""
    common, a = _base(scene, duration, amplitude, easing, loop, default="ease-in-out")
    return Pan(**common, axis=0, half_width=LATERAL * a * scene.focus)


@MOTION_PRESETS.register("pan-vertical")
def pan_vertical(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """The camera slides from bottom to top (4 % of the subject distance each side), facing ahead."""
    common, a = _base(scene, duration, amplitude, easing, loop, default="ease-in-out")
    return Pan(**common, axis=1, half_width=LATERAL * a * scene.focus)


@MOTION_PRESETS.register("orbit")
def orbit(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """The camera arcs 6 degrees around the subject, from its left to its right."""
    common, a = _base(scene, duration, amplitude, easing, loop, default="ease-in-out")
    return Orbit(**common, half_angle=ORBIT_DEGREES * a)


@MOTION_PRESETS.register("ken-burns")
def ken_burns(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """A slow slide up and to the right with a 12 % zoom, from the photo's own view."""
    common, a = _base(scene, duration, amplitude, easing, loop, default="ease-in-out")
    motion = KenBurns(**common, shift=LATERAL * a * scene.focus, magnification=1.0 + KEN_BURNS_ZOOM * a)
    _check_fov("ken-burns", motion.at(1.0).fov_y, a)
    return motion


@MOTION_PRESETS.register("turntable")
def turntable(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """The model rocks 3 degrees each way about its vertical axis through the subject."""
    common, a = _base(scene, duration, amplitude, easing, loop, default="linear", closed=True)
    return Turntable(**common, half_angle=TURNTABLE_DEGREES * a)


@MOTION_PRESETS.register("still")
def still(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """No move: the photo's own view for the whole duration."""
    common, _ = _base(scene, duration, amplitude, easing, loop, default="linear", closed=True)
    return Still(**common)


@MOTION_PRESETS.register("spin")
def spin(
    scene: Scene,
    *,
    duration: float,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
) -> Motion:
    """The camera circles the model once (360 degrees) at the input views' mean distance and height."""
    closed = _whole_turns(amplitude)
    common, a = _base(scene, duration, amplitude, easing, loop, default="linear", closed=closed)
    centre, axis, radius, height = spin_circle(scene)
    # start where the photo's camera (the origin) stands, moved onto the circle, facing the centre
    # with the photo's own up direction, so that the first frame is close to the photo
    offset = -centre - float(np.dot(-centre, axis)) * axis
    if np.linalg.norm(offset) < 1e-9 * max(1.0, radius):
        offset = np.cross(axis, [1.0, 0.0, 0.0] if abs(axis[0]) < 0.9 else [0.0, 0.0, 1.0])
    start = centre + radius * offset / np.linalg.norm(offset) + height * axis
    return Spin(
        **common,
        centre=centre,
        axis=axis,
        start=start,
        start_rotation=look_at(start, centre),
        degrees=360.0 * a,
    )


def _whole_turns(amplitude: object) -> bool:
    """Whether a spin of `amplitude` turns (1 = one turn) ends where it starts.

    >>> _whole_turns(1.0), _whole_turns(2), _whole_turns(0.5), _whole_turns(0.0)
    (True, True, False, False)
    """
    if not (isinstance(amplitude, int | float) and math.isfinite(amplitude) and amplitude > 0):
        return False
    return math.isclose(amplitude, round(amplitude), abs_tol=1e-9)
