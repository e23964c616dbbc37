"""Sampling a motion into glTF animation channels: the video's camera and object move, frame by frame.

A motion (anything with ``duration`` and ``pose(t) -> Pose``, see `dioramic.motion`) is sampled at the
video's frame times ``t = i / fps``, i = 0 .. n - 1 with ``n = round(duration * fps)``, exactly as the
renderer samples it, plus one closing sample at ``t = n / fps`` (the end of the last frame) so that the
animation lasts as long as the video and a looping player (three.js ``LoopRepeat``) wraps around after
the last frame's full duration, as the video does. Times past the motion's own duration hold its last
pose, like the renderer.

Between two frames a player interpolates (LINEAR: lerp, and slerp for rotations), which matters for
sub-frame sampling (motion blur) and for players running at another rate than the video. Where the
interpolation strays from the motion by more than `tolerance` (an angle: rotations and the field of
view directly, translations as seen from the subject's distance), for instance across a timeline
keyframe or a fast eased turn, the interval is halved, up to `MAX_SUBDIVISIONS` times, so that extra
samples sit between those frames. The frame times themselves are always samples.

Per sample the camera node gets its translation (`Pose.camera_position`) and rotation (the quaternion
of `Pose.camera_rotation`: glTF cameras look down their local -Z with +Y up, like ours), and the
object node "diorama" the translation, rotation and scale of `Pose.object_matrix` (its pivot is
already inside the matrix: ``M = T @ R @ S`` with T holding the pivot's offset). Quaternions are made
sign-continuous (each within 90 degrees of the previous one in 4D), so that LINEAR (slerp) interpolation
and Blender's per-component curves both take the short way between two samples.

`Pose.fov_y` has no glTF node property: when it changes during the motion it is animated through
KHR_animation_pointer on ``/cameras/0/perspective/yfov``, an optional extension (listed in
extensionsUsed, not extensionsRequired). Blender's importer (checked with bpy 5.0.1) turns it into
keyframes of the camera's lens. three.js's GLTFLoader (checked with r187) skips the channel unless the
three-animation-pointer plugin is registered, and other viewers may ignore it too: they keep the first
frame's field of view, so a zoom or dolly-zoom plays without its zoom.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dioramic.errors import UsageError
from dioramic.motion.transforms import quat_from_matrix, slerp
from dioramic.types import Pose

INTERPOLATIONS = ("LINEAR", "STEP")
"""glTF sampler interpolations offered: LINEAR (slerp for rotations) or STEP (hold each frame)."""

FOV_POINTER = "/cameras/{camera}/perspective/yfov"
"""The JSON pointer (KHR_animation_pointer) of the animated camera's vertical field of view."""

_FOV_TOLERANCE = 1e-7
"""Radians: a field of view that varies less is written as constant (no pointer channel)."""

DEFAULT_TOLERANCE = 2.5e-4
"""Radians (0.014 degrees, a quarter of a pixel of a 1080-line video with a 60-degree field of view) by
which interpolation between samples may stray from the motion before an interval is subdivided."""

MAX_SUBDIVISIONS = 3
"""An interval between two frames is halved at most this many times (at most 8 samples a frame)."""

_SHEAR_TOLERANCE = 1e-6
"""Largest residual (relative to the scale) of ``R @ diag(S)`` that a decomposition accepts."""


@dataclass(frozen=True)
class VideoTiming:
    """The video an animated glTF document was sampled for (its animation's extras)."""

    fps: float
    """Frames per second."""
    frame_count: int
    """Frames of the video."""
    width: int
    """Video width, pixels."""
    height: int
    """Video height, pixels."""

    @classmethod
    def from_document(cls, document: dict) -> VideoTiming | None:
        """The timing recorded in a glTF document we wrote, or None when it has none."""
        for animation in document.get("animations", []):
            extras = animation.get("extras", {})
            try:
                return cls(
                    float(extras["fps"]),
                    int(extras["frame_count"]),
                    int(extras["width"]),
                    int(extras["height"]),
                )
            except (KeyError, TypeError, ValueError):
                continue
        return None


class MotionLike(Protocol):
    """What sampling needs from a motion: its length and a pose for every instant."""

    @property
    def duration(self) -> float: ...

    def pose(self, t: float) -> Pose: ...


