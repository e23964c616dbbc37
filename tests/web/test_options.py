"""The web form is generated from dioramic.config.OPTIONS and parses like the command line."""

from __future__ import annotations

from dataclasses import fields

import pytest

from dioramic.config import OPTIONS, RunOptions
from dioramic.errors import UsageError
from dioramic.motion import describe_motions
from dioramic.web.options import HIDDEN_FIELDS, form_schema, parse_form, video_formats


def test_every_declared_option_but_server_paths_has_one_control() -> None:
    names = [c["name"] for c in form_schema()["controls"]]
    declared = [opt.field for opt in OPTIONS if opt.field not in HIDDEN_FIELDS]
    assert names == [*declared, "format"]
    assert {f.name for f in fields(RunOptions)} - set(names) == set(HIDDEN_FIELDS)


def test_controls_carry_the_declarations_help_defaults_and_choices() -> None:
    controls = {c["name"]: c for c in form_schema()["controls"]}
    for opt in OPTIONS:
        if opt.field in controls and not opt.flags[0].startswith("--no-"):
            assert controls[opt.field]["help"] == opt.help.replace("%%", "%")
            assert controls[opt.field]["flag"] == opt.flags[0]
    # the frame rate is the video format's (30; 15 for a GIF) unless given
    assert controls["fps"] | {"type": "integer", "default": None, "placeholder": "auto"} == controls["fps"]
    assert controls["duration"]["type"] == "number"
    assert controls["size"]["type"] == "size"
    assert controls["background"] | {"type": "color", "default": "#000000"} == controls["background"]
    assert controls["refine"] | {"type": "bool", "default": True} == controls["refine"]
    assert controls["loop"]["type"] == "tristate"
    depth = [c["value"] for c in controls["depth"]["choices"]]
    assert depth[0] == "auto" and "classical" in depth and "file" not in depth
    assert [c["value"] for c in controls["motion"]["choices"]] == [n for n, _ in describe_motions()]
    assert controls["motion"]["timeline"] is True
    assert [c["value"] for c in controls["format"]["choices"]] == video_formats() == ["mp4", "webm", "gif"]
    assert "depth_kind" not in controls and "renderer" not in controls  # server files, Blender: CLI only


def test_parse_form_uses_the_declared_parsers() -> None:
    form = parse_form(
        {
            "depth": "classical",
            "motion": "dolly",
            "amplitude": "1.5",
            "size": "320x240",
            "fps": "12",
            "background": "#102030",
            "refine": "false",
            "loop": "true",
            "format": "gif",
            "easing": "",  # empty: the default
        }
    )
    assert form.options == RunOptions(
        depth="classical",
        motion="dolly",
        amplitude=1.5,
        size=(320, 240),
        fps=12,
        background=(16, 32, 48),
        refine=False,
        loop=True,
    )
    assert form.video_format == "gif"
    assert parse_form({}).options == RunOptions()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"fps": "-3"}, "fps: expected a positive"),
        ({"fps": "many"}, "fps: expected a positive integer, got 'many'"),
        ({"size": "big"}, "size: expected WIDTHxHEIGHT"),
        ({"background": "sunset"}, "background: expected a colour"),
        ({"depth": "magic"}, "depth: unknown value 'magic'"),
        ({"depth": "file"}, "depth: unknown value 'file'"),
        ({"motion": "/etc/passwd.yaml"}, "motion: unknown value"),
        ({"refine": "maybe"}, "refine: expected true or false"),
        ({"depth_map": "/etc/passwd"}, "unknown option 'depth_map'"),
        ({"colour": "red"}, "unknown option 'colour'"),
        ({"model": "../weights/evil.onnx"}, "model: give a variant name"),
        ({"format": "avi"}, "format: unknown value 'avi'"),
    ],
)
def test_parse_form_refuses_bad_values_with_the_field_named(values: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_form(values)
    assert message in str(err.value)


def test_the_form_explains_each_advanced_control_in_one_line() -> None:
    controls = {c["name"]: c for c in form_schema()["controls"]}
    # 'Refine depth edges' is a checkbox that turns refinement on: its tooltip says so
    assert controls["refine"]["label"] == "Refine depth edges"
    assert "skip" not in controls["refine"]["help"] and "edges" in controls["refine"]["help"]
    for name in ("edge_threshold", "near", "far", "supersample", "crf", "fov", "max_triangles"):
        hint = controls[name]["hint"]
        assert hint and "\n" not in hint and len(hint) <= 110, name
    for name, values in (("inpainter", ("telea", "ns", "lama")), ("stereo", ("sbs", "anaglyph"))):
        described = {c["value"]: c["help"] for c in controls[name]["choices"]}
        assert all(described[v] for v in values), described
    # the depth backends are described for the page: no command-line advice
    backends = form_schema()["notes"]["depth_backends"]
    assert backends["depth-anything-v2"] and not any("--model" in text for text in backends.values())
    assert "depth-anything-v2" in form_schema()["notes"]["learned_depth"]


# -- the reconstruction's form -----------------------------------------------------------------------
def test_the_reconstruction_form_is_its_declarations_and_runs_motion_video_and_splat_options() -> None:
    from dioramic.reconstruct.options import RECONSTRUCT_OPTIONS
    from dioramic.web.options import reconstruct_default_motion, reconstruct_form_schema

    controls = reconstruct_form_schema()["controls"]
    own = [opt.name for opt in RECONSTRUCT_OPTIONS if opt.web]
    run = [
        opt.field
        for opt in OPTIONS
        if opt.group in ("motion", "video", "splats") and opt.field not in HIDDEN_FIELDS
    ]
    assert [c["name"] for c in controls] == [*own, *run]
    assert all(c["hint"] and "\n" not in c["hint"] for c in controls[: len(own)])
    motion = next(c for c in controls if c["name"] == "motion")
    assert motion["default"] == reconstruct_default_motion()


def test_parse_reconstruct_form_uses_the_declared_parsers() -> None:
    from dioramic.reconstruct import ReconstructOptions
    from dioramic.web.options import parse_reconstruct_form

    options = parse_reconstruct_form(
        {"max_triangles": "9000", "frames": "30", "backdrop": "false", "motion": "orbit", "size": "320x240"}
    )
    assert (options.max_triangles, options.max_frames, options.background) == (9000, 30, False)
    assert options.run == RunOptions(motion="orbit", size=(320, 240))
    assert parse_reconstruct_form({}) == ReconstructOptions()  # the motion: the reconstruction's own
    assert parse_reconstruct_form({"frames": ""}).max_frames is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"max_triangles": "0"}, "max_triangles: expected a positive integer"),
        ({"frames": "lots"}, "frames: expected a positive integer, got 'lots'"),
        ({"backdrop": "maybe"}, "backdrop: expected true or false"),
        ({"holdout": "4"}, "unknown option 'holdout'"),
        ({"depth": "classical"}, "unknown option 'depth'"),
        ({"motion": "/etc/passwd.yaml"}, "motion: unknown value"),
    ],
)
def test_parse_reconstruct_form_refuses_bad_values(values: dict[str, str], message: str) -> None:
    from dioramic.web.options import parse_reconstruct_form

    with pytest.raises(UsageError) as err:
        parse_reconstruct_form(values)
    assert message in str(err.value)
