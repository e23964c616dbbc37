"""The overscan: the zoom that keeps a move's frames inside the photo, as the renderer measures them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dioramic.motion import make_motion
from dioramic.motion.zoom import Zoomed
from dioramic.render.opengl import GLRenderer
from dioramic.render.overscan import MAX_BEYOND, MAX_ZOOM, fit_overscan, worst_times, zoom_needs
from dioramic.scene import build_scene
from dioramic.types import DepthMap, Photo, Scene

pytestmark = pytest.mark.usefixtures("gl")

WIDTH, HEIGHT = 128, 96


@pytest.fixture(scope="module")
def planes() -> Scene:
    """A 1 m box in front of a 3 m wall, a textured photo."""
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH] / 16.0
    rgb = np.stack([128 + 80 * np.sin(u), 140 + 90 * np.cos(0.8 * u + v), 128 + 100 * np.sin(v)], axis=2)
    depth = np.full((HEIGHT, WIDTH), 3.0, np.float32)
    depth[28:68, 40:88] = 1.0
    return build_scene(Photo(np.clip(rgb, 0, 255).astype(np.uint8)), DepthMap(depth))


def _worst_beyond(scene: Scene, motion, frames: int = 31, size: tuple[int, int] = (256, 192)) -> float:
    with GLRenderer(scene, *size, supersample=1, mipmaps=False) as renderer:
        return max(
            renderer.measure(motion.pose(float(t))).beyond for t in np.linspace(0, motion.duration, frames)
        )


def test_the_zoom_hides_what_lies_beyond_the_photo_in_every_frame(planes: Scene) -> None:
    motion = make_motion("circle", planes, duration=1.0, amplitude=1.0)
    before = _worst_beyond(planes, motion)
    fit = fit_overscan(planes, motion, aspect=planes.camera.aspect)
    assert before > 0.02  # the circle shows the margin at the frame's edges
    assert 1.0 < fit.zoom < MAX_ZOOM and not fit.capped
    assert fit.unzoomed.beyond == pytest.approx(before, rel=0.25)
    # every frame, not only the poses measured, at another size than the fit's
    assert _worst_beyond(planes, Zoomed(motion, fit.zoom)) <= 2 * MAX_BEYOND
    # the least zoom: a little less shows the margin again
    assert _worst_beyond(planes, Zoomed(motion, 1.0 + 0.7 * (fit.zoom - 1.0))) > MAX_BEYOND


def test_a_crop_of_the_measured_frame_predicts_the_zoomed_frame(planes: Scene) -> None:
    motion = make_motion("pan-horizontal", planes, duration=1.0, amplitude=1.5)
    fit = fit_overscan(planes, motion, aspect=planes.camera.aspect, zoom=1.1, extra_times=[0.0])
    assert fit.zoom == 1.1 and fit.times == (0.0,)
    with GLRenderer(planes, 384, 288, supersample=1, mipmaps=False) as renderer:
        zoomed = renderer.measure(Zoomed(motion, 1.1).pose(0.0))
        plain = renderer.measure(motion.pose(0.0))
    assert fit.unzoomed.beyond == pytest.approx(plain.beyond, abs=0.002)
    assert fit.prediction.beyond == pytest.approx(zoomed.beyond, abs=0.002)
    assert fit.prediction.revealed == pytest.approx(zoomed.revealed, abs=0.005)


def test_a_very_wide_move_keeps_the_largest_zoom_and_shows_some_margin(planes: Scene) -> None:
    motion = make_motion("pan-horizontal", planes, duration=1.0, amplitude=8.0)
    free = fit_overscan(planes, motion, aspect=planes.camera.aspect, maximum=2.0)
    assert 1.1 < free.zoom < 2.0 and not free.capped
    fit = fit_overscan(planes, motion, aspect=planes.camera.aspect, maximum=1.1)
    assert fit.zoom == pytest.approx(1.1, abs=0.01) and fit.capped
    assert fit.unzoomed.beyond > fit.prediction.beyond > MAX_BEYOND


def test_the_still_photo_needs_no_zoom(planes: Scene) -> None:
    fit = fit_overscan(planes, make_motion("still", planes, duration=1.0), aspect=planes.camera.aspect)
    assert fit.zoom == 1.0 and fit.prediction.beyond == 0.0


def test_the_poses_measured_are_where_the_border_comes_in_most(planes: Scene) -> None:
    pan = make_motion("pan-horizontal", planes, duration=2.0)
    times = worst_times(planes, pan, planes.camera.aspect, count=2)
    assert sorted(times) == pytest.approx([0.0, 2.0])  # both ends of the sweep
    needs = zoom_needs(planes, pan, [0.0, 1.0, 2.0], planes.camera.aspect)
    assert needs[1] == pytest.approx(1.0, abs=1e-6) and needs[0] > 1.0 and needs[2] > 1.0
    # a move that shows less of the photo in one direction: a wider frame, the crop of a wide video
    wide = zoom_needs(planes, pan, [0.0], 2.0 * planes.camera.aspect)
    assert not math.isclose(wide[0], needs[0])
