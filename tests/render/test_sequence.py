"""Frames drawn two at a time (`GLRenderer.render_sequence`), converted to YUV 4:2:0 on the renderer
(`dioramic.render.yuv`) and drawn without holding the GIL (`dioramic.render.nogil`)."""

from __future__ import annotations

import numpy as np
import pytest

from dioramic.errors import UsageError
from dioramic.render.nogil import gl_calls
from dioramic.render.opengl import GLRenderer
from dioramic.render.video import open_writer
from dioramic.render.yuv import rgb_to_i420, rgb_to_yuv709
from dioramic.types import Pose

pytestmark = pytest.mark.usefixtures("gl")


def _poses(camera, count: int = 5) -> list[Pose]:
    return [Pose(np.array([0.05 * i, -0.02 * i, 0.1 * i]), np.eye(3), camera.fov_y) for i in range(count)]


@pytest.mark.parametrize(("supersample", "in_flight"), [(1, 1), (2, 1), (1, 2), (2, 2)])
def test_a_sequence_gives_the_frames_render_gives(
    make_quad, make_scene, camera, pattern, supersample, in_flight
):
    """One frame drawn at a time (a CPU rasteriser), or two (a GPU): the same frames as `render`."""
    near = make_quad(camera, 1.0, pattern[::-1], box=(20, 10, 40, 30), name="near")
    scene = make_scene(camera, make_quad(camera, 3.0, pattern), near)
    poses = _poses(camera)
    with GLRenderer(scene, 64, 48, supersample=supersample) as renderer:
        renderer._in_flight = in_flight
        one_by_one = [renderer.render(pose) for pose in poses]
        drawn = list(renderer.render_sequence((pose, 0.0, None) for pose in poses))
        again = renderer.render(poses[2])  # the renderer is usable after a sequence
    assert len(drawn) == len(poses)
    for a, b in zip(one_by_one, drawn, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again, one_by_one[2])
    assert not np.array_equal(drawn[0], drawn[-1])  # the poses differ, so do the frames


def _i420_of(rgb: np.ndarray) -> np.ndarray:
    """The BT.709 limited-range I420 planes of an RGB frame, chroma the mean of each 2 x 2 block."""
    h, w = rgb.shape[:2]
    y, cb, cr = rgb_to_yuv709(*(rgb[:, :, k].astype(np.float64) for k in range(3)))
    mean = rgb.astype(np.float64).reshape(h // 2, 2, w // 2, 2, 3).mean(axis=(1, 3))
    _, cb, cr = rgb_to_yuv709(*(mean[:, :, k] for k in range(3)))
    return np.concatenate([y.ravel(), cb.ravel(), cr.ravel()]).reshape(h * 3 // 2, w)


@pytest.mark.parametrize("supersample", [1, 2])
def test_yuv420_frames_are_the_rgb_frames_converted(make_quad, make_scene, camera, pattern, supersample):
    scene = make_scene(camera, make_quad(camera, 2.0, pattern))
    poses = _poses(camera, 3)
    with GLRenderer(scene, 64, 48, supersample=supersample) as renderer:
        renderer._in_flight = 2  # the planes of two frames in flight stay apart
        rgb = [renderer.render(pose) for pose in poses]
        planes = list(renderer.render_sequence(((p, 0.0, None) for p in poses), yuv420=True))
    for frame, i420 in zip(rgb, planes, strict=True):
        assert i420.shape == (72, 64) and i420.dtype == np.uint8
        assert np.abs(i420.astype(float) - _i420_of(frame)).max() <= 1.0  # rounding only


def test_the_cpu_conversion_is_the_shaders_formula() -> None:
    """`rgb_to_i420` (frames read back as RGB) gives the planes `Yuv420` draws: the same formula."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    rgb[:8] = (255, 0, 0)  # a saturated colour at the ends of the chroma range
    rgb[8:16] = 255
    i420 = rgb_to_i420(rgb)
    assert i420.shape == (72, 64) and i420.dtype == np.uint8
    expected = _i420_of(rgb)
    error = np.abs(i420.astype(float) - expected)
    assert error[:48].max() < 1.0  # luma: OpenCV's fixed-point transform, rounded
    assert error[48:].max() < 1.5  # chroma: the same, averaged after rounding
    assert error.mean() < 0.3
    with pytest.raises(ValueError, match="even"):
        rgb_to_i420(rgb[:47])


def test_an_mp4_of_rgb_frames_decodes_to_their_colours(tmp_path) -> None:
    import av

    colours = [(200, 30, 40), (20, 180, 60), (30, 60, 220), (128, 128, 128)]
    frame = np.zeros((48, 64, 3), np.uint8)
    for k, colour in enumerate(colours):
        frame[:, 16 * k : 16 * (k + 1)] = colour
    with open_writer(tmp_path / "bars.mp4", 64, 48, 10, crf=0) as writer:
        for _ in range(2):
            writer.write(frame)
    with av.open(str(tmp_path / "bars.mp4")) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 2
    for k, colour in enumerate(colours):  # the middle of each bar, away from chroma's blending
        seen = decoded[0][8:40, 16 * k + 4 : 16 * k + 12].reshape(-1, 3).astype(int)
        assert np.abs(seen - colour).max() <= 3, (k, seen.mean(axis=0))


def test_white_and_black_are_the_limited_range_ends() -> None:
    assert rgb_to_yuv709(255, 255, 255) == (235.0, 128.0, 128.0)
    assert rgb_to_yuv709(0, 0, 0) == (16.0, 128.0, 128.0)
    y, cb, cr = rgb_to_yuv709(255, 0, 0)
    assert (round(y), round(cb), round(cr)) == (63, 102, 240)


def test_an_mp4_takes_yuv420_planes_and_checks_them(tmp_path) -> None:
    import av

    grey = np.full((72, 64), 128, np.uint8)
    grey[:48] = 126  # Y of (128, 128, 128)
    with open_writer(tmp_path / "grey.mp4", 64, 48, 10) as writer:
        assert writer.takes_yuv420
        for _ in range(3):
            writer.write_yuv420(grey)
        with pytest.raises(ValueError, match="I420"):
            writer.write_yuv420(grey[:48])
    with av.open(str(tmp_path / "grey.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 3
    assert np.abs(frames[0].astype(int) - 128).max() <= 2
    with open_writer(tmp_path / "grey.gif", 64, 48, 10) as gif:
        assert not gif.takes_yuv420
        with pytest.raises(UsageError, match="RGB frames only"):
            gif.write_yuv420(grey)
        gif.write(np.zeros((48, 64, 3), np.uint8))


def test_the_calls_without_the_gil_draw_what_moderngl_draws(make_quad, make_scene, camera, pattern):
    near = make_quad(camera, 1.0, pattern[::-1], box=(20, 10, 40, 30), name="near")
    scene = make_scene(camera, make_quad(camera, 3.0, pattern), near)
    poses = _poses(camera)
    with GLRenderer(scene, 64, 48) as renderer:
        with renderer._ctx:
            assert gl_calls("egl") is not None  # EGL finds the functions: the tests use them
        assert renderer._gl is not None
        fast = list(renderer.render_sequence((p, 0.0, None) for p in poses))
        renderer._gl = None  # every call through moderngl
        plain = list(renderer.render_sequence((p, 0.0, None) for p in poses))
    for a, b in zip(fast, plain, strict=True):
        np.testing.assert_array_equal(a, b)
