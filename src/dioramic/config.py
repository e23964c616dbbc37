"""Option declarations shared by the library, the CLI and the web UI.

`RunOptions` holds every setting of a run with its default; `OPTIONS` declares, once, how each field is
given on the command line (flags, parser, help). The CLI is generated from `OPTIONS`, and a test checks
that every field of `RunOptions` is declared exactly once.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from dioramic.errors import UsageError
from dioramic.splats import DEFAULT_MAX_SPLATS

DEFAULT_LONG_SIDE = 1280


@dataclass(frozen=True)
class VideoDefaults:
    """The video settings a format gets when they are not given."""

    fps: int
    """Frames per second."""
    long_side: int
    """Pixels on the long side (the photo's aspect)."""


VIDEO_DEFAULTS = {"gif": VideoDefaults(fps=15, long_side=480)}
"""Formats whose defaults differ from `DEFAULT_VIDEO`: a GIF stores every pixel of every frame in a
256-colour palette, so a 5 s GIF at 1280 px and 30 fps is about 100 MB; at 480 px and 15 fps it is
about 5 MB, a size that can be posted."""
DEFAULT_VIDEO = VideoDefaults(fps=30, long_side=DEFAULT_LONG_SIDE)
FORMAT_DEFAULT_FIELDS = ("fps",)
"""Options whose default depends on the video format: the CLI and the web form leave them unset
until the format is known (`options_from_namespace`, `video_defaults`)."""


def video_defaults(video_format: str | None = None) -> VideoDefaults:
    """The defaults of `video_format` ('mp4', 'webm', 'gif', 'png'; None: a video.mp4).

    >>> video_defaults("gif"), video_defaults("mp4").fps
    (VideoDefaults(fps=15, long_side=480), 30)
    """
    return VIDEO_DEFAULTS.get(video_format or "mp4", DEFAULT_VIDEO)


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720), from 16x16 to 7680x4320 (H.264 and VP9 drop an odd last column/row).

    >>> parse_size("1280x720")
    (1280, 720)
    """
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got '{text}'")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= 7680 and 16 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"size {w}x{h} is outside 16x16 .. 7680x4320")
    return w, h


def parse_color(text: str) -> tuple[int, int, int]:
    """'#ff00aa', 'ff00aa', '255,0,170' or a few names -> (r, g, b).

    >>> parse_color("#ff8000"), parse_color("0,128,255"), parse_color("black")
    ((255, 128, 0), (0, 128, 255), (0, 0, 0))
    """
    names = {
        "black": "000000",
        "white": "ffffff",
        "grey": "808080",
        "gray": "808080",
        "green": "00ff00",
        "magenta": "ff00ff",
        "red": "ff0000",
        "blue": "0000ff",
    }
    t = names.get(text.strip().lower(), text.strip())
    if m := re.fullmatch(r"#?([0-9a-fA-F]{6})", t):
        v = int(m.group(1), 16)
        return (v >> 16) & 255, (v >> 8) & 255, v & 255
    if m := re.fullmatch(r"(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})", t):
        rgb = tuple(int(g) for g in m.groups())
        if all(0 <= c <= 255 for c in rgb):
            return rgb  # type: ignore[return-value]
    raise argparse.ArgumentTypeError(f"expected a colour like '#102030', '16,32,48' or 'black', got '{text}'")


def _positive(kind: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {name}, got '{text}'") from None
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"expected a positive {name}, got '{text}'")
        return value

    parse.__name__ = name
    return parse


positive_int = _positive(int, "integer")


def non_negative_int(text: str) -> int:
    """An integer >= 0 (e.g. CRF 0 = lossless)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got '{text}'")
    return value


positive_float = _positive(float, "number")


def _auto_or_number(text: str, most: float = float("inf")) -> float | None:
    """'auto' -> None, else a number from 0 to `most` (ArgumentTypeError otherwise)."""
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number, got '{text}'") from None
    if not (0.0 <= value <= most and value < float("inf")):
        allowed = ">= 0" if most == float("inf") else f"from 0 to {most:g}"
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number {allowed}, got '{text}'")
    return value


