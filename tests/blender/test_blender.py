"""Blender: our animated GLB imported by Blender's own glTF importer films the same video as our renderer.

The Blender tests need ``.venv-blender`` (``make blender``) and are skipped without it; the SSIM and
error-message tests run everywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from dioramic.blender import (
    BlenderError,
    BlenderUnavailableError,
    blender_available,
    export_blend,
    find_blender_python,
    inspect_blend,
    render_blend,
    render_frames_with_blender,
    render_with_blender,
)
from dioramic.blender import env as blender_env
from dioramic.export import export_scene
from dioramic.motion import make_motion, parse_timeline
from dioramic.scene import SceneOptions, build_scene
from dioramic.types import DepthMap, Photo, Scene

needs_blender = pytest.mark.skipif(
    not blender_available(), reason="no Blender environment (.venv-blender): run 'make blender'"
)

SIZE = (320, 180)
FPS = 12
MIN_SSIM = 0.9

# Every channel moves, with a sharp turn at 0.6 s (extra samples between frames).
EVERYTHING = """
keyframes:
  - time: 0
    camera: {position: [-0.04, 0.02, 0], look_at: subject, fov: 44}
    object: {rotation: [0, -5, 0]}
  - time: 0.6
    camera: {position: [0.03, -0.01, -0.1], fov: 38}
    object: {rotation: [3, 4, 2], scale: [1.1, 0.95, 1.0], translation: [0.02, 0, 0]}
  - time: 1.0
    camera: {position: [0.04, 0.0, -0.05], look_at: [0.1, 0, -1]}
