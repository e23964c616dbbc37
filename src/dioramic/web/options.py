"""The web form, generated from `dioramic.config.OPTIONS`, and the parsing of what it sends back.

`form_schema()` describes every control as JSON (served at ``GET /api/options``; the page renders its
form from it), and `parse_form()` turns the submitted text fields into `RunOptions` with the same
parsers and choices as the command line. Two declarations are not offered to web clients because
they name files on the server: ``depth_map`` (and with it the 'file' depth backend) and ``--model``
given as a path (variant names such as 'small' or 'base-fp16' are accepted). A motion timeline is
uploaded as a file instead of named by path, and the video format is a web-only choice.

The reconstruction's form (`reconstruct_form_schema`, `parse_reconstruct_form`) is made the same way
from the reconstruction's own declarations (`dioramic.reconstruct.options`) and `run`'s motion and
video options, the ones `dioramic reconstruct` takes.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dioramic.config import (
    FORMAT_DEFAULT_FIELDS,
    GROUP_TITLES,
    OPTIONS,
    Option,
    RunOptions,
    parse_color,
    parse_size,
    positive_float,
    positive_int,
    video_defaults,
)
from dioramic.errors import UsageError

if TYPE_CHECKING:
    from dioramic.reconstruct.options import ReconstructOption
    from dioramic.reconstruct.run import ReconstructOptions

HIDDEN_FIELDS = frozenset(
    {
        "depth_map",
        "depth_kind",
        "inpaint_model",
        "renderer",
        "blender_engine",
        "samples",
        "motion_blur",
        "measure",
    }
)
"""Declared options a web client cannot set: `depth_map` and `inpaint_model` name files on the server
(and `depth_kind` only says how to read a depth map), the Blender renderer's options need the
optional Blender environment and minutes per frame on a CPU, which a web job does not take (web jobs
render with our OpenGL renderer), and a job's render.json holds the default sample of measures."""
HIDDEN_DEPTH_BACKENDS = frozenset({"file"})
"""Depth backends that need a server-side file (`--depth-map`)."""
BASIC_FIELDS = ("depth", "motion", "amplitude", "duration", "fps", "size", "format")
"""Controls shown at once; the others sit in the form's 'more settings' section."""
FORMAT_FIELD = "format"
DEFAULT_FORMAT = "mp4"
LEARNED_DEPTH_HINT = (
    "For better depth, use the learned model Depth Anything V2: choose the depth backend "
    "'depth-anything-v2' while the server can reach huggingface.co; it downloads the model once "
    "(about 100 MB) and keeps it, and 'auto' then uses it, offline too."
)
"""How a user of the page gets the learned depth model (the page shows it beside classical depth)."""
_CLI_ADVICE = re.compile(r"\s*\(--model [^)]*\)")
_MODEL_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_LABELS = {
    "depth": "Depth backend",
    "fps": "Frames per second",
    "fov": "Field of view (°)",
    "crf": "Quality (CRF)",
    "preset": "Encoder preset",
    "size": "Video size",
    "duration": "Duration (s)",
    "refine": "Refine depth edges",
    "loop": "Loop",
    "format": "Video format",
}


@dataclass(frozen=True)
class FormValues:
    """What a submitted form asks for."""

    options: RunOptions
    """The run's options (``motion`` is a preset name or None; an uploaded timeline replaces it)."""
    video_format: str
    """Container of the video: 'mp4', 'webm' or 'gif'."""


def video_formats() -> list[str]:
    """The video formats a job can write (the renderer's writers, less its folder of PNG frames)."""
    from dioramic.render.video import FOLDER_FORMAT, WRITERS

    return [name for name in WRITERS.names() if name != FOLDER_FORMAT]


def _choices(opt: Option) -> list[tuple[str, str]] | None:
    """(value, description) of each valid value of `opt` in the web form, or None for free input."""
    if opt.field == "depth":
        from dioramic.depth import DEPTH_BACKENDS

        # the page has its own Model field and takes no files: no '(--model ... FILE.onnx)' advice
        backends = [(name, _CLI_ADVICE.sub("", b.description)) for name, b in DEPTH_BACKENDS.items()]
        auto = (
            "auto",
            "phone depth if the photo has it, else Depth Anything V2 if available, else classical",
        )
        return [auto, *((n, d) for n, d in backends if n not in HIDDEN_DEPTH_BACKENDS)]
    if opt.field == "motion":
        from dioramic.motion import describe_motions

        return describe_motions()
    if opt.choices is not None:
        described = opt.choice_help or {}
        return [(value, described.get(value, "")) for value in opt.choices()]
    return None


