import argparse
from dataclasses import fields

import pytest

from dioramic.config import OPTIONS, RunOptions, add_options, options_from_namespace, parse_color, parse_size
from dioramic.errors import UsageError


def test_every_run_option_is_declared_once() -> None:
    declared = [o.field for o in OPTIONS]
    assert sorted(declared) == sorted(f.name for f in fields(RunOptions))
    assert len(set(declared)) == len(declared)
    assert all(o.help for o in OPTIONS)


def test_parser_defaults_match_run_options() -> None:
    parser = argparse.ArgumentParser()
    add_options(parser, ["depth", "scene", "motion", "video"])
    assert options_from_namespace(parser.parse_args([])) == RunOptions()
    parsed = options_from_namespace(parser.parse_args(["--size", "640x480", "--fps", "24", "--no-refine"]))
    assert parsed.size == (640, 480) and parsed.fps == 24 and parsed.refine is False


def test_unknown_choice_is_a_usage_error() -> None:
    parser = argparse.ArgumentParser()
    add_options(parser, ["depth"])
    with pytest.raises(UsageError, match="choose from: auto, "):
        options_from_namespace(parser.parse_args(["--depth", "nope"]))


@pytest.mark.parametrize("bad", ["1280", "axb", "8x8", "100000x10"])
def test_bad_sizes(bad: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size(bad)


def test_bad_colour() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_color("#12")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_color("300,0,0")


@pytest.mark.parametrize("bad", ["0", "-1", "inf", "nan", "abc"])
def test_positive_numbers_are_finite(bad: str) -> None:
    from dioramic.config import positive_float

    with pytest.raises(argparse.ArgumentTypeError, match="expected a positive number"):
        positive_float(bad)
