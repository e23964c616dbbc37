"""Keyframe timeline files (YAML or JSON): a camera and object move written by hand.

A file lists keyframes at times (seconds) or frames; each may set the camera (position, look_at or
rotation or quaternion, fov) and the object (rotation or quaternion, scale, translation). A channel a
keyframe leaves out keeps its value from the keyframe before (the first keyframe starts from the
photo's view: camera at the origin looking at the subject, the photo's fov, the object as built).
Between keyframes positions, look-at points, fov (degrees), scale and translation are interpolated
linearly and rotations by quaternion slerp (shortest path), along the segment's easing. The easing a
keyframe names applies to the segment that starts at it, as in CSS. With ``units: relative`` (the
default) 1.0 is the subject distance `scene.focus`, so [0, 0, -1] is the subject and one file suits any
photo; ``units: metres`` takes lengths as they are. docs/motion.md has the full format.

Every problem with a file raises `InputError` naming the file, the line (when known) and the field,
e.g. ``move.yaml line 9: keyframes[2].camera.fov: expected a number, got 'wide'``.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from dioramic.errors import DioramicError, InputError, UsageError
from dioramic.motion.easing import Easing, get_easing
from dioramic.motion.transforms import (
    euler_to_matrix,
    look_at,
    matrix_from_quat,
    pivot_transform,
    quat_from_matrix,
    scale_rotation,
    slerp,
)
from dioramic.types import Pose, Scene

TIMELINE_SUFFIXES = (".yaml", ".yml", ".json")
_MAX_BYTES = 4_000_000
_MAX_NODES = 200_000
_MAX_DEPTH = 64
_MAX_MAGNITUDE = 1e9  # bigger numbers are mistakes, and would overflow when interpolated
_IDENTITY_QUAT = np.array([0.0, 0.0, 0.0, 1.0])
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,40}")
_UNITS = {"relative": "relative", "metres": "metres", "meters": "metres", "m": "metres"}
_TOP_KEYS = ("version", "description", "units", "fps", "duration", "loop", "easing", "pivot", "keyframes")
_KEYFRAME_KEYS = ("time", "frame", "easing", "camera", "object")
_CAMERA_KEYS = ("position", "look_at", "rotation", "quaternion", "fov")
_OBJECT_KEYS = ("rotation", "quaternion", "scale", "translation")

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True, eq=False)
class Keyframe:
    """One resolved keyframe: every channel has a value, in metres and radians."""

    time: float
    """Seconds from the start."""
    position: np.ndarray
    """(3,) float64 camera centre, metres."""
    target: np.ndarray | None
    """(3,) float64 point the camera looks at, metres; None when the keyframe gives a rotation."""
    rotation: np.ndarray
    """(4,) float64 camera quaternion (x, y, z, w), world-from-camera."""
    fov_y: float
    """Vertical field of view, radians."""
    object_rotation: np.ndarray
    """(4,) float64 object quaternion (x, y, z, w) about the pivot."""
    object_scale: np.ndarray
    """(3,) float64 scale factors about the pivot."""
    object_translation: np.ndarray
    """(3,) float64 metres."""
    easing: Easing
    """Easing of the segment from this keyframe to the next."""


@dataclass(frozen=True, eq=False)
class Timeline:
    """A motion read from a timeline file: keyframes interpolated in time."""

    keyframes: tuple[Keyframe, ...]
    """In strictly increasing time; with `loop` the last is a copy of the first at `duration`."""
    duration: float
    """Seconds; after the last keyframe the pose holds."""
    pivot: np.ndarray
    """(3,) float64 point, metres, that object rotations and scales turn about."""
    source: str = "<timeline>"
    sets_fov: bool = False
    """Whether a keyframe gives the field of view: the file frames its shots itself, so
    ``--overscan auto`` leaves them as they are (see `dioramic.motion.zoom`)."""

    def pose(self, t: float) -> Pose:
        """The pose at `t` seconds (clamped to [0, duration])."""
        if not math.isfinite(t):
            raise ValueError(f"motion time must be finite, got {t}")
        t = min(self.duration, max(0.0, t))
        times = [k.time for k in self.keyframes]
        i = bisect.bisect_right(times, t) - 1
        if i < 0:
            return self._at(self.keyframes[0], self.keyframes[0], 0.0)
        if i >= len(self.keyframes) - 1:
            return self._at(self.keyframes[-1], self.keyframes[-1], 0.0)
        k0, k1 = self.keyframes[i], self.keyframes[i + 1]
        return self._at(k0, k1, float(k0.easing((t - k0.time) / (k1.time - k0.time))))

    def _at(self, k0: Keyframe, k1: Keyframe, s: float) -> Pose:
        def lerp(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return a + s * (b - a)

        position = lerp(k0.position, k1.position)
        if k0.target is not None and k1.target is not None:
            rotation = look_at(position, lerp(k0.target, k1.target))
        else:
            rotation = matrix_from_quat(slerp(k0.rotation, k1.rotation, s))
        fov = k0.fov_y + s * (k1.fov_y - k0.fov_y)
        fov = min(math.radians(170.0), max(math.radians(1.0), fov))
        object_matrix = pivot_transform(
            matrix_from_quat(slerp(k0.object_rotation, k1.object_rotation, s)),
            lerp(k0.object_scale, k1.object_scale),
            lerp(k0.object_translation, k1.object_translation),
            self.pivot,
        )
        return Pose(position, rotation, fov, object_matrix)


def load_timeline(
    path: str | Path,
    scene: Scene,
    *,
    duration: float | None = None,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
    fps: float | None = None,
) -> Timeline:
    """Read a timeline file (.yaml, .yml or .json) for `scene`; see `parse_timeline`."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TIMELINE_SUFFIXES:
        raise InputError(f"{path}: a timeline file must end in {', '.join(TIMELINE_SUFFIXES)}")
    try:
        if path.stat().st_size > _MAX_BYTES:
            raise InputError(f"{path}: too large for a timeline file (over {_MAX_BYTES // 1_000_000} MB)")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"timeline file not found: {path}") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not a UTF-8 text file ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise InputError(f"cannot read timeline file {path}: {err.strerror or err}") from None
    fmt: Literal["yaml", "json"] = "json" if suffix == ".json" else "yaml"
    return parse_timeline(
        text, scene, source=str(path), fmt=fmt, duration=duration, amplitude=amplitude, easing=easing,
        loop=loop, fps=fps,
    )  # fmt: skip


