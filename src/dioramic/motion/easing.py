"""Easing functions: maps of progress [0, 1] -> [0, 1] (that may overshoot for some beziers), by name.

Names follow CSS timing functions, so a curve designed for the web looks the same here:

- ``linear``
- ``ease``, ``ease-in``, ``ease-out``, ``ease-in-out``: the CSS named curves (cubic beziers)
- ``sine``: half a cosine, ``(1 - cos(pi t)) / 2``, the smoothest ease-in-out
- ``cubic-bezier(x1, y1, x2, y2)``: CSS semantics, control points (0, 0), (x1, y1), (x2, y2), (1, 1);
  x1 and x2 must lie in [0, 1] so that time never runs backwards (y1 and y2 within -10..10 here).

    >>> ease = get_easing("ease-in-out")
    >>> ease(0.0), ease(0.5), ease(1.0)
    (0.0, 0.5, 1.0)
    >>> round(get_easing("cubic-bezier(0.25, 0.1, 0.25, 1)")(0.5), 4)
    0.8024
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from dioramic.errors import UsageError
from dioramic.registry import Registry

Easing = Callable[[float], float]
"""An easing function: progress in [0, 1] -> eased progress, with f(0) = 0 and f(1) = 1."""

EASINGS: Registry[Easing] = Registry("easing")

_NEWTON_STEPS = 8
_BISECTION_STEPS = 60
_TOLERANCE = 1e-12
_MAX_OVERSHOOT = 10.0  # CSS allows any y; beyond this it is a typo, and large ones overflow poses


@dataclass(frozen=True)
class CubicBezier:
    """The CSS ``cubic-bezier(x1, y1, x2, y2)`` timing function.

    The curve runs from (0, 0) to (1, 1); for an input t it solves x(s) = t for the curve parameter s
    (Newton's method, falling back to bisection) and returns y(s).
    """

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        values = (self.x1, self.y1, self.x2, self.y2)
        if not all(math.isfinite(v) for v in values):
            raise UsageError(f"cubic-bezier control points must be finite numbers, got {values}")
        if not (0.0 <= self.x1 <= 1.0 and 0.0 <= self.x2 <= 1.0):
            raise UsageError(
                f"cubic-bezier x1 and x2 must lie in [0, 1] (CSS rule), got x1={self.x1}, x2={self.x2}"
            )
        if not (abs(self.y1) <= _MAX_OVERSHOOT and abs(self.y2) <= _MAX_OVERSHOOT):
            raise UsageError(
                f"cubic-bezier y1 and y2 must lie within -{_MAX_OVERSHOOT:g}..{_MAX_OVERSHOOT:g}, "
                f"got y1={self.y1}, y2={self.y2}"
            )

    @staticmethod
    def _coordinate(s: float, p1: float, p2: float) -> float:
        # Bernstein form with P0 = 0 and P3 = 1.
        u = 1.0 - s
        return 3.0 * u * u * s * p1 + 3.0 * u * s * s * p2 + s * s * s

    @staticmethod
    def _derivative(s: float, p1: float, p2: float) -> float:
        u = 1.0 - s
        return 3.0 * u * u * p1 + 6.0 * u * s * (p2 - p1) + 3.0 * s * s * (1.0 - p2)

    def solve(self, t: float) -> float:
        """The curve parameter s in [0, 1] with x(s) = t (x is monotonic when x1, x2 lie in [0, 1])."""
        s = t
        for _ in range(_NEWTON_STEPS):
            error = self._coordinate(s, self.x1, self.x2) - t
            if abs(error) < _TOLERANCE:
                return s
            slope = self._derivative(s, self.x1, self.x2)
            if abs(slope) < 1e-9:
                break
            s -= error / slope
            if not 0.0 <= s <= 1.0:
                break
        lo, hi = 0.0, 1.0
        s = t
        for _ in range(_BISECTION_STEPS):
            x = self._coordinate(s, self.x1, self.x2)
            if abs(x - t) < _TOLERANCE:
                break
            if x < t:
                lo = s
            else:
                hi = s
            s = 0.5 * (lo + hi)
        return s

    def __call__(self, t: float) -> float:
        if t <= 0.0:
            return 0.0
        if t >= 1.0:
            return 1.0
        return self._coordinate(self.solve(t), self.y1, self.y2)


def linear(t: float) -> float:
    """No easing: constant speed."""
    return min(1.0, max(0.0, t))


def sine(t: float) -> float:
    """Half a cosine: starts and ends at rest with a continuous acceleration profile."""
    t = min(1.0, max(0.0, t))
    return 0.5 - 0.5 * math.cos(math.pi * t)


EASINGS.add("linear", linear)
EASINGS.add("ease", CubicBezier(0.25, 0.1, 0.25, 1.0))
EASINGS.add("ease-in", CubicBezier(0.42, 0.0, 1.0, 1.0))
EASINGS.add("ease-out", CubicBezier(0.0, 0.0, 0.58, 1.0))
EASINGS.add("ease-in-out", CubicBezier(0.42, 0.0, 0.58, 1.0))
EASINGS.add("sine", sine)

_NUMBER = r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*"
_BEZIER = re.compile(rf"cubic-bezier\s*\({_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}\)")


def get_easing(spec: str) -> Easing:
    """The easing named `spec` (see the module docstring); raises UsageError for an unknown one.

    >>> get_easing("linear")(0.25)
    0.25
    >>> get_easing("bounce")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dioramic.errors.UsageError: unknown easing 'bounce' (choose from: linear, ease, ...)
    """
    if not isinstance(spec, str):
        raise UsageError(f"an easing is a name, got {spec!r}")
    name = spec.strip().lower()
    if name in EASINGS:
        return EASINGS.get(name)
    match = _BEZIER.fullmatch(name)
    if match:
        x1, y1, x2, y2 = (float(g) for g in match.groups())
        return CubicBezier(x1, y1, x2, y2)
    if name.startswith("cubic-bezier"):
        raise UsageError(f"cannot read '{spec}': write cubic-bezier(x1, y1, x2, y2) with four numbers")
    raise UsageError(
        f"unknown easing '{spec}' (choose from: {', '.join(easing_names())}, cubic-bezier(x1, y1, x2, y2))"
    )


def easing_names() -> list[str]:
    """The named easings (cubic-bezier(...) is accepted besides these)."""
    return EASINGS.names()