def parse_amplitude(text: str) -> float | None:
    """'auto' -> None (fit to the scene), else a number >= 0.

    >>> parse_amplitude("auto"), parse_amplitude("0.5")
    (None, 0.5)
    """
    return _auto_or_number(text)


MAX_OVERSCAN = 1.0
"""The largest zoom `--overscan X` takes: a focal length twice the move's own."""


def parse_overscan(text: str) -> float | None:
    """'auto' -> None (zoom just enough), else X from 0 (the move's own framing) to `MAX_OVERSCAN`:
    the focal length 1 + X times the move's.

    >>> parse_overscan("auto"), parse_overscan("0"), parse_overscan("0.1")
    (None, 0.0, 0.1)
    """
    return _auto_or_number(text, MAX_OVERSCAN)


@dataclass(frozen=True)
class RunOptions:
    """Every setting of `dioramic run` (and of the stages it drives), with its default."""

    depth: str = "auto"
    model: str | None = None
    depth_map: Path | None = None
    depth_kind: str = "depth"
    refine: bool = True
    near: float = 1.0
    far: float = 6.0
    fov: float | None = None
    max_triangles: int = 200_000
    edge_threshold: float | None = None
    inpainter: str = "exemplar"
    inpaint_model: Path | None = None
    motion: str | None = None
    amplitude: float | None = None  # None: auto
    overscan: float | None = None  # None: auto
    easing: str | None = None
    loop: bool | None = None
    size: tuple[int, int] | None = None
    fps: int = 30
    duration: float = 5.0
    supersample: int = 1
    background: tuple[int, int, int] = (0, 0, 0)
    crf: int | None = None
    preset: str | None = None
    stereo: str | None = None
    renderer: str = "opengl"
    blender_engine: str = "workbench"
    samples: int | None = None
    motion_blur: bool = False
    measure: str = "sample"
    splats: bool = False
    max_splats: int = DEFAULT_MAX_SPLATS


@dataclass(frozen=True)
class Option:
    """How one `RunOptions` field is given on the command line and in the web form."""

    field: str
    flags: tuple[str, ...]
    help: str
    group: str
    parse: Callable[[str], Any] | None = str
    """Parser of the text value; None for an on/off switch."""
    metavar: str | None = None
    choices: Callable[[], Sequence[str]] | None = None
    """Lazily listed valid values (registries fill up on import)."""
    hint: str | None = None
    """One short line shown under the web form's control. A --no-X switch is a checkbox 'X' in the
    form, so its hint, not `help`, is also the control's tooltip."""
    choice_help: Mapping[str, str] | None = None
    """One line for each built-in value, shown in the web form when that value is chosen."""


def _inpainter_choices() -> list[str]:
    from dioramic.scene import INPAINTERS

    return INPAINTERS.names()


def _depth_choices() -> list[str]:
    from dioramic.depth import DEPTH_BACKENDS

    return ["auto", *DEPTH_BACKENDS.names()]