def parse_timeline(
    text: str,
    scene: Scene,
    *,
    source: str = "<timeline>",
    fmt: Literal["yaml", "json"] = "yaml",
    duration: float | None = None,
    amplitude: float = 1.0,
    easing: str | None = None,
    loop: bool | None = None,
    fps: float | None = None,
) -> Timeline:
    """A `Timeline` from the text of a timeline file; `source` names the file in error messages.

    The caller's `easing` (the default easing of segments that name none) and `loop` override the
    file's; `fps` serves keyframes given in frames when the file states no fps; `duration` serves only
    when the file implies none (a single keyframe at 0, or a loop without `duration`). `amplitude`
    scales camera positions, object translations and object rotation angles (the move's strength).

    >>> from dioramic.types import Camera, Scene
    >>> scene = Scene((), Camera.from_fov(64, 48, 40.0), near=1.0, far=8.0, focus=2.0)
    >>> tl = parse_timeline('{"keyframes": [{"time": 0}, {"time": 2, "camera": {"position": [0.1, 0, 0]}}]}',
    ...                     scene, fmt="json")
    >>> tl.duration, tl.pose(1.0).camera_position.tolist()
    (2.0, [0.1, 0.0, 0.0])
    """
    reader = _Reader(source)
    data = reader.load(text, fmt)
    return reader.timeline(data, scene, duration, amplitude, easing, loop, fps)


