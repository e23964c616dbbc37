"""Easing functions: end points, symmetry, CSS cubic-bezier values, names and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dioramic.errors import UsageError
from dioramic.motion.easing import CubicBezier, easing_names, get_easing

ALL = [*easing_names(), "cubic-bezier(0.1, 0.7, 1.0, 0.1)", "cubic-bezier(.68,-0.55,.27,1.55)"]


def bezier_reference(x1: float, y1: float, x2: float, y2: float, t: float) -> float:
    """y at x = t by dense sampling of the curve parameter (an independent method from Newton)."""
    s = np.linspace(0.0, 1.0, 400_001)

    def coord(p1: float, p2: float) -> np.ndarray:
        return 3 * (1 - s) ** 2 * s * p1 + 3 * (1 - s) * s**2 * p2 + s**3

    return float(np.interp(t, coord(x1, x2), coord(y1, y2)))


@pytest.mark.parametrize("name", ALL)
def test_end_points(name: str) -> None:
    ease = get_easing(name)
    assert ease(0.0) == pytest.approx(0.0, abs=1e-12)
    assert ease(1.0) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", ["linear", "ease-in-out", "sine"])
def test_symmetric_easings_pass_through_the_middle(name: str) -> None:
    ease = get_easing(name)
    assert ease(0.5) == pytest.approx(0.5, abs=1e-9)
    for t in (0.1, 0.3, 0.45):
        assert ease(t) + ease(1.0 - t) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("name", ["linear", "ease", "ease-in", "ease-out", "ease-in-out", "sine"])
def test_named_easings_are_monotonic(name: str) -> None:
    values = [get_easing(name)(t) for t in np.linspace(0.0, 1.0, 201)]
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(values))


def test_known_values() -> None:
    assert get_easing("linear")(0.3) == pytest.approx(0.3)
    assert get_easing("sine")(0.25) == pytest.approx((1 - np.cos(np.pi / 4)) / 2)
    # ease-in is slow at first, ease-out fast at first
    assert get_easing("ease-in")(0.25) < 0.25 < get_easing("ease-out")(0.25)


@pytest.mark.parametrize("t", [0.1, 0.25, 0.5, 0.75, 0.9])
def test_css_ease_matches_the_bezier_curve(t: float) -> None:
    ease = get_easing("ease")
    assert ease(t) == pytest.approx(bezier_reference(0.25, 0.1, 0.25, 1.0, t), abs=1e-6)
    assert get_easing("cubic-bezier(0.25, 0.1, 0.25, 1)")(t) == pytest.approx(ease(t), abs=1e-12)


def test_css_ease_published_values() -> None:
    # CSS 'ease' at 50 % of the time is about 80.2 % of the way (a commonly quoted value).
    ease = get_easing("ease")
    assert ease(0.5) == pytest.approx(0.8024, abs=5e-5)
    assert ease(0.25) == pytest.approx(0.4085, abs=5e-5)


@pytest.mark.parametrize(
    "points", [(0.68, -0.55, 0.27, 1.55), (0.0, 0.0, 1.0, 1.0), (1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 1.0, 0.0)]
)
def test_bezier_solver_agrees_with_sampling_including_overshoot(points: tuple[float, ...]) -> None:
    curve = CubicBezier(*points)
    for t in np.linspace(0.02, 0.98, 13):
        assert curve(float(t)) == pytest.approx(bezier_reference(*points, float(t)), abs=1e-5)


def test_overshooting_bezier_leaves_the_unit_range() -> None:
    back = get_easing("cubic-bezier(.68,-0.55,.27,1.55)")
    assert min(back(t) for t in np.linspace(0, 1, 101)) < 0.0
    assert max(back(t) for t in np.linspace(0, 1, 101)) > 1.0


def test_inputs_outside_the_unit_interval_are_clamped() -> None:
    for name in ALL:
        ease = get_easing(name)
        assert ease(-0.5) == pytest.approx(ease(0.0), abs=1e-12)
        assert ease(1.5) == pytest.approx(ease(1.0), abs=1e-12)


def test_names_are_case_and_space_tolerant() -> None:
    assert get_easing(" Ease-In-Out ")(0.3) == get_easing("ease-in-out")(0.3)
    assert get_easing("CUBIC-BEZIER( 0.4 , 0 , 0.2 , 1 )")(0.3) == pytest.approx(
        CubicBezier(0.4, 0, 0.2, 1)(0.3)
    )


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("bounce", "unknown easing 'bounce'"),
        ("cubic-bezier(1, 2, 3)", "four numbers"),
        ("cubic-bezier(1.5, 0, 0.5, 1)", "x1 and x2 must lie in [0, 1]"),
        ("cubic-bezier(0.5, 0, -0.1, 1)", "x1 and x2 must lie in [0, 1]"),
    ],
)
def test_bad_easings_raise_usage_error(spec: str, fragment: str) -> None:
    with pytest.raises(
        UsageError, match=fragment.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
    ):
        get_easing(spec)


def test_unknown_easing_lists_the_names() -> None:
    with pytest.raises(UsageError) as info:
        get_easing("wobble")
    for name in easing_names():
        assert name in str(info.value)
    assert "cubic-bezier(x1, y1, x2, y2)" in str(info.value)


def test_bezier_overshoot_is_bounded() -> None:
    assert get_easing("cubic-bezier(0.3, -9, 0.7, 10)")(0.5) == pytest.approx(0.5)
    with pytest.raises(UsageError, match="y1 and y2 must lie within"):
        get_easing("cubic-bezier(0.3, -1e300, 0.7, 1)")