OPTIONS: tuple[Option, ...] = (
    Option(
        "depth",
        ("--depth", "--backend"),
        "depth backend: auto (embedded phone depth, else Depth "
        "Anything V2 if its weights are cached or downloadable, else classical) or a name from "
        "'dioramic depth --list'",
        "depth",
        metavar="BACKEND",
        choices=_depth_choices,
    ),
    Option(
        "model",
        ("--model",),
        "ONNX model file, or a variant name (small, base, large; add -fp16 or "
        "-int8) for the learned backends",
        "depth",
        metavar="PATH|NAME",
        hint="size of the learned model: small (default), base or large; -fp16 or -int8: smaller files",
    ),
    Option(
        "depth_map",
        ("--depth-map",),
        "use this depth map (PNG 8/16-bit, float TIFF, .npy, .pfm) "
        "instead of estimating depth; selects the 'file' backend",
        "depth",
        parse=Path,
        metavar="FILE",
    ),
    Option(
        "depth_kind",
        ("--depth-kind",),
        "how to read --depth-map: depth (relative, larger = farther), metric (metres; integer maps in "
        "millimetres) or inverse (larger = nearer, like disparity)",
        "depth",
        metavar="KIND",
        choices=lambda: ["depth", "metric", "inverse"],
    ),
    Option(
        "refine",
        ("--no-refine",),
        "skip edge-aware depth refinement",
        "depth",
        parse=None,
        hint="line the depth's edges up with the photo's edges (an edge-aware filter); off: the "
        "backend's depth as it is",
    ),
    Option(
        "fov",
        ("--fov",),
        "horizontal field of view of the photo in degrees (default: from EXIF, else a 28 mm-equivalent lens)",
        "scene",
        parse=positive_float,
        metavar="DEG",
        hint="the lens the photo was taken with; empty: from the photo's EXIF, else a 28 mm lens",
    ),
    Option(
        "near",
        ("--near",),
        "metres at which the nearest surface of a relative depth map is placed",
        "depth",
        parse=positive_float,
        metavar="M",
        hint="distance of the nearest thing, in metres: with Far, how deep the scene is",
    ),
    Option(
        "far",
        ("--far",),
        "metres at which the farthest surface of a relative (inverse) depth map is placed",
        "depth",
        parse=positive_float,
        metavar="M",
        hint="distance of the farthest thing, in metres: farther = more parallax between near and far",
    ),
    Option(
        "max_triangles",
        ("--max-triangles",),
        "triangle budget of the mesh",
        "scene",
        parse=positive_int,
        metavar="N",
        hint="detail of the 3D mesh: fewer triangles render faster and make smaller GLB files",
    ),
    Option(
        "edge_threshold",
        ("--edge-threshold",),
        "depth-ratio jump above which the mesh is cut "
        "(e.g. 0.1 = 10 %% farther); default: the scene builder's",
        "scene",
        parse=positive_float,
        metavar="RATIO",
        hint="where the mesh tears apart at a depth jump (0.08 = 8 % farther): lower cuts more, higher "
        "stretches more",
    ),
    Option(
        "inpainter",
        ("--inpainter",),
        "how what the foreground hides is painted: exemplar (default: "
        "patches of the far side, PatchMatch, with the grain of the surroundings), smooth (fast "
        "pull-push interpolation, blurred), telea or ns (OpenCV), or lama (learned, LaMa; its weights "
        "are downloaded once or given with --inpaint-model)",
        "scene",
        metavar="NAME",
        choices=_inpainter_choices,
        choice_help={
            "exemplar": "the default: the texture of what lies behind, copied patch by patch",
            "smooth": "fast, smooth fills from what lies behind, like out-of-focus background",
            "telea": "OpenCV (Telea): fast, smooth fills of what the camera move uncovers",
            "ns": "OpenCV (Navier-Stokes): fast, follows the edges around the hole a little better",
            "lama": "LaMa, a learned model: continues textures; slower, its weights are downloaded once",
        },
    ),
    Option(
        "inpaint_model",
        ("--inpaint-model",),
        "LaMa ONNX file for --inpainter lama (default: downloaded once from the Hugging Face hub)",
        "scene",
        parse=Path,
        metavar="FILE.onnx",
    ),
    Option(
        "motion",
        ("--motion",),
        "camera move: a preset name from 'dioramic motions' or a timeline file (.yaml/.json)",
        "motion",
        metavar="NAME|FILE",
    ),
    Option(
        "amplitude",
        ("--amplitude",),
        "strength of the move: auto (the default: the preset's own strength, scaled down until the "
        "predicted frames show no holes and few stretched pixels) or a number (1 = the preset's "
        "default; a warning tells when its frames are predicted to go past those limits)",
        "motion",
        parse=parse_amplitude,
        metavar="X|auto",
    ),
    Option(
        "overscan",
        ("--overscan",),
        "zoom in so that the frame's edges show the photo, not the scene's inpainted margin beyond it: "
        "auto (the default: just enough that no frame is predicted to show more than 0.1 %% of it "
        "beyond the photo, at most 1.25x, which keeps the title-safe 80 %% of each side; a timeline "
        "that sets its fov keeps it), 0 (the move's own framing) or X (the focal length 1 + X times "
        "the move's, 0.1 = 10 %% closer)",
        "motion",
        parse=parse_overscan,
        metavar="X|auto",
        hint="zoom in so the move never shows past the photo's edges; 0: no zoom",
    ),
    Option(
        "easing",
        ("--easing",),
        "timing of the preset: linear, ease-in, ease-out, ease-in-out, ease, sine or "
        "cubic-bezier(x1,y1,x2,y2) (default: the preset's)",
        "motion",
        metavar="NAME",
        hint="how the move speeds up and slows down; empty: the preset's own",
    ),
    Option(
        "loop",
        ("--loop",),
        "make the move end where it starts (open presets go out and back)",
        "motion",
        parse=None,
        hint="end where it starts, for a seamless loop",
    ),
    Option(
        "size",
        ("--size",),
        "video size (default: long side 1280, or 480 for a GIF, at the photo's aspect)",
        "video",
        parse=parse_size,
        metavar="WxH",
    ),
    Option(
        "fps",
        ("--fps",),
        "frames per second (default: 30; 15 for a GIF)",
        "video",
        parse=positive_int,
        metavar="N",
    ),
    Option(
        "duration", ("--duration",), "video length in seconds", "video", parse=positive_float, metavar="SEC"
    ),
    Option(
        "supersample",
        ("--supersample",),
        "anti-aliasing: N x N samples per pixel (1 = off, the default)",
        "video",
        parse=positive_int,
        metavar="N",
        hint="smoother thin lines: each pixel averages N x N samples (1 = off: default, fastest; 2-4 slower)",
    ),
    Option(
        "background",
        ("--background",),
        "colour of pixels no geometry covers",
        "video",
        parse=parse_color,
        metavar="COLOR",
        hint="shows only where the move looks past the scene",
    ),
    Option(
        "crf",
        ("--crf",),
        "encoder quality (lower = better, larger files; 0 = lossless)",
        "video",
        parse=non_negative_int,
        metavar="N",
        hint="video quality: lower = better and larger (mp4 0-51, default 18; webm 0-63, default 31)",
    ),
    Option(
        "preset",
        ("--preset",),
        "encoder speed preset (x264: ultrafast .. veryslow)",
        "video",
        metavar="NAME",
        hint="mp4 encoding speed: slower presets make slightly smaller files",
    ),
    Option(
        "stereo",
        ("--stereo",),
        "stereo video: sbs (left and right eye side by side) or anaglyph (red-cyan)",
        "video",
        metavar="MODE",
        choices=lambda: ["sbs", "anaglyph"],
        choice_help={
            "sbs": "3D: left and right eye side by side, twice as wide (VR headsets, 3D TVs)",
            "anaglyph": "3D for red-cyan glasses",
        },
    ),
    Option(
        "renderer",
        ("--renderer",),
        "opengl (ours: fast, offscreen) or blender (needs 'make blender'; for depth of field, motion blur)",
        "render",
        metavar="NAME",
        choices=lambda: ["opengl", "blender"],
    ),
    Option(
        "measure",
        ("--measure",),
        "which frames' holes and stretching render.json reports (OpenGL renderer): sample (the "
        "default: three frames a second and the last, measured at 384 px), all (every frame at full "
        "size: exact, slower) or off",
        "render",
        metavar="WHICH",
        choices=lambda: ["sample", "all", "off"],
    ),
    Option(
        "blender_engine",
        ("--blender-engine",),
        "Blender's engine (for --renderer blender, and the .blend of 'export --blend'): workbench "
        "(the default: the textures' own colours, about 3 s a 1280x852 frame on 2 CPU cores, so a "
        "5 s video takes minutes), cycles (depth of field, motion blur; about 15 s a frame at 16 "
        "samples) or eevee (wants a GPU: minutes a frame on a CPU)",
        "render",
        metavar="ENGINE",
        choices=lambda: ["workbench", "cycles", "eevee"],
    ),
    Option(
        "samples",
        ("--samples",),
        "samples per pixel: anti-aliasing for workbench (default 8), samples for cycles (default 16: the "
        "scene is unlit, so they only smooth edges) and eevee (default: Blender's)",
        "render",
        parse=positive_int,
        metavar="N",
    ),
    Option(
        "motion_blur",
        ("--motion-blur",),
        "motion blur (Blender renderer with --blender-engine cycles or eevee)",
        "render",
        parse=None,
    ),
    Option(
        "splats",
        ("--splats",),
        "also write splats.ply beside scene.glb: the scene as 3D Gaussian splats (the 3DGS PLY that "
        "splat viewers such as SuperSplat and Spark open), one per texel-sized piece of every layer",
        "splats",
        parse=None,
        hint="also write the scene as Gaussian splats (splats.ply) for splat viewers",
    ),
    Option(
        "max_splats",
        ("--max-splats",),
        "most splats in a splat file: larger scenes get pieces of several texels (2M: about 136 MB "
        "of PLY, which browsers load)",
        "splats",
        parse=positive_int,
        metavar="N",
        hint="fewer splats: a smaller file and faster viewing, coarser detail",
    ),
)