def _format_path(path: FieldPath) -> str:
    """('keyframes', 2, 'camera') -> 'keyframes[2].camera'; odd keys are quoted."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


class _Reader:
    """Reads one file's data; knows the source lines of its fields for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[FieldPath, int] = {}
        self.subject = np.array([0.0, 0.0, -1.0])
        self._nodes = 0

    # -- errors --------------------------------------------------------------------------------------
    def error(self, path: FieldPath, message: str) -> InputError:
        line = next((self.lines[path[:n]] for n in range(len(path), -1, -1) if path[:n] in self.lines), None)
        where = f" line {line}" if line is not None else ""
        field = f" {_format_path(path)}:" if path else ""
        return InputError(f"{self.source}{where}:{field} {message}")

    # -- syntax --------------------------------------------------------------------------------------
    def load(self, text: str, fmt: str) -> Any:
        if fmt == "json":
            try:
                data = json.loads(text, object_pairs_hook=self._json_object)
            except json.JSONDecodeError as err:
                raise InputError(
                    f"{self.source} line {err.lineno} column {err.colno}: not valid JSON: {err.msg}"
                ) from None
            except RecursionError:
                raise InputError(f"{self.source}: nested too deeply to be a timeline") from None
            try:  # JSON is (nearly) YAML: read it again only to learn the line of each field
                self._compose(text)
            except (DioramicError, yaml.YAMLError, RecursionError):
                self.lines.clear()
            return data
        return self._compose(text)

    def _json_object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise InputError(f"{self.source}: the key '{key}' appears twice in one object")
            out[key] = value
        return out

    def _compose(self, text: str) -> Any:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            line = f" line {mark.line + 1}" if mark is not None else ""
            problem = " ".join(p for p in (err.context, err.problem) if p)
            raise InputError(f"{self.source}{line}: not valid YAML: {problem}") from None
        except yaml.reader.ReaderError as err:
            line = text.count("\n", 0, max(0, err.position)) + 1
            raise InputError(
                f"{self.source} line {line}: not valid YAML: {err.reason} (character #x{err.character:04x})"
                if isinstance(err.character, int)
                else f"{self.source} line {line}: not valid YAML: {err.reason}"
            ) from None
        except yaml.YAMLError as err:
            raise InputError(f"{self.source}: not valid YAML: {str(err).splitlines()[0]}") from None
        if node is None:
            raise InputError(f"{self.source}: the file is empty (expected a mapping with 'keyframes')")
        return self._build(node, (), yaml.constructor.SafeConstructor())

    def _build(self, node: yaml.Node, path: FieldPath, constructor: yaml.constructor.SafeConstructor) -> Any:
        self._nodes += 1
        if self._nodes > _MAX_NODES or len(path) > _MAX_DEPTH:
            raise self.error(path, "too large or nested too deeply to be a timeline (recursive alias?)")
        self.lines.setdefault(path, node.start_mark.line + 1)
        try:
            if isinstance(node, yaml.MappingNode):
                constructor.flatten_mapping(node)  # resolves '<<' merge keys
                out: dict[Any, Any] = {}
                for key_node, value_node in node.value:
                    if not isinstance(key_node, yaml.ScalarNode):
                        raise self.error(path, "a key must be a plain name, not a list or mapping")
                    key = constructor.construct_object(key_node)
                    if key in out:
                        self.lines[(*path, key)] = key_node.start_mark.line + 1
                        raise self.error((*path, key), "this key appears twice")
                    self.lines[(*path, key)] = key_node.start_mark.line + 1
                    out[key] = self._build(value_node, (*path, key), constructor)
                return out
            if isinstance(node, yaml.SequenceNode):
                return [self._build(item, (*path, i), constructor) for i, item in enumerate(node.value)]
            return constructor.construct_object(node)
        except DioramicError:
            raise
        except Exception as err:  # yaml's constructors raise assorted errors for bad values
            problem = getattr(err, "problem", None) or str(err)
            raise self.error(path, f"cannot read this value: {problem}") from None

    # -- values --------------------------------------------------------------------------------------
    def mapping(self, value: Any, path: FieldPath, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(
                path, f"expected a mapping with keys from: {', '.join(allowed)}; got {_show(value)}"
            )
        for key in value:
            if not isinstance(key, str):
                raise self.error(path, f"field names must be text, got {_show(key)}")
            if key not in allowed:
                raise self.error((*path, key), f"unknown field (expected one of: {', '.join(allowed)})")
        return value

    def number(
        self, value: Any, path: FieldPath, *, minimum: float | None = None, strict: bool = False
    ) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        try:
            number = float(value) if ok else math.nan
        except OverflowError:
            number = math.nan
        if not math.isfinite(number):
            raise self.error(path, f"expected a number, got {_show(value)}")
        if abs(number) > _MAX_MAGNITUDE:
            raise self.error(path, f"expected a number between -{_MAX_MAGNITUDE:g} and {_MAX_MAGNITUDE:g}")
        if minimum is not None and (number <= minimum if strict else number < minimum):
            raise self.error(path, f"expected a number {'>' if strict else '>='} {minimum:g}, got {number:g}")
        return number

    def vector(self, value: Any, path: FieldPath, size: int) -> np.ndarray:
        if not isinstance(value, list) or len(value) != size:
            raise self.error(path, f"expected a list of {size} numbers, got {_show(value)}")
        return np.array([self.number(v, (*path, i)) for i, v in enumerate(value)], dtype=np.float64)

    def quaternion(self, value: Any, path: FieldPath) -> np.ndarray:
        quat = self.vector(value, path, 4)
        norm = float(np.linalg.norm(quat))
        if not norm > 1e-6:
            raise self.error(path, "expected a quaternion [x, y, z, w] of non-zero length")
        return quat / norm

    def euler(self, value: Any, path: FieldPath) -> np.ndarray:
        return quat_from_matrix(euler_to_matrix(self.vector(value, path, 3)))

    def easing(self, value: Any, path: FieldPath) -> Easing:
        if not isinstance(value, str):
            raise self.error(path, f"expected an easing name, got {_show(value)}")
        try:
            return get_easing(value)
        except UsageError as err:
            raise self.error(path, str(err)) from None

    # -- the document --------------------------------------------------------------------------------
    def timeline(
        self,
        data: Any,
        scene: Scene,
        duration: float | None,
        amplitude: float,
        easing: str | None,
        loop: bool | None,
        fps: float | None,
    ) -> Timeline:
        top = self.mapping(data, (), _TOP_KEYS)
        if "version" in top and not (type(top["version"]) is int and top["version"] == 1):
            raise self.error(("version",), f"only version 1 is known, got {_show(top['version'])}")
        if "description" in top and not isinstance(top["description"], str):
            raise self.error(("description",), f"expected text, got {_show(top['description'])}")
        units = top.get("units", "relative")
        if not isinstance(units, str) or units not in _UNITS:
            raise self.error(
                ("units",), f"expected 'relative' (1.0 = subject distance) or 'metres', got {_show(units)}"
            )
        unit = float(scene.focus) if _UNITS[units] == "relative" else 1.0
        self.subject = np.array([0.0, 0.0, -float(scene.focus)])
        if "fps" in top:
            fps = self.number(top["fps"], ("fps",), minimum=0.0, strict=True)
        if loop is None:
            loop = top.get("loop", False)
            if not isinstance(loop, bool):
                raise self.error(("loop",), f"expected true or false, got {_show(loop)}")
        default_easing = get_easing(easing) if easing is not None else None
        if default_easing is None:
            default_easing = (
                self.easing(top["easing"], ("easing",)) if "easing" in top else get_easing("linear")
            )
        pivot = self.vector(top["pivot"], ("pivot",), 3) * unit if "pivot" in top else self.subject

        if "keyframes" not in top:
            raise self.error((), "missing field 'keyframes' (a list of keyframes)")
        raw = top["keyframes"]
        if not isinstance(raw, list) or not raw:
            raise self.error(("keyframes",), f"expected a non-empty list of keyframes, got {_show(raw)}")
        rest = Keyframe(
            0.0, np.zeros(3), self.subject, _IDENTITY_QUAT, scene.camera.fov_y,
            _IDENTITY_QUAT, np.ones(3), np.zeros(3), default_easing,
        )  # fmt: skip
        keyframes: list[Keyframe] = []
        for i, item in enumerate(raw):
            previous = keyframes[-1] if keyframes else rest
            keyframes.append(
                self.keyframe(
                    item, ("keyframes", i), previous, unit, amplitude, fps, default_easing, bool(keyframes)
                )
            )

        end = self.end_time(top, keyframes[-1].time, duration, loop)
        if loop:  # close the loop: back to the first keyframe's values at the end
            keyframes.append(replace(keyframes[0], time=end))
        sets_fov = any(isinstance(k, dict) and "fov" in k.get("camera", {}) for k in raw)
        return Timeline(tuple(keyframes), end, pivot, self.source, sets_fov)

    def keyframe(
        self,
        item: Any,
        path: FieldPath,
        previous: Keyframe,
        unit: float,
        amplitude: float,
        fps: float | None,
        default_easing: Easing,
        has_previous: bool,
    ) -> Keyframe:
        """Resolve one keyframe: the channels it gives, the others from `previous`."""
        raw = self.mapping(item, path, _KEYFRAME_KEYS)
        if "time" in raw and "frame" in raw:
            raise self.error((*path, "frame"), "give either 'time' (seconds) or 'frame', not both")
        if "time" in raw:
            time = self.number(raw["time"], (*path, "time"), minimum=0.0)
        elif "frame" in raw:
            frame = self.number(raw["frame"], (*path, "frame"), minimum=0.0)
            if fps is None:
                raise self.error((*path, "frame"), "frame numbers need an fps: add 'fps:' to the file")
            time = frame / fps
        else:
            raise self.error(path, "missing field 'time' (seconds) or 'frame'")
        if has_previous and not time > previous.time:
            key = "time" if "time" in raw else "frame"
            raise self.error(
                (*path, key),
                f"{time:g} s is not after the keyframe before ({previous.time:g} s): "
                "keyframes must be in increasing time order",
            )
        values: dict[str, Any] = {"time": time}
        if "easing" in raw:
            values["easing"] = self.easing(raw["easing"], (*path, "easing"))
        else:
            values["easing"] = default_easing
        camera = self.mapping(raw.get("camera", {}), (*path, "camera"), _CAMERA_KEYS)
        cpath = (*path, "camera")
        if "position" in camera:
            values["position"] = self.vector(camera["position"], (*cpath, "position"), 3) * unit * amplitude
        given = [k for k in ("look_at", "rotation", "quaternion") if k in camera]
        if len(given) > 1:
            raise self.error(
                (*cpath, given[1]), f"give only one of look_at, rotation, quaternion (also has {given[0]})"
            )
        if "look_at" in camera:
            target = camera["look_at"]
            if target == "subject":
                values["target"] = self.subject
            else:
                values["target"] = self.vector(target, (*cpath, "look_at"), 3) * unit
        elif "rotation" in camera:
            values["target"], values["rotation"] = None, self.euler(camera["rotation"], (*cpath, "rotation"))
        elif "quaternion" in camera:
            values["target"], values["rotation"] = (
                None,
                self.quaternion(camera["quaternion"], (*cpath, "quaternion")),
            )
        if "fov" in camera:
            fov = self.number(camera["fov"], (*cpath, "fov"))
            if not 1.0 <= fov <= 170.0:
                raise self.error(
                    (*cpath, "fov"),
                    f"expected a vertical field of view in degrees from 1 to 170, got {fov:g}",
                )
            values["fov_y"] = math.radians(fov)

        obj = self.mapping(raw.get("object", {}), (*path, "object"), _OBJECT_KEYS)
        opath = (*path, "object")
        if "rotation" in obj and "quaternion" in obj:
            raise self.error((*opath, "quaternion"), "give either rotation or quaternion, not both")
        if "rotation" in obj:
            values["object_rotation"] = scale_rotation(
                self.euler(obj["rotation"], (*opath, "rotation")), amplitude
            )
        elif "quaternion" in obj:
            quat = self.quaternion(obj["quaternion"], (*opath, "quaternion"))
            values["object_rotation"] = scale_rotation(quat, amplitude)
        if "scale" in obj:
            scale = obj["scale"]
            if isinstance(scale, list):
                values["object_scale"] = self.vector(scale, (*opath, "scale"), 3)
            else:
                values["object_scale"] = np.full(3, self.number(scale, (*opath, "scale")))
            if not (values["object_scale"] > 0).all():
                raise self.error((*opath, "scale"), "expected scale factors > 0")
        if "translation" in obj:
            translation = self.vector(obj["translation"], (*opath, "translation"), 3)
            values["object_translation"] = translation * unit * amplitude
        keyframe = replace(previous, **values)
        if keyframe.target is not None:
            if np.linalg.norm(keyframe.target - keyframe.position) < 1e-9 * max(1.0, unit):
                raise self.error(
                    cpath,
                    "the camera sits on the point it looks at (look_at defaults to the subject, "
                    "[0, 0, -1] in relative units): move it, or give another look_at or a rotation",
                )
            keyframe = replace(
                keyframe, rotation=quat_from_matrix(look_at(keyframe.position, keyframe.target))
            )
        return keyframe

    def end_time(self, top: dict[str, Any], last: float, duration: float | None, loop: bool) -> float:
        """The timeline's duration: the file's, else the last keyframe's time, else the caller's."""
        if "duration" in top:
            end = self.number(top["duration"], ("duration",), minimum=0.0, strict=True)
            if end < last or (loop and end <= last):
                raise self.error(
                    ("duration",),
                    f"{end:g} s ends {'at or ' if loop else ''}before the last keyframe ({last:g} s)"
                    + ("; a loop needs time to return to the first keyframe" if loop else ""),
                )
            return end
        if last > 0 and not loop:
            return last
        if duration is None or not duration > last:
            raise self.error(
                (),
                ("loop: true needs a 'duration' after the last keyframe" if loop else "a timeline whose only "
                 "keyframe is at 0 s needs a 'duration'") + f" (last keyframe at {last:g} s)",
            )  # fmt: skip
        return float(duration)


def _show(value: Any) -> str:
    """A short description of a value that was not what a field expects."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
