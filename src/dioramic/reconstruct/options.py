"""The reconstruction's own settings, declared once for `dioramic reconstruct` and the web form.

`RECONSTRUCT_OPTIONS` says how each `ReconstructOptions` field is given: its command-line flag, its
parser, its help and, for the fields a web client may set, the web form's line of help. The motion and
video settings are `run`'s (`dioramic.config.OPTIONS`, groups 'motion' and 'video'); they become
``ReconstructOptions.run``. `add_reconstruct_options` adds the flags to a parser and
`reconstruct_options` builds `ReconstructOptions` from parsed values, for the CLI and the web alike.

    >>> [o.name for o in RECONSTRUCT_OPTIONS if o.web]
    ['max_triangles', 'frames', 'backdrop']
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dioramic.config import RunOptions, positive_int

if TYPE_CHECKING:
    from dioramic.reconstruct.run import ReconstructOptions

GROUP = "model"
"""The group of these options in the web form (and their section of `reconstruct --help`)."""
GROUP_TITLE = "3D model"


@dataclass(frozen=True)
class ReconstructOption:
    """How one `ReconstructOptions` field is given on the command line and in the web form."""

    name: str
    """Its name in a parsed namespace and in the web form (`background` is taken by the video's
    background colour, so the backdrop switch is 'backdrop')."""
    field: str
    """The `ReconstructOptions` field it sets."""
    flags: tuple[str, ...]
    help: str
    parse: Callable[[str], Any] | None = positive_int
    """Parser of the text value; None for a --no-X switch that turns the field's True default off."""
    metavar: str | None = None
    web: bool = False
    """Whether a web client may set it (the others write what the page does not show)."""
    label: str = ""
    """The web form's label."""
    hint: str = ""
    """The web form's line of help (for a switch: what turning it on does)."""
    basic: bool = False
    """Shown at once in the web form, rather than under 'more settings'."""


RECONSTRUCT_OPTIONS: tuple[ReconstructOption, ...] = (
    ReconstructOption(
        "holdout",
        "holdout",
        ("--holdout",),
        "keep every N-th image (sorted by name, from the second) out of the model and render the model "
        "from its camera into OUT/holdout/<name>.png, to compare with the photo",
        metavar="N",
    ),
    ReconstructOption(
        "max_triangles",
        "max_triangles",
        ("--max-triangles",),
        "triangle budget (default: 200000)",
        metavar="N",
        web=True,
        label="Triangles",
        hint="detail of the model: fewer triangles make a smaller GLB that draws faster",
    ),
    ReconstructOption(
        "frames",
        "max_frames",
        ("--frames",),
        "most frames taken from a video (default: 48)",
        metavar="N",
        web=True,
        label="Video frames",
        hint="from a video, at most this many of its sharpest frames are used (more: slower, finer)",
    ),
    ReconstructOption(
        "backdrop",
        "background",
        ("--no-background",),
        "leave out the backdrop sphere textured with the surroundings (the model alone)",
        parse=None,
        web=True,
        label="Backdrop",
        hint="surround the model with a sphere textured with what the photos show beyond it",
        basic=True,
    ),
    ReconstructOption(
        "blend",
        "blend",
        ("--no-blend",),
        "render the video and held-out views from the model's texture atlas alone, not from the photos "
        "blended view-dependently (scene.glb holds the atlas either way)",
        parse=None,
    ),
    ReconstructOption("video", "write_video", ("--no-video",), "skip video.mp4", parse=None),
    ReconstructOption(
        "refine_splats",
        "refine_splats",
        ("--refine-splats",),
        "write splats.ply (as --splats) trained N iterations against the photos on a CUDA GPU (the "
        "'splats-gpu' extra: PyTorch and gsplat); report.json gives their PSNR on held-out photos",
        metavar="N",
    ),
)


def _defaults() -> ReconstructOptions:
    from dioramic.reconstruct.run import ReconstructOptions

    return ReconstructOptions()


def default_of(opt: ReconstructOption) -> Any:
    """The value `opt` has when it is not given (`ReconstructOptions`' own default)."""
    return getattr(_defaults(), opt.field)


def add_reconstruct_options(parser: argparse.ArgumentParser) -> None:
    """Add the declared flags to `parser`. A value left out is None (a switch: True), which
    `reconstruct_options` turns into `ReconstructOptions`' own default; the parser does not import
    the reconstruction to learn them, so that the command starts fast (a test checks that each help's
    stated default is the real one)."""
    for opt in RECONSTRUCT_OPTIONS:
        if opt.parse is None:
            parser.add_argument(*opt.flags, dest=opt.name, action="store_false", default=True, help=opt.help)
        else:
            parser.add_argument(*opt.flags, dest=opt.name, type=opt.parse, metavar=opt.metavar, help=opt.help)


def reconstruct_options(values: Mapping[str, Any], run: RunOptions) -> ReconstructOptions:
    """`ReconstructOptions` from parsed values keyed by `ReconstructOption.name` (those missing or None
    keep their defaults) and the motion and video settings `run`."""
    from dataclasses import replace

    given = {opt.field: values[opt.name] for opt in RECONSTRUCT_OPTIONS if values.get(opt.name) is not None}
    return replace(_defaults(), **given, run=run)