def _suggestions(opt: Option) -> list[str]:
    """Values to suggest for a free text field (a datalist), never a restriction."""
    if opt.field == "easing":
        from dioramic.motion import easing_names

        return [*easing_names(), "cubic-bezier(0.25, 0.1, 0.25, 1)"]
    if opt.field == "preset":
        from dioramic.render.video import MP4Writer

        return list(MP4Writer.presets)
    return []


def _kind(opt: Option, default: Any) -> str:
    """The control for `opt`: choice, bool, tristate, integer, number, size, color or text."""
    if opt.parse is None:
        return "bool" if isinstance(default, bool) else "tristate"
    if _choices(opt) is not None:
        return "choice"
    return {
        positive_int: "integer",
        positive_float: "number",
        parse_size: "size",
        parse_color: "color",
    }.get(opt.parse, "text")


def _jsonable_default(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "size":
        return f"{value[0]}x{value[1]}"
    if kind == "color":
        return "#{:02x}{:02x}{:02x}".format(*value)
    if isinstance(value, Path):
        return str(value)
    return value


def _label(field_name: str) -> str:
    return _LABELS.get(field_name, field_name.replace("_", " ").capitalize())


def _defaults() -> dict[str, Any]:
    return {f.name: f.default for f in fields(RunOptions)}


def control_help(opt: Option) -> str:
    """The tooltip of `opt`'s control: its help, but for a --no-X switch, shown as a checkbox 'X',
    the hint (the help describes turning it off).

    >>> from dioramic.config import option
    >>> control_help(option("refine"))[:36]
    "line the depth's edges up with the p"
    """
    text = opt.hint if opt.flags[0].startswith("--no-") and opt.hint else opt.help
    return text.replace("%%", "%")


def web_options() -> list[Option]:
    """The declarations a web client may set, in declaration order."""
    return [opt for opt in OPTIONS if opt.field not in HIDDEN_FIELDS]


def _control(opt: Option, defaults: dict[str, Any]) -> dict[str, Any]:
    """The JSON description of `opt`'s control."""
    default = None if opt.field in FORMAT_DEFAULT_FIELDS else defaults[opt.field]
    kind = _kind(opt, defaults[opt.field])
    choices = _choices(opt)
    control: dict[str, Any] = {
        "name": opt.field,
        "label": _label(opt.field),
        "help": control_help(opt),
        "hint": (opt.hint or "").replace("%%", "%"),
        "flag": opt.flags[0],
        "group": opt.group,
        "type": kind,
        "default": _jsonable_default(kind, default),
        "placeholder": opt.metavar or "",
        "basic": opt.field in BASIC_FIELDS,
    }
    if choices is not None:
        control["choices"] = [{"value": v, "help": h} for v, h in choices]
        if default is None and opt.field != "motion":  # an optional choice: offer 'off' first
            control["choices"].insert(0, {"value": "", "help": "none (the default)"})
    if suggestions := _suggestions(opt):
        control["suggestions"] = suggestions
    if opt.field in ("size", "amplitude", "overscan", *FORMAT_DEFAULT_FIELDS):
        # None: the video's size from the photo, the fitted amplitude and zoom, the format's default
        control["placeholder"] = "auto"
    if opt.field == "motion":
        from dioramic.motion import DEFAULT_MOTION

        control["default"] = DEFAULT_MOTION
        control["timeline"] = True  # the page offers a timeline upload beside the presets
    return control


def _groups(controls: Sequence[Mapping[str, Any]], titles: Mapping[str, str]) -> list[dict[str, str]]:
    used = {c["group"] for c in controls}
    return [{"name": k, "title": v} for k, v in titles.items() if k in used]


def form_schema() -> dict[str, Any]:
    """The form as JSON: groups, and one entry per control (type, default, choices, help).

    >>> schema = form_schema()
    >>> [c["name"] for c in schema["controls"]][:3]
    ['depth', 'model', 'refine']
    >>> fps = next(c for c in schema["controls"] if c["name"] == "fps")
    >>> fps["default"], fps["placeholder"]
    (None, 'auto')
    """
    defaults = _defaults()
    controls = [_control(opt, defaults) for opt in web_options()]
    formats = video_formats()
    controls.append(
        {
            "name": FORMAT_FIELD,
            "label": _label(FORMAT_FIELD),
            "help": "container of the video: mp4 (H.264), webm (VP9) or an animated gif",
            "flag": None,
            "group": "video",
            "type": "choice",
            "default": DEFAULT_FORMAT,
            "placeholder": "",
            "basic": True,
            "choices": [{"value": f, "help": ""} for f in formats],
        }
    )
    depth = {name: text for name, text in _choices(OPTIONS_BY_FIELD["depth"]) or []}
    notes = {"depth_backends": depth, "learned_depth": LEARNED_DEPTH_HINT}
    return {"groups": _groups(controls, GROUP_TITLES), "controls": controls, "notes": notes}


OPTIONS_BY_FIELD = {opt.field: opt for opt in OPTIONS}

_OPENAPI_TYPES = {"integer": "integer", "number": "number", "bool": "boolean"}


def openapi_properties(schema: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The OpenAPI properties of a form's controls (`form_schema()`, `reconstruct_form_schema()`):
    type, help, choices and default of each, by name."""
    props = {}
    for c in schema["controls"]:
        prop: dict[str, Any] = {"type": _OPENAPI_TYPES.get(c["type"], "string"), "description": c["help"]}
        if c.get("choices"):
            prop["enum"] = [ch["value"] for ch in c["choices"]]
        if c["default"] is not None:
            prop["default"] = c["default"]
        props[c["name"]] = prop
    return props


_TRUE = {"true", "1", "on", "yes"}
_FALSE = {"false", "0", "off", "no"}


def _parse_one(opt: Option, text: str, default: Any) -> Any:
    text = text.strip()
    name = opt.field
    if text == "":
        return default
    if opt.parse is None:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise UsageError(f"{name}: expected true or false, got '{text}'")
    if name == "model" and not _MODEL_NAME.fullmatch(text):
        raise UsageError(f"model: give a variant name such as 'small' or 'base-fp16', got '{text}'")
    try:
        value = opt.parse(text)
    except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
        raise UsageError(f"{name}: {exc}") from None
    choices = _choices(opt)
    if choices is not None and value not in (valid := [v for v, _ in choices]):
        raise UsageError(f"{name}: unknown value '{text}' (choose from: {', '.join(valid)})")
    return value


def parse_form(values: Mapping[str, str], ignore: Sequence[str] = ()) -> FormValues:
    """`FormValues` from submitted text fields; an empty or missing field keeps its default.

    Raises UsageError (one line, naming the field) for an unknown field or a bad value.

    >>> form = parse_form({"duration": "2", "size": "320x240", "refine": "false"})
    >>> form.options.duration, form.options.size, form.options.refine, form.video_format
    (2.0, (320, 240), False, 'mp4')
    >>> parse_form({"format": "gif"}).options.fps, parse_form({"format": "gif", "fps": "24"}).options.fps
    (15, 24)
    """
    declared = {opt.field: opt for opt in web_options()}
    for key in values:
        if key not in declared and key != FORMAT_FIELD and key not in ignore:
            known = ", ".join([*declared, FORMAT_FIELD])
            raise UsageError(f"unknown option '{key}' (the options are: {known})")
    fmt = values.get(FORMAT_FIELD, "").strip().lower() or DEFAULT_FORMAT
    if fmt not in (valid := video_formats()):
        raise UsageError(f"format: unknown value '{fmt}' (choose from: {', '.join(valid)})")
    return FormValues(_run_options(values, declared.values(), fmt), fmt)


def _run_options(values: Mapping[str, str], declared: Iterable[Option], fmt: str) -> RunOptions:
    """RunOptions from the `declared` fields given in `values`; the others keep their defaults (those
    that depend on the video format, the defaults of `fmt`)."""
    defaults = _defaults()
    for name in FORMAT_DEFAULT_FIELDS:  # a GIF's own frame rate unless one is given
        defaults[name] = getattr(video_defaults(fmt), name)
    parsed = {opt.field: _parse_one(opt, values[opt.field], defaults[opt.field]) for opt in declared
              if opt.field in values}  # fmt: skip
    parsed.update({n: defaults[n] for n in FORMAT_DEFAULT_FIELDS if n not in parsed})
    return RunOptions(**parsed)


# -- the reconstruction's form: several photos or a video -> a 3D model ----------------------------
RECONSTRUCT_GROUPS = ("motion", "video", "splats")
"""The groups of `run`'s options that a reconstruction takes (as `dioramic reconstruct` does)."""


def reconstruct_default_motion() -> str:
    """The camera move a reconstruction makes when none is asked for: the reconstruction's own
    choice (`ReconstructOptions`), not the single photo's."""
    from dioramic.reconstruct.run import DEFAULT_MOTION, ReconstructOptions

    return ReconstructOptions().run.motion or DEFAULT_MOTION


def _reconstruct_control(opt: ReconstructOption) -> dict[str, Any]:
    from dioramic.reconstruct.inputs import MAX_FRAMES
    from dioramic.reconstruct.options import GROUP, default_of

    switch = opt.parse is None
    default = default_of(opt)
    if opt.field == "max_frames" and default is None:
        default = MAX_FRAMES
    return {
        "name": opt.name,
        "label": opt.label,
        "help": opt.hint if switch else opt.help,
        "hint": opt.hint,
        "flag": opt.flags[0],
        "group": GROUP,
        "type": "bool" if switch else "integer",
        "default": default,
        "placeholder": opt.metavar or "",
        "basic": opt.basic,
    }


def reconstruct_form_schema() -> dict[str, Any]:
    """The reconstruction's form as JSON, like `form_schema`: the model's own settings
    (`dioramic.reconstruct.options`), then the motion, video and splat settings of `run`. The motion is
    a preset (no timeline upload) whose default is the reconstruction's; the video is an MP4.

    >>> schema = reconstruct_form_schema()
    >>> [g["name"] for g in schema["groups"]], [c["name"] for c in schema["controls"]][:4]
    (['model', 'motion', 'video', 'splats'], ['max_triangles', 'frames', 'backdrop', 'motion'])
    """
    from dioramic.reconstruct.options import GROUP, GROUP_TITLE, RECONSTRUCT_OPTIONS

    defaults = _defaults()
    controls = [_reconstruct_control(opt) for opt in RECONSTRUCT_OPTIONS if opt.web]
    for opt in web_options():
        if opt.group in RECONSTRUCT_GROUPS:
            control = _control(opt, defaults)
            if opt.field == "motion":
                control["default"] = reconstruct_default_motion()
                del control["timeline"]
            controls.append(control)
    titles = {GROUP: GROUP_TITLE, **GROUP_TITLES}
    return {"groups": _groups(controls, titles), "controls": controls}


def parse_reconstruct_form(values: Mapping[str, str]) -> ReconstructOptions:
    """`ReconstructOptions` from the submitted text fields of the reconstruction's form; an empty or
    missing field keeps its default (the motion: the reconstruction's). Raises UsageError (one line,
    naming the field) for an unknown field or a bad value.

    >>> options = parse_reconstruct_form({"max_triangles": "5000", "backdrop": "false", "fps": "12"})
    >>> options.max_triangles, options.background, options.run.fps, options.run.motion
    (5000, False, 12, None)
    """
    from dioramic.reconstruct.options import RECONSTRUCT_OPTIONS, reconstruct_options

    own = {opt.name: opt for opt in RECONSTRUCT_OPTIONS if opt.web}
    declared = [opt for opt in web_options() if opt.group in RECONSTRUCT_GROUPS]
    known = [*own, *(opt.field for opt in declared)]
    for key in values:
        if key not in known:
            raise UsageError(f"unknown option '{key}' (the options are: {', '.join(known)})")
    run = _run_options(values, declared, DEFAULT_FORMAT)
    parsed: dict[str, Any] = {}
    for name, opt in own.items():
        text = values.get(name, "").strip()
        if not text:
            continue
        if opt.parse is None:
            if text.lower() not in _TRUE | _FALSE:
                raise UsageError(f"{name}: expected true or false, got '{text}'")
            parsed[name] = text.lower() in _TRUE
            continue
        try:
            parsed[name] = opt.parse(text)
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise UsageError(f"{name}: {exc}") from None
    return reconstruct_options(parsed, run)
