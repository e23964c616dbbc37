"""Splats in a real splat renderer: Spark (the page's bundle) in headless Chromium, against our frames.

The browser and the screenshots' folder are conftest.py's (Debian's `chromium` and Playwright for
Python; WebGL on SwiftShader, on the CPU, so the scenes are small).
"""

from __future__ import annotations

import base64
import functools
import io
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dioramic.motion import make_motion
from dioramic.scene import SceneOptions, build_scene
from dioramic.types import DepthMap, Photo, Pose

STATIC = Path(__file__).resolve().parents[3] / "src" / "dioramic" / "web" / "static"

metrics = pytest.importorskip("skimage.metrics", reason="scikit-image is not installed (the dev extra)")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Any:
    """A loopback HTTP server of a folder holding the page's built files under /static."""
    root = tmp_path / "site"
    shutil.copytree(STATIC, root / "static")
    (root / "page.html").write_text(
        '<!doctype html><script type="module">import { renderViews } from "/static/splats.js";'
        " window.renderViews = renderViews;</script>"
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _photo(width: int, height: int) -> Photo:
    v, u = np.mgrid[0:height, 0:width] / 2.5
    rgb = np.stack(
        [128 + 80 * np.sin(u) * np.cos(0.7 * v), 140 + 90 * np.cos(0.8 * u + v), 128 + 100 * np.sin(1.7 * v)],
        axis=2,
    )
    return Photo(np.clip(rgb, 0, 255).astype(np.uint8))


def _quaternion(rotation: np.ndarray) -> list[float]:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(rotation).as_quat().tolist()  # x, y, z, w as three.js takes them


@pytest.mark.usefixtures("gl_available")
def test_spark_draws_the_splats_like_our_frames(browser: Any, site: Any, shots: Path) -> None:
    """The two-plane scene (1 m and 3 m, a depth edge down the middle) filmed at twice the photo's size,
    as the video is: from the photo's camera (SSIM >= 0.9) and as the default circle moves it (>= 0.8)."""
    from skimage.metrics import structural_similarity

    from dioramic.export import export_scene
    from dioramic.render.opengl import GLRenderer

    width, height = 96, 64
    depth = np.full((height, width), 3.0, np.float32)
    depth[:, : width // 2] = 1.0
    scene = build_scene(_photo(width, height), DepthMap(depth), SceneOptions(view_size=2 * width))
    root, url = site
    export_scene(scene, root / "splats.ply")
    motion = make_motion("circle", scene, duration=5.0)
    poses = [Pose(np.zeros(3), np.eye(3), scene.camera.fov_y), motion.pose(1.25), motion.pose(3.75)]
    size = (2 * width, 2 * height)
    with GLRenderer(scene, *size) as renderer:
        ours = [renderer.render(pose) for pose in poses]
    views = [
        {"position": p.camera_position.tolist(), "quaternion": _quaternion(p.camera_rotation),
         "fovY": float(np.degrees(p.fov_y))}
        for p in poses
    ]  # fmt: skip
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "/page.html")
    page.wait_for_function("window.renderViews !== undefined", timeout=60_000)
    frames = page.evaluate(
        "([w, h, views]) => window.renderViews('/splats.ply', {width: w, height: h, views})", [*size, views]
    )
    assert not errors, errors
    scores = []
    for k, (data, frame) in enumerate(zip(frames, ours, strict=True)):
        splatted = np.asarray(Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1]))).convert("RGB"))
        assert splatted.shape == frame.shape
        Image.fromarray(np.concatenate([splatted, frame], axis=1)).save(shots / f"splats-vs-opengl-{k}.png")
        scores.append(structural_similarity(splatted, frame, channel_axis=2, data_range=255))
    print("SSIM of Spark's frames against ours:", [round(s, 4) for s in scores])
    assert scores[0] >= 0.9, scores
    assert min(scores[1:]) >= 0.8, scores
    # the compressed SPZ of the same splats draws the same frames (its positions, turns and colours)
    export_scene(scene, root / "splats.spz")
    compressed = page.evaluate(
        "([w, h, views]) => window.renderViews('/splats.spz', {width: w, height: h, views})", [*size, views]
    )
    for data, reference in zip(compressed, frames, strict=True):
        a, b = (np.asarray(Image.open(io.BytesIO(base64.b64decode(d.split(",", 1)[1]))).convert("RGB"))
                for d in (data, reference))  # fmt: skip
        assert structural_similarity(a, b, channel_axis=2, data_range=255) > 0.95


@pytest.mark.usefixtures("gl_available")
def test_the_page_shows_a_jobs_splats(
    browser: Any, start_server: Any, png_bytes: Any, tmp_path: Path, shots: Path
) -> None:
    """With 'Splats' ticked, the preview job writes splats.ply and the 3D view switches to them."""
    _, url = start_server(tmp_path / "jobs")
    photo = tmp_path / "small.png"
    photo.write_bytes(png_bytes(96, 64))
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.locator("#opt-depth option[value=classical]").wait_for(state="attached")
    page.select_option("#opt-depth", "classical")
    page.click("#more summary")  # the splat settings are among the further settings
    page.check("#opt-splats")
    page.set_input_files("#file", str(photo))
    page.locator("#splats:visible").wait_for(timeout=120_000)
    if page.locator("#play").inner_text() == "Pause motion":
        page.click("#play")  # a still view, drawn once
    canvas = page.locator("#stage3d canvas")
    page.wait_for_timeout(500)
    mesh = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).astype(int)
    page.click("#splats")
    assert page.locator("#splats").inner_text() == "Show mesh"
    page.wait_for_timeout(3000)  # Spark sorts the splats in a worker, then draws
    page.screenshot(path=str(shots / "dioramic-web-splats.png"))
    splats = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).astype(int)
    background = np.array([0x11, 0x15, 0x1D])
    covered = np.abs(splats - background).sum(axis=2) > 30
    assert covered.mean() > 0.5, "the splat view shows little but the background"
    assert 0 < np.abs(splats - mesh).mean() < 25, "the splats should look like the mesh, drawn otherwise"
    assert "Gaussian splats" in (page.locator("#splats").get_attribute("title") or "")
    assert not errors, errors