GROUP_TITLES = {
    "depth": "depth",
    "scene": "3D scene",
    "motion": "motion",
    "video": "video",
    "render": "renderer",
    "splats": "Gaussian splats",
}


def option(field_name: str) -> Option:
    """The declaration of `RunOptions.<field_name>`."""
    for opt in OPTIONS:
        if opt.field == field_name:
            return opt
    raise KeyError(field_name)


def _default_of(field_name: str) -> Any:
    return {f.name: f.default for f in fields(RunOptions)}[field_name]


def add_options(parser: argparse.ArgumentParser, groups: Sequence[str], exclude: Sequence[str] = ()) -> None:
    """Add the declared options of `groups` to `parser` (defaults from `RunOptions`), but not the
    fields named in `exclude` (options a command has no use for)."""
    for group in groups:
        section = parser.add_argument_group(GROUP_TITLES[group])
        for opt in OPTIONS:
            if opt.group != group or opt.field in exclude:
                continue
            default = _default_of(opt.field)
            if opt.parse is None:  # a switch that turns the default around
                action = "store_false" if default is True else "store_const"
                extra = {"const": True} if action == "store_const" else {}
                section.add_argument(
                    *opt.flags, dest=opt.field, action=action, default=default, help=opt.help, **extra
                )
                continue
            help_text = opt.help
            if opt.field in FORMAT_DEFAULT_FIELDS:
                default = None  # the video format's, filled in by options_from_namespace
            elif default is not None and not isinstance(default, tuple):
                help_text += f" (default: {default})"
            section.add_argument(
                *opt.flags,
                dest=opt.field,
                type=opt.parse,
                default=default,
                metavar=opt.metavar,
                help=help_text,
            )


