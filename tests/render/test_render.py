"""render_frames / render_video: frame timing, overlapped encoding, reports, stereo, clean failures."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from dioramic.errors import UsageError
from dioramic.render import RenderSettings, frame_times, render_frames, render_video
from dioramic.render.video import MP4Writer
from dioramic.types import Pose

SMALL = {"width": 64, "height": 48, "fps": 10.0, "duration": 1.0}


@dataclass
class Slide:
    """A motion for the tests: the camera slides right at `speed` m/s; records the times asked."""

    fov_y: float
    duration: float = 1.0
    speed: float = 0.5
    fail_at: float | None = None
    times: list[float] = field(default_factory=list)

    def pose(self, t: float) -> Pose:
        if self.fail_at is not None and t >= self.fail_at:
            raise RuntimeError("motion failed")
        self.times.append(t)
        return Pose(np.array([self.speed * t, 0.0, 0.0]), np.eye(3), self.fov_y)


@pytest.fixture
def scene(make_quad, make_scene, camera, pattern):
    return make_scene(camera, make_quad(camera, 2.0, pattern, box=(8, 8, 56, 40)))


def test_settings_validate_and_count_frames():
    settings = RenderSettings(fps=24, duration=2.5)
    assert settings.frame_count == 60
    assert settings.frame_size == (1280, 720)
    assert RenderSettings(stereo="sbs").frame_size == (2560, 720)
    assert RenderSettings(crf=20).codec_options() == {"crf": 20}
    bad_values = [{"width": 8}, {"fps": 0}, {"duration": -1}, {"supersample": 9}, {"stereo": "3d"}]
    for bad in bad_values:
        with pytest.raises(UsageError):
            RenderSettings(**bad)


def test_frame_times_are_i_over_fps_held_at_the_motion_end(camera):
    motion = Slide(camera.fov_y, duration=0.5)
    times = frame_times(RenderSettings(**SMALL), motion)
    assert len(times) == 10
    assert times[:6] == [i / 10 for i in range(6)]
    assert times[6:] == [0.5] * 4


@pytest.mark.usefixtures("gl")
def test_render_frames_follows_the_motion(scene, camera):
    motion = Slide(camera.fov_y)
    frames = list(render_frames(scene, motion, RenderSettings(**SMALL)))
    assert len(frames) == 10
    assert motion.times == [i / 10 for i in range(10)]
    assert all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for f in frames)
    # The camera slides right, so the quad's left edge moves left from frame to frame.
    left_edges = [int(np.nonzero(f[24].any(axis=1))[0][0]) for f in frames]
    assert left_edges == sorted(left_edges, reverse=True)
    assert left_edges[0] - left_edges[-1] >= 5


@pytest.mark.usefixtures("gl")
def test_render_video_writes_and_reports(scene, camera, tmp_path):
    output = tmp_path / "clip.mp4"
    settings = RenderSettings(**SMALL, crf=23, measure="all")
    report = render_video(scene, Slide(camera.fov_y), output, settings, progress=False)
    assert report.output == output
    assert (report.frames, report.width, report.height, report.fps) == (10, 64, 48, 10.0)
    assert report.measured_frames == tuple(range(10)) and len(report.uncovered) == 10
    # The quad covers half the frame (48 x 32 of 64 x 48), then slides partly out of view.
    assert report.uncovered[0] == pytest.approx(0.5, abs=0.01)
    assert report.uncovered[-1] > report.uncovered[0]
    # Steady while the quad is in view, then growing as it slides out.
    assert all(b > a - 1e-3 for a, b in itertools.pairwise(report.uncovered))
    assert report.render_seconds > 0 and report.encode_seconds > 0
    assert report.total_seconds >= report.render_seconds
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == 10


@pytest.mark.usefixtures("gl")
def test_sampled_measures_are_the_full_measures_of_those_frames_and_change_no_frame(scene, camera, tmp_path):
    """By default three frames a second and the last are measured, in a pass of their own at the
    fit's size; what they measure is what measuring every frame finds for them, and the video's
    frames are the same whichever frames are measured."""
    motion = Slide(camera.fov_y)
    every = render_video(scene, motion, tmp_path / "all", RenderSettings(**SMALL, measure="all"))
    calls: list[tuple[int, int]] = []
    sampled = render_video(
        scene, motion, tmp_path / "sample", RenderSettings(**SMALL), progress=lambda *a: calls.append(a)
    )
    assert calls == [(i, 10) for i in range(1, 11)]  # a callable hears of every frame written
    off = render_video(scene, motion, tmp_path / "off", RenderSettings(**SMALL, measure="off"))
    assert sampled.measure == "sample" and sampled.measured_frames == (0, 3, 6, 9)
    assert sampled.measure_size == (64, 48)  # under MEASURE_SIZE: the frame's own size
    expected = [every.uncovered[i] for i in sampled.measured_frames]
    assert sampled.uncovered == pytest.approx(expected, abs=0.02)
    assert off.measured_frames == () and off.uncovered == () and off.measure_size is None
    assert off.artifacts()["max_uncovered"] == 0.0 and off.artifacts()["measured"] == "off"
    for name in sorted(p.name for p in (tmp_path / "all").iterdir()):
        frames = [np.asarray(Image.open(tmp_path / mode / name)) for mode in ("all", "sample", "off")]
        assert np.array_equal(frames[0], frames[1]) and np.array_equal(frames[0], frames[2]), name


def test_the_sample_is_three_frames_a_second_and_the_last_at_the_fits_size():
    settings = RenderSettings(width=1280, height=720, fps=30, duration=5.0)
    frames = settings.measured_frames()
    assert frames[:3] == (0, 10, 20) and frames[-2:] == (140, 149) and len(frames) == 16
    assert settings.measure_size() == (384, 216)
    assert RenderSettings(measure="all").measure_size() == (1280, 720)
    with pytest.raises(UsageError, match="measure must be"):
        RenderSettings(measure="some")  # type: ignore[arg-type]


@pytest.mark.usefixtures("gl")
def test_a_failing_motion_leaves_no_output(scene, camera, tmp_path):
    with pytest.raises(RuntimeError, match="motion failed"):
        render_video(
            scene, Slide(camera.fov_y, fail_at=0.5), tmp_path / "clip.mp4", RenderSettings(**SMALL), False
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("gl")
def test_an_encoder_error_stops_the_render(scene, camera, tmp_path, monkeypatch):
    # Fault injection: the real writer fails on its fourth frame, on the encoder thread.
    real_encode = MP4Writer._encode

    def failing_encode(self: MP4Writer, frame: Any) -> None:
        if self.frames_written == 3:
            raise OSError("disk full")
        real_encode(self, frame)

    monkeypatch.setattr(MP4Writer, "_encode", failing_encode)
    motion = Slide(camera.fov_y, duration=3.0)
    settings = RenderSettings(**{**SMALL, "duration": 3.0})
    with pytest.raises(OSError, match="disk full"):
        render_video(scene, motion, tmp_path / "clip.mp4", settings, progress=False)
    assert list(tmp_path.iterdir()) == []
    assert len(motion.times) < 30  # the render thread stopped early


def test_a_renderer_that_cannot_start_fails_cleanly(scene, camera, tmp_path, monkeypatch):
    """No OpenGL context (e.g. no driver): the render thread's error reaches the caller, before the
    encoder is opened, and nothing is left behind."""
    import dioramic.render
    from dioramic.render.context import GLContextError

    def no_context(*args: Any, **kwargs: Any) -> Any:
        raise GLContextError("cannot create an OpenGL 3.3 context with EGL (no driver)")

    monkeypatch.setattr(dioramic.render, "_renderer", no_context)
    with pytest.raises(GLContextError, match="no driver"):
        render_video(scene, Slide(camera.fov_y), tmp_path / "clip.mp4", RenderSettings(**SMALL), False)
    assert list(tmp_path.iterdir()) == []


def test_bad_encoder_options_fail_before_rendering(scene, camera, tmp_path):
    motion = Slide(camera.fov_y)
    with pytest.raises(UsageError, match="unknown x264 preset 'quick'"):
        render_video(scene, motion, tmp_path / "clip.mp4", RenderSettings(**SMALL, preset="quick"), False)
    with pytest.raises(UsageError, match="gif writer has no option preset"):
        render_video(scene, motion, tmp_path / "clip.gif", RenderSettings(**SMALL, preset="fast"), False)
    assert motion.times == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("gl")
@pytest.mark.parametrize(("cores", "software", "suffix", "threads"), [
    ("2", True, "mp4", 1), ("8", True, "mp4", 2), ("8", False, "mp4", None), ("2", True, "webm", None),
])  # fmt: skip
def test_beside_a_cpu_rasteriser_x264_gets_a_quarter_of_its_cores(
    scene, camera, tmp_path, monkeypatch, cores, software, suffix, threads
):
    """llvmpipe's threads fill the cores: x264's own (1.5 a core by default) would only compete with
    them. On a GPU x264 and VP9 keep their automatic threads."""
    import dioramic.render
    from dioramic.render.opengl import GLRenderer

    asked = []
    real = dioramic.render.open_writer

    def spy(*args: Any, **options: Any) -> Any:
        asked.append(options)
        return real(*args, **options)

    monkeypatch.setenv("LP_NUM_THREADS", cores)
    monkeypatch.setattr(GLRenderer, "software", property(lambda self: software))
    monkeypatch.setattr(dioramic.render, "open_writer", spy)
    settings = RenderSettings(**SMALL)
    report = render_video(scene, Slide(camera.fov_y), tmp_path / f"clip.{suffix}", settings, progress=False)
    assert report.frames == 10
    assert asked == [{} if threads is None else {"threads": threads}]


@pytest.mark.usefixtures("gl")
def test_stereo_side_by_side_and_anaglyph(scene, camera, tmp_path):
    motion = Slide(camera.fov_y, speed=0.0)
    settings = RenderSettings(**SMALL, stereo="sbs", eye_separation=0.05)
    sbs = next(iter(render_frames(scene, motion, settings)))
    assert sbs.shape == (48, 128, 3)
    left, right = sbs[:, :64], sbs[:, 64:]
    # The quad sits on the focus plane: zero parallax, both eyes see it in the same place.
    np.testing.assert_allclose(left.astype(int), right.astype(int), atol=2)
    anaglyph = next(iter(render_frames(scene, motion, dataclasses.replace(settings, stereo="anaglyph"))))
    assert anaglyph.shape == (48, 64, 3)
    np.testing.assert_array_equal(anaglyph[..., 0], left[..., 0])
    np.testing.assert_array_equal(anaglyph[..., 1:], right[..., 1:])
    report = render_video(scene, motion, tmp_path / "frames/", settings, progress=False)
    assert (report.width, report.height, report.frames) == (128, 48, 10)
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == 10


@pytest.mark.usefixtures("gl")
def test_on_a_gpu_the_renderer_hands_the_encoder_yuv(scene, camera, tmp_path, monkeypatch):
    """Where the renderer runs on a GPU, the frames reach the encoder as I420 planes converted there;
    the video is the same as from RGB frames, within the encoder's rounding."""
    from dioramic.render.opengl import GLRenderer

    motion = Slide(camera.fov_y)
    settings = RenderSettings(**{**SMALL, "crf": 0})
    rgb = render_video(scene, motion, tmp_path / "rgb.mp4", settings, progress=False)
    written = []
    real = MP4Writer.write_yuv420

    def spy(self: MP4Writer, planes: np.ndarray) -> None:
        written.append(planes.shape)
        real(self, planes)

    monkeypatch.setattr(GLRenderer, "software", property(lambda self: False))
    monkeypatch.setattr(MP4Writer, "write_yuv420", spy)
    yuv = render_video(scene, motion, tmp_path / "yuv.mp4", settings, progress=False)
    assert len(written) == yuv.frames == rgb.frames
    with av.open(str(tmp_path / "rgb.mp4")) as a, av.open(str(tmp_path / "yuv.mp4")) as b:
        for x, y in zip(a.decode(video=0), b.decode(video=0), strict=True):
            diff = np.abs(x.to_ndarray(format="rgb24").astype(int) - y.to_ndarray(format="rgb24"))
            assert diff.mean() < 2.0
