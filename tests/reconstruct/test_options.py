"""The reconstruction's own options: declared once, for `dioramic reconstruct` and the web form."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields

from dioramic.config import RunOptions
from dioramic.reconstruct import ReconstructOptions
from dioramic.reconstruct.inputs import MAX_FRAMES
from dioramic.reconstruct.options import RECONSTRUCT_OPTIONS, add_reconstruct_options, reconstruct_options

INTERNAL = {
    "depth_side",
    "texture_side",
    "holdout_side",
    "run",
    "stereo",
    "fusion",
    "texture",
    "surroundings",
    "surfaces",
}
"""Fields set by the library (or, `run`, from the motion and video options), not by a flag."""


def _parse(argv: list[str]) -> ReconstructOptions:
    parser = argparse.ArgumentParser()
    add_reconstruct_options(parser)
    return reconstruct_options(vars(parser.parse_args(argv)), RunOptions(fps=12))


def test_every_settable_field_is_declared_once() -> None:
    declared = [opt.field for opt in RECONSTRUCT_OPTIONS]
    assert len(declared) == len(set(declared))
    assert set(declared) | INTERNAL == {f.name for f in fields(ReconstructOptions)}


def test_the_help_states_the_real_defaults() -> None:
    real = {"max_triangles": ReconstructOptions().max_triangles, "max_frames": MAX_FRAMES}
    for opt in RECONSTRUCT_OPTIONS:
        stated = re.search(r"\(default: (\d+)\)", opt.help)
        assert (stated is not None) == (opt.field in real), opt.name
        if stated:
            assert int(stated.group(1)) == real[opt.field], opt.name


def test_flags_left_out_keep_the_defaults() -> None:
    assert _parse([]) == ReconstructOptions(run=RunOptions(fps=12))
    options = _parse(
        ["--holdout", "4", "--max-triangles", "900", "--frames", "20", "--no-background", "--no-video"]
    )
    assert (options.holdout, options.max_triangles, options.max_frames) == (4, 900, 20)
    assert options.background is False and options.write_video is False and options.run.fps == 12