def options_from_namespace(ns: argparse.Namespace, video_format: str | None = None) -> RunOptions:
    """RunOptions from parsed arguments (fields the parser lacks keep their defaults); validates choices.
    Options left unset whose default depends on the format take `video_format`'s (see `video_defaults`)."""
    values = {f.name: getattr(ns, f.name) for f in fields(RunOptions) if hasattr(ns, f.name)}
    for name in FORMAT_DEFAULT_FIELDS:
        if name in values and values[name] is None:
            values[name] = getattr(video_defaults(video_format), name)
    for name, value in values.items():
        opt = option(name)
        if opt.choices is not None and value is not None and value not in (valid := opt.choices()):
            raise UsageError(f"{opt.flags[0]}: unknown value '{value}' (choose from: {', '.join(valid)})")
    return RunOptions(**values)


def video_size(
    options: RunOptions, photo_width: int, photo_height: int, video_format: str | None = None
) -> tuple[int, int]:
    """The output size: --size, else the format's long side (1280; 480 for a GIF) with the photo's
    aspect, both even.

    >>> video_size(RunOptions(), 4000, 3000), video_size(RunOptions(), 600, 900)
    ((1280, 960), (854, 1280))
    >>> video_size(RunOptions(), 600, 400, "gif")
    (480, 320)
    """
    if options.size is not None:
        return options.size
    scale = video_defaults(video_format).long_side / max(photo_width, photo_height)
    w = max(16, round(photo_width * scale / 2) * 2)
    h = max(16, round(photo_height * scale / 2) * 2)
    return w, h