@dataclass(frozen=True)
class AnimationSamples:
    """A motion sampled at a video's frame times (see the module docstring)."""

    fps: float
    """Frames per second of the video."""
    frame_count: int
    """Frames of the video, n = round(duration * fps)."""
    times: np.ndarray
    """(S,) float64 seconds, increasing: every i / fps for i = 0 .. n, and any extra samples between
    frames (S >= n + 1). The arrays below have one row per sample."""
    camera_translation: np.ndarray
    """(S, 3) float64 camera centre, metres."""
    camera_rotation: np.ndarray
    """(S, 4) float64 world-from-camera unit quaternions (x, y, z, w), sign-continuous."""
    fov_y: np.ndarray
    """(S,) float64 vertical field of view, radians."""
    object_translation: np.ndarray
    """(S, 3) float64 translation of the object node, metres."""
    object_rotation: np.ndarray
    """(S, 4) float64 unit quaternions (x, y, z, w) of the object node, sign-continuous."""
    object_scale: np.ndarray
    """(S, 3) float64 scale factors of the object node."""

    @property
    def duration(self) -> float:
        """Seconds the animation lasts (n / fps, the video's length)."""
        return float(self.times[-1])

    @property
    def is_frame(self) -> np.ndarray:
        """(S,) bool: which samples are at frame times i / fps."""
        frames = self.times * self.fps
        return np.abs(frames - np.round(frames)) < 1e-9 * max(1.0, float(frames[-1]))

    @property
    def fov_varies(self) -> bool:
        """Whether the field of view changes (and needs KHR_animation_pointer)."""
        return bool(np.ptp(self.fov_y) > _FOV_TOLERANCE)


def decompose_trs(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split a (4, 4) affine matrix into glTF's translation (3,), rotation (4,) xyzw and scale (3,).

    ``matrix == T @ R @ S`` (glTF's node transform order). A mirroring matrix (negative determinant)
    gets a negative x scale. Raises UsageError when the matrix is not affine or has shear, which glTF's
    TRS cannot hold.

    >>> m = np.diag([2.0, 2.0, 2.0, 1.0]); m[:3, 3] = [1.0, 0.0, -3.0]
    >>> [a.tolist() for a in decompose_trs(m)]
    [[1.0, 0.0, -3.0], [0.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0]]
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)) or not np.allclose(m[3], [0.0, 0.0, 0.0, 1.0]):
        raise UsageError("the motion's object matrix must be a finite (4, 4) affine transform")
    linear = m[:3, :3]
    scale = np.linalg.norm(linear, axis=0)
    if not np.all(scale > 1e-12):
        raise UsageError("the motion's object matrix collapses an axis (zero scale): glTF cannot hold it")
    if np.linalg.det(linear) < 0.0:
        scale[0] = -scale[0]
    rotation = linear / scale
    u, _, vt = np.linalg.svd(rotation)
    rotation = u @ vt  # the nearest rotation; equal to `linear / scale` when there is no shear
    residual = float(np.abs(rotation * scale - linear).max())
    if residual > _SHEAR_TOLERANCE * float(np.abs(scale).max()):
        raise UsageError(
            "the motion's object matrix has shear, which glTF's translation/rotation/scale cannot hold"
        )
    return m[:3, 3].copy(), quat_from_matrix(rotation), scale


def _continuous(quaternions: np.ndarray) -> np.ndarray:
    """Flip signs so that consecutive (N, 4) quaternions have a non-negative dot product."""
    out = quaternions.copy()
    for i in range(1, len(out)):
        if float(out[i] @ out[i - 1]) < 0.0:
            out[i] = -out[i]
    return out


def frame_count(duration: float, fps: float) -> int:
    """Frames of a video `duration` seconds long at `fps` (as the renderer counts them)."""
    return round(duration * fps)


@dataclass(frozen=True)
class _Sample:
    """One pose as glTF node values."""

    camera_translation: np.ndarray
    camera_rotation: np.ndarray
    fov_y: float
    object_translation: np.ndarray
    object_rotation: np.ndarray
    object_scale: np.ndarray

    @classmethod
    def of(cls, pose: Pose) -> _Sample:
        translation, rotation, scale = decompose_trs(pose.object_matrix)
        return cls(
            np.asarray(pose.camera_position, dtype=np.float64),
            quat_from_matrix(pose.camera_rotation),
            float(pose.fov_y),
            translation,
            rotation,
            scale,
        )


def _angle(q0: np.ndarray, q1: np.ndarray) -> float:
    """Radians between the rotations of two unit quaternions."""
    return 2.0 * math.acos(min(1.0, abs(float(q0 @ q1))))


