"""Holes, stretch and fidelity of layered scenes as the renderer sees them, and the amplitude fit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dioramic.motion import MOTION_PRESETS, make_motion
from dioramic.render.fit import ArtifactLimits, extreme_times, fit_amplitude
from dioramic.render.opengl import GLRenderer
from dioramic.scene import SceneOptions, build_scene
from dioramic.types import DepthMap, Photo, Pose, Scene

pytestmark = pytest.mark.usefixtures("gl")

WIDTH, HEIGHT = 128, 96
MAGENTA = (255, 0, 255)  # never in the test photo (its green channel is >= 40)


def _photo() -> Photo:
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH] / 16.0
    rgb = np.stack(
        [128 + 80 * np.sin(u) * np.cos(0.7 * v), 140 + 90 * np.cos(0.8 * u + v), 128 + 100 * np.sin(v)],
        axis=2,
    )
    return Photo(np.clip(rgb, 0, 255).astype(np.uint8))


def _two_planes() -> DepthMap:
    """A 1 m box in front of a 3 m wall: a depth edge all round the middle of the frame."""
    depth = np.full((HEIGHT, WIDTH), 3.0, np.float32)
    depth[28:68, 40:88] = 1.0
    return DepthMap(depth)


@pytest.fixture(scope="module")
def layered() -> Scene:
    return build_scene(_photo(), _two_planes())


@pytest.fixture(scope="module")
def single() -> Scene:
    return build_scene(_photo(), _two_planes(), SceneOptions(layers=False))


def _worst(scene: Scene, name: str, amplitude: float = 1.0, frames: int = 9) -> tuple[float, float]:
    motion = make_motion(name, scene, duration=1.0, amplitude=amplitude)
    worst = [0.0, 0.0]
    with GLRenderer(scene, 96, 72, supersample=2, background=MAGENTA) as renderer:
        for t in np.linspace(0.0, 1.0, frames):
            _, stats = renderer.render_stats(motion.pose(float(t)))
            worst = [max(worst[0], stats.uncovered), max(worst[1], stats.stretched)]
    return worst[0], worst[1]


# spin turns all the way round and capture follows the photos: both are made for models
# reconstructed from several photos
@pytest.mark.parametrize("preset", [n for n in MOTION_PRESETS.names() if n not in ("spin", "capture")])
def test_every_preset_at_its_default_amplitude_leaves_no_hole(layered: Scene, preset: str) -> None:
    uncovered, _ = _worst(layered, preset)
    assert uncovered <= 0.001


def test_the_single_mesh_shows_holes_where_the_layers_do_not(single: Scene) -> None:
    assert _worst(single, "circle")[0] > 0.005


def test_the_photo_view_reproduces_the_photo(layered: Scene) -> None:
    import cv2

    identity = Pose(np.zeros(3), np.eye(3), layered.camera.fov_y)
    with GLRenderer(layered, 96, 72, supersample=2, background=MAGENTA) as renderer:
        frame, stats = renderer.render_stats(identity)
    expected = cv2.resize(_photo().rgb, (96, 72), interpolation=cv2.INTER_AREA)
    mse = np.mean((frame.astype(np.float64) - expected) ** 2)
    assert 10 * np.log10(255.0**2 / mse) >= 35.0
    assert stats.uncovered < 0.005
    assert stats.stretched == 0.0


def test_stretch_counts_a_rubber_sheet_seen_from_the_side(single: Scene) -> None:
    # without cuts the box's outline is a steep sheet joining the box to the wall: it is stretched
    # as soon as the camera looks at it from the side, never in the photo's own view
    sheet = build_scene(_photo(), _two_planes(), SceneOptions(layers=False, edge_threshold=100.0))
    assert _worst(sheet, "still")[1] == 0.0
    assert _worst(sheet, "swing", amplitude=2.0)[1] > 0.01


def test_the_fit_keeps_a_safe_amplitude_and_lowers_an_unsafe_one(layered: Scene, single: Scene) -> None:
    def make(scene: Scene):
        return lambda a: make_motion("pan-horizontal", scene, duration=1.0, amplitude=a)

    safe = fit_amplitude(layered, make(layered), size=96)
    assert safe.amplitude == 1.0 and safe.within_limits
    limits = ArtifactLimits(uncovered=0.001, stretched=1.0)
    lowered = fit_amplitude(single, make(single), limits, size=96, iterations=4)
    assert 0.0 < lowered.amplitude < 1.0 and lowered.within_limits
    assert lowered.prediction.uncovered <= 0.001
    assert _worst(single, "pan-horizontal", lowered.amplitude)[0] < _worst(single, "pan-horizontal")[0]


def test_extreme_times_pick_both_ends_of_a_sweep(layered: Scene) -> None:
    motion = make_motion("pan-horizontal", layered, duration=2.0)
    assert sorted(extreme_times(layered, motion, count=2)) == [0.0, 2.0]
    still = make_motion("still", dataclasses.replace(layered), duration=2.0)
    assert len(extreme_times(layered, still, count=3)) == 1


def test_two_renderers_on_one_thread_each_draw_their_own_scene(layered: Scene) -> None:
    identity = Pose(np.zeros(3), np.eye(3), layered.camera.fov_y)
    with GLRenderer(layered, 64, 48) as first:
        before = first.render(identity)
        fit_amplitude(layered, lambda a: make_motion("circle", layered, duration=1.0, amplitude=a), size=64)
        after, stats = first.render_stats(identity)
    np.testing.assert_array_equal(before, after)
    assert stats.uncovered < 0.005


def test_the_frame_measures_what_it_shows_of_the_hidden_layers_and_the_margin(layered: Scene) -> None:
    identity = Pose(np.zeros(3), np.eye(3), layered.camera.fov_y)
    moved = make_motion("pan-horizontal", layered, duration=1.0, amplitude=2.0).pose(0.0)
    with GLRenderer(layered, 96, 72, supersample=2) as renderer:
        _, own = renderer.render_stats(identity)
        _, away = renderer.render_stats(moved)
    assert own.revealed < 0.002 and own.beyond == 0.0  # the photo's own view shows the photo
    assert away.revealed > 0.005  # the box's edge opens onto its hidden layer ...
    assert away.beyond > 0.005  # ... and the frame's edge onto the margin


def test_a_given_amplitudes_prediction_is_what_the_video_measures(layered: Scene, tmp_path) -> None:
    """The warning for `--amplitude N` reports the fit's prediction: it must match the render's own
    measure of its frames (within a factor of two, and the worst frame's kind of problem the same)."""
    from dioramic.render import RenderSettings, render_video

    def make(amplitude: float):
        return make_motion("swing", layered, duration=1.0, amplitude=amplitude)

    fit = fit_amplitude(layered, make, maximum=3.0, iterations=0, samples=9, size=96)
    assert fit.amplitude == 3.0
    report = render_video(
        layered,
        make(3.0),
        tmp_path / "v.mp4",
        RenderSettings(width=96, height=72, fps=12, duration=1.0, measure="all"),
    )
    for predicted, measured in (
        (fit.prediction.revealed, report.max_revealed),
        (fit.prediction.beyond, report.max_beyond),
        (fit.prediction.stretched, report.max_stretched),
    ):
        if measured > 0.002:
            assert measured / 2 <= predicted <= measured * 2