"""


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two (H, W, 3) uint8 images (Wang et al. 2004: Gaussian window
    sigma 1.5, K1 = 0.01, K2 = 0.03), averaged over the channels. 1.0 = identical."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    scores = []
    for channel in range(a.shape[2]):
        x = a[:, :, channel].astype(np.float64)
        y = b[:, :, channel].astype(np.float64)

        def blur(image: np.ndarray) -> np.ndarray:
            return gaussian_filter(image, 1.5, truncate=3.5)

        mx, my = blur(x), blur(y)
        vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        index = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        scores.append(float(index.mean()))
    return float(np.mean(scores))


def _luma(image: np.ndarray) -> np.ndarray:
    """(H, W, 1) uint8 Rec. 601 luma of an (H, W, 3) uint8 RGB image."""
    return (image.astype(np.float64) @ [0.299, 0.587, 0.114]).round().astype(np.uint8)[:, :, None]


def _scene() -> Scene:
    """A photo-like 160 x 120 picture: smooth colour waves, a framed box 2 m away in front of a
    floor-to-wall slope at 4-6 m, light noise; built with the default layers."""
    height, width = 120, 160
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([128 + 100 * np.sin(x / 9.0), 128 + 100 * np.cos(y / 7.0), (x * y) % 256 * 0.5 + 60], 2)
    rgb[40:80, 50:110] = [220, 60, 40]
    rgb[50:70, 60:100] = [30, 30, 200]
    rgb = np.clip(rgb + np.random.default_rng(0).normal(0, 6, rgb.shape), 0, 255).astype(np.uint8)
    depth = (4.0 + 2.0 * y / height).astype(np.float32)
    depth[40:80, 50:110] = 2.0
    return build_scene(Photo(rgb), DepthMap(depth), SceneOptions(max_triangles=6000))


def _motion(name: str, scene: Scene):
    if name == "everything":
        return parse_timeline(EVERYTHING, scene)
    return make_motion(name, scene, duration=1.0)


def _our_frames(scene: Scene, motion, size: tuple[int, int], fps: float) -> list[np.ndarray]:
    from dioramic.render import RenderSettings, render_frames

    settings = RenderSettings(width=size[0], height=size[1], fps=fps, duration=motion.duration)
    return list(render_frames(scene, motion, settings))


def _glb(scene: Scene, motion, path: Path, size: tuple[int, int] = SIZE, fps: float = FPS) -> Path:
    # PNG textures: our renderer draws the photo itself, so a JPEG texture would differ a little
    return export_scene(scene, path, motion=motion, fps=fps, size=size, image_format="png")


def test_ssim_is_one_for_equal_images_and_drops_with_noise() -> None:
    image = np.random.default_rng(1).integers(0, 256, (40, 60, 3)).astype(np.uint8)
    assert ssim(image, image) == pytest.approx(1.0)
    noisy = np.clip(image + np.random.default_rng(2).normal(0, 40, image.shape), 0, 255).astype(np.uint8)
    assert 0.2 < ssim(image, noisy) < 0.9
    assert ssim(image, np.roll(image, 3, axis=1)) < 0.2


def test_missing_blender_says_how_to_set_it_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(blender_env.PYTHON_ENV, str(tmp_path / "nowhere" / "python"))
    with pytest.raises(BlenderUnavailableError, match="no such Python"):
        find_blender_python()
    monkeypatch.delenv(blender_env.PYTHON_ENV)
    monkeypatch.setattr(blender_env, "_candidates", lambda: [tmp_path / ".venv-blender" / "bin" / "python"])
    with pytest.raises(BlenderUnavailableError, match="make blender"):
        find_blender_python()
    scene = _scene()
    with pytest.raises(BlenderUnavailableError, match="make blender"):
        export_scene(scene, tmp_path / "scene.blend", motion=_motion("circle", scene))
    assert not (tmp_path / "scene.blend").exists()


@needs_blender
@pytest.mark.parametrize("name", ["dolly-zoom", "turntable", "orbit", "everything"])
def test_workbench_frames_match_our_renderer(name: str, tmp_path: Path) -> None:
    scene = _scene()
    motion = _motion(name, scene)
    glb = _glb(scene, motion, tmp_path / "scene.glb")
    count = round(motion.duration * FPS)
    frames = [0, count // 2, count - 1]  # first, middle, last
    theirs = render_frames_with_blender(glb, frames, engine="workbench")
    ours = _our_frames(scene, motion, SIZE, FPS)
    scores = [ssim(ours[i], image) for i, image in zip(frames, theirs, strict=True)]
    assert all(image.shape == (SIZE[1], SIZE[0], 3) for image in theirs)
    assert min(scores) >= MIN_SSIM, scores
    # and a frame from elsewhere in the video does not match: the test sees timing errors
    assert ssim(ours[count - 1], theirs[0]) < min(scores)


@needs_blender
def test_blend_file_holds_the_video_settings_and_renders_it(tmp_path: Path) -> None:
    import av

    scene = _scene()
    motion = _motion("dolly-zoom", scene)
    size = (160, 90)
    blend = export_scene(
        scene, tmp_path / "scene.blend", motion=motion, fps=FPS, size=size, engine="workbench"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.blend"]
    info = inspect_blend(blend)
    count = round(motion.duration * FPS)
    assert (info.frame_start, info.frame_end, info.frame_count) == (1, count, count)
    assert info.fps == pytest.approx(FPS)
    assert (info.width, info.height) == size
    assert (info.file_format, info.container, info.codec) == ("FFMPEG", "MPEG4", "H264")
    assert info.output == "//scene.mp4" and info.output_absolute == str(tmp_path / "scene.mp4")
    assert info.view_transform == "Standard" and info.packed_images >= 1
    camera = info.camera
    assert camera["name"] == "video camera" and camera["sensor_fit"] == "VERTICAL"
    # a key on every video frame and the closing one (and between frames where this fast move needs
    # them); the zoom is keyed too, through KHR_animation_pointer
    frames = {float(f) for f in range(1, count + 2)}
    for keys in (camera["transform_keys"], camera["lens_keys"]):
        assert frames <= set(keys) and min(keys) == 1.0 and max(keys) == count + 1
    assert camera["angle_y"] == pytest.approx(motion.pose(0.0).fov_y, abs=1e-6)

    video = render_blend(blend)  # what `blender -b scene.blend -a` does
    assert video == tmp_path / "scene.mp4"
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and float(stream.average_rate) == FPS
        decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert len(decoded) == count
    # H.264 stores colour at half resolution (4:2:0): compare the brightness of each frame
    ours = [_luma(frame) for frame in _our_frames(scene, motion, size, FPS)]
    decoded = [_luma(frame) for frame in decoded]
    for i in (0, count // 2, count - 1):
        scores = [ssim(ours[i], frame) for frame in decoded]
        # frame i matches best (the eased move's last frames are nearly alike)
        assert scores[i] >= MIN_SSIM and scores[i] >= max(scores) - 0.01, scores


@needs_blender
def test_fractional_frame_rates_keep_one_key_per_frame(tmp_path: Path) -> None:
    scene = _scene()
    motion = _motion("orbit", scene)
    glb = _glb(scene, motion, tmp_path / "scene.glb", size=(64, 36), fps=12.5)
    info = inspect_blend(export_blend(glb, tmp_path / "scene.blend", engine="workbench"))
    assert info.fps == pytest.approx(12.5)
    count = round(12.5 * motion.duration)
    assert info.frame_end == count
    keys = np.array(info.camera["transform_keys"])
    # every frame carries a key (the import ran at 12 fps; keys are retimed exactly), and the extra
    # samples of this fast move sit on frame halves
    np.testing.assert_allclose(keys[np.isclose(keys, np.round(keys))], np.arange(1, count + 2), atol=1e-3)
    np.testing.assert_allclose(keys * 2, np.round(keys * 2), atol=1e-3)


@needs_blender
def test_render_with_blender_cycles_writes_the_video(tmp_path: Path) -> None:
    scene = _scene()
    motion = make_motion("circle", scene, duration=0.5)
    size = (160, 90)
    glb = _glb(scene, motion, tmp_path / "scene.glb", size=size)
    out = render_with_blender(glb, tmp_path / "frames/", engine="cycles", samples=8, progress=True)
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == round(0.5 * FPS)
    from PIL import Image

    last = np.asarray(Image.open(pngs[-1]).convert("RGB"))
    assert ssim(_our_frames(scene, motion, size, FPS)[-1], last) >= MIN_SSIM


@needs_blender
def test_a_still_scene_makes_a_one_frame_blend(tmp_path: Path) -> None:
    scene = _scene()
    info = inspect_blend(export_scene(scene, tmp_path / "still.blend", engine="cycles", samples=4))
    assert (info.frame_start, info.frame_end) == (1, 1)
    assert (info.width, info.height) == (scene.camera.width, scene.camera.height)
    assert info.engine == "CYCLES" and info.camera["name"] == "photo camera"


@needs_blender
def test_blender_errors_come_back_as_one_line(tmp_path: Path) -> None:
    import trimesh

    path = tmp_path / "box.glb"
    trimesh.creation.box().export(path)  # a glTF file without a camera
    with pytest.raises(BlenderError, match="has no camera"):
        render_frames_with_blender(path, [0], fps=10, size=(32, 32), frame_count=1)


@needs_blender
def test_scripts_report_progress_and_time_out(tmp_path: Path) -> None:
    scene = _scene()
    motion = make_motion("circle", scene, duration=0.25)
    glb = _glb(scene, motion, tmp_path / "scene.glb", size=(32, 18))
    seen: list[tuple[int, int]] = []
    params = {"glb": str(glb), "out": str(tmp_path), "fps": FPS, "width": 32, "height": 18}
    params |= {"frame_count": 3, "first_frame": 1, "engine": "workbench", "frames": None}
    result = blender_env.run_script("render", params, on_progress=lambda *p: seen.append(p))
    # 0 once the scene is loaded (the frames' clock starts there), then each frame
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)] and len(result["files"]) == 3
    with pytest.raises(BlenderError, match="ran past"):
        blender_env.run_script("render", params, timeout=0.05)