def _midpoint_error(a: _Sample, b: _Sample, mid: _Sample, distance: float) -> float:
    """How far (as an angle, radians) the halfway interpolation of `a` and `b` is from `mid`."""

    def gap(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> float:
        return float(np.abs(0.5 * (x + y) - z).max())

    return max(
        _angle(slerp(a.camera_rotation, b.camera_rotation, 0.5), mid.camera_rotation),
        _angle(slerp(a.object_rotation, b.object_rotation, 0.5), mid.object_rotation),
        abs(0.5 * (a.fov_y + b.fov_y) - mid.fov_y),
        gap(a.camera_translation, b.camera_translation, mid.camera_translation) / distance,
        gap(a.object_translation, b.object_translation, mid.object_translation) / distance,
        gap(a.object_scale, b.object_scale, mid.object_scale),
    )


def sample_motion(
    motion: MotionLike,
    fps: float,
    duration: float | None = None,
    *,
    distance: float = 1.0,
    tolerance: float = DEFAULT_TOLERANCE,
) -> AnimationSamples:
    """Sample `motion` at the frame times of a video at `fps` lasting `duration` (default: the motion's).

    `distance` (metres, the subject's distance `scene.focus`) turns translation errors into angles for
    `tolerance` (radians); see the module docstring. Raises UsageError for a non-positive fps or
    duration, or a video shorter than one frame.
    """
    if not (math.isfinite(fps) and 0.0 < fps <= 240.0):
        raise UsageError(f"fps must be within (0, 240], got {fps}")
    length = float(motion.duration if duration is None else duration)
    if not (math.isfinite(length) and length > 0.0):
        raise UsageError(f"the animation's duration must be a positive number of seconds, got {length}")
    n = frame_count(length, fps)
    if n < 1:
        raise UsageError(f"{length} s at {fps} fps is less than one frame")
    end = float(motion.duration)

    def at(t: float) -> _Sample:
        return _Sample.of(motion.pose(min(t, end)))

    def refine(t0: float, s0: _Sample, t1: float, s1: _Sample, depth: int) -> list[tuple[float, _Sample]]:
        """Samples strictly between t0 and t1 that interpolation needs."""
        if depth == 0:
            return []
        tm = 0.5 * (t0 + t1)
        sm = at(tm)
        if _midpoint_error(s0, s1, sm, distance) <= tolerance:
            return []
        return [*refine(t0, s0, tm, sm, depth - 1), (tm, sm), *refine(tm, sm, t1, s1, depth - 1)]

    frames = [(i / fps, at(i / fps)) for i in range(n + 1)]
    samples = [frames[0]]
    for (t0, s0), (t1, s1) in itertools.pairwise(frames):
        samples += [*refine(t0, s0, t1, s1, MAX_SUBDIVISIONS), (t1, s1)]
    values = [s for _, s in samples]
    return AnimationSamples(
        fps=float(fps),
        frame_count=n,
        times=np.array([t for t, _ in samples]),
        camera_translation=np.array([v.camera_translation for v in values]),
        camera_rotation=_continuous(np.array([v.camera_rotation for v in values])),
        fov_y=np.array([v.fov_y for v in values]),
        object_translation=np.array([v.object_translation for v in values]),
        object_rotation=_continuous(np.array([v.object_rotation for v in values])),
        object_scale=np.array([v.object_scale for v in values]),
    )


AddAccessor = Callable[[np.ndarray, str, bool], int]
"""``add(values, kind, bounds) -> accessor index``: stores an (N, k) float32 array as a glTF accessor
of type `kind` ('SCALAR', 'VEC3', 'VEC4'), with min/max when `bounds`."""


def node_series(samples: AnimationSamples, camera: bool) -> dict[str, np.ndarray]:
    """The camera's (or the object's) animated glTF node properties: (S, 3 or 4) float64 each."""
    if camera:
        return {"translation": samples.camera_translation, "rotation": samples.camera_rotation}
    return {
        "translation": samples.object_translation,
        "rotation": samples.object_rotation,
        "scale": samples.object_scale,
    }


def animation_json(
    samples: AnimationSamples,
    add_accessor: AddAccessor,
    object_node: int,
    camera_node: int,
    interpolation: str,
    size: tuple[int, int],
    camera: int = 0,
) -> dict:
    """The glTF animation "dioramic motion" of `samples` (one shared time input, one sampler per
    property), storing its data through `add_accessor`; extras record fps, frame_count and `size`."""
    time_input = add_accessor(samples.times.astype(np.float32).reshape(-1, 1), "SCALAR", True)
    channels: list[dict] = []
    samplers: list[dict] = []

    def channel(values: np.ndarray, kind: str, target: dict) -> None:
        output = add_accessor(values.astype(np.float32), kind, False)
        samplers.append({"input": time_input, "output": output, "interpolation": interpolation})
        channels.append({"sampler": len(samplers) - 1, "target": target})

    kinds = {"translation": "VEC3", "rotation": "VEC4", "scale": "VEC3"}
    for node, is_camera in ((camera_node, True), (object_node, False)):
        for name, values in node_series(samples, camera=is_camera).items():
            channel(values, kinds[name], {"node": node, "path": name})
    if samples.fov_varies:
        pointer = {"KHR_animation_pointer": {"pointer": FOV_POINTER.format(camera=camera)}}
        channel(samples.fov_y.reshape(-1, 1), "SCALAR", {"path": "pointer", "extensions": pointer})
    return {
        "name": "dioramic motion",
        "channels": channels,
        "samplers": samplers,
        "extras": {
            "fps": samples.fps,
            "frame_count": samples.frame_count,
            "width": int(size[0]),
            "height": int(size[1]),
        },
    }
