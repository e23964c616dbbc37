"""Property tests: whatever a timeline file holds, reading it raises only dioramic errors.

A file either gives a `Timeline` whose poses are finite at every time, or an `InputError` (a
`UsageError` only for the caller's own arguments), never KeyError, TypeError, ValueError, ...
"""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dioramic.errors import DioramicError, InputError
from dioramic.motion import Timeline, parse_timeline
from dioramic.types import Camera, Scene

SCENE = Scene((), Camera.from_fov(64, 48, 46.4), near=1.0, far=6.0, focus=2.5)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = [
    "version", "description", "units", "fps", "duration", "loop", "easing", "pivot", "keyframes", "time",
    "frame", "camera", "object", "position", "look_at", "rotation", "quaternion", "fov", "scale",
    "translation",
]  # fmt: skip
WORDS = [
    "relative",
    "metres",
    "subject",
    "linear",
    "ease-in-out",
    "cubic-bezier(0.5, -2, 0.5, 3)",
    "sine",
    "x",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-3.0, max_value=200.0),
    st.sampled_from(WORDS),
    st.text(max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5)), inner, max_size=6),
    ),
    max_leaves=40,
)


def numbers(size: int) -> st.SearchStrategy:
    return st.lists(st.floats(min_value=-5.0, max_value=5.0), min_size=size, max_size=size)


def documents(junk: bool) -> st.SearchStrategy:
    """Documents shaped like timelines; with `junk`, any field may hold anything (one time in four)."""

    def mostly(valid: st.SearchStrategy) -> st.SearchStrategy:
        return st.one_of(valid, valid, valid, json_values) if junk else valid

    angles = numbers(3).map(lambda v: [100 * x for x in v])
    scales = st.lists(st.floats(0.1, 3.0), min_size=3, max_size=3)
    orientation = st.one_of(
        st.fixed_dictionaries({}),
        st.fixed_dictionaries({"look_at": mostly(st.one_of(numbers(3), st.just("subject")))}),
        st.fixed_dictionaries({"rotation": mostly(angles)}),
        st.fixed_dictionaries({"quaternion": mostly(numbers(4))}),
    )
    camera = st.tuples(
        orientation,
        st.fixed_dictionaries(
            {}, optional={"position": mostly(numbers(3)), "fov": mostly(st.floats(1.0, 170.0))}
        ),
    ).map(lambda parts: {**parts[0], **parts[1]})
    obj = st.tuples(
        st.one_of(
            st.fixed_dictionaries({}),
            st.fixed_dictionaries({"rotation": mostly(angles)}),
            st.fixed_dictionaries({"quaternion": mostly(numbers(4))}),
        ),
        st.fixed_dictionaries(
            {},
            optional={
                "scale": mostly(st.one_of(st.floats(0.1, 3.0), scales)),
                "translation": mostly(numbers(3)),
            },
        ),
    ).map(lambda parts: {**parts[0], **parts[1]})

    @st.composite
    def keyframes(draw: st.DrawFn) -> list[dict]:
        times = sorted(draw(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=5, unique=True)))
        out = []
        for time in times:
            frame = draw(st.fixed_dictionaries({}, optional={"easing": mostly(st.sampled_from(WORDS[3:7]))}))
            frame["time"] = draw(mostly(st.just(time)))
            for key, strategy in (("camera", camera), ("object", obj)):
                if draw(st.booleans()):
                    frame[key] = draw(mostly(strategy))
            out.append(frame)
        return out

    return st.fixed_dictionaries(
        {"keyframes": mostly(keyframes())},
        optional={
            "units": mostly(st.sampled_from(["relative", "metres"])),
            "duration": mostly(st.floats(10.5, 20.0)),
            "loop": mostly(st.booleans()),
            "easing": mostly(st.sampled_from(WORDS[3:7])),
            "pivot": mostly(numbers(3)),
            "version": mostly(st.just(1)),
        },
    )


def check(text: str, fmt: str) -> None:
    try:
        timeline = parse_timeline(text, SCENE, source="t." + fmt, fmt=fmt, duration=3.0)  # type: ignore[arg-type]
    except DioramicError as err:
        assert isinstance(err, InputError), err
        message = str(err)
        assert message.startswith("t." + fmt) and "\n" not in message, message
        return
    assert isinstance(timeline, Timeline)
    assert math.isfinite(timeline.duration) and timeline.duration > 0
    for t in np.linspace(0.0, timeline.duration, 5):
        pose = timeline.pose(float(t))
        for array in (pose.camera_position, pose.camera_rotation, pose.object_matrix):
            assert np.isfinite(array).all()
        np.testing.assert_allclose(pose.camera_rotation.T @ pose.camera_rotation, np.eye(3), atol=1e-6)
        assert 0 < pose.fov_y < math.pi


@SETTINGS
@given(json_values)
def test_arbitrary_json_raises_only_dioramic_errors(value: object) -> None:
    check(json.dumps(value), "json")


@SETTINGS
@given(documents(junk=True))
def test_timeline_shaped_documents_raise_only_dioramic_errors(value: dict) -> None:
    text = json.dumps(value)
    check(text, "json")
    check(text, "yaml")  # YAML reads JSON too (with its own number rules)


@SETTINGS
@given(documents(junk=False))
def test_well_formed_documents_give_finite_poses(value: dict) -> None:
    text = json.dumps(value)
    try:
        parse_timeline(text, SCENE, source="t.json", fmt="json", duration=30.0)
    except InputError as err:  # the only ways a well-formed document can still be wrong
        assert "sits on the point it looks at" in str(err) or "non-zero length" in str(err), err
    check(text, "json")


@SETTINGS
@given(
    st.text(alphabet=st.sampled_from(list("keyframes:time[]{},-&*!<>| \n\t'\"0123456789.#?%@")), max_size=80)
)
def test_arbitrary_yaml_text_raises_only_dioramic_errors(text: str) -> None:
    check(text, "yaml")


@SETTINGS
@given(st.text(max_size=60))
def test_arbitrary_unicode_raises_only_dioramic_errors(text: str) -> None:
    check(text, "yaml")
    check(text, "json")


def test_alias_bombs_and_recursive_aliases_are_refused() -> None:
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(7)
    )
    for text in (bomb, "keyframes: &k [*k]\n"):
        try:
            parse_timeline(text, SCENE, source="t.yaml")
        except InputError as err:
            assert "too large or nested too deeply" in str(err) or "not valid YAML" in str(err)
        else:
            raise AssertionError("expected an InputError")
