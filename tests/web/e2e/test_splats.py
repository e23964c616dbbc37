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


def test_spark_colours_the_harmonics_as_we_do(browser: Any, site: Any, shots: Path) -> None:
    """A plane of splats whose colour changes with the view (degree-2 harmonics, as a reconstruction's
    splats carry them): Spark shows, from the left and from the right, the colours our own evaluation
    gives (`dioramic.splats.harmonics.view_colours`: the 3DGS convention), from the PLY and from the
    SPZ alike (so both files lay the coefficients out as viewers read them), with the packed encoding
    the page draws with. Spark's extended encoding stores the harmonics coarsely: there the colours
    change with the view at about half their strength."""
    from dioramic.splats import Splats, write_splats
    from dioramic.splats.harmonics import view_colours

    count = 48
    ticks = (np.arange(count) + 0.5) / count - 0.5
    x, y = np.meshgrid(ticks, ticks)
    n = x.size
    sh = np.zeros((n, 8, 3), np.float32)
    # within +-0.45, as fitted ones are (99.9 % of templeSparseRing's): Spark's encoding holds +-0.5
    sh[:, 2, 0] = -0.45  # red, the -C1 x term: redder seen from the left (x < 0), looking right
    sh[:, 7, 1] = 0.45  # green, a degree-2 term (C2 (xx - yy)): greener from either side
    sh[:, 0, 2] = 0.3  # blue, -C1 y: less blue seen from below
    splats = Splats(
        means=np.stack([x.ravel(), y.ravel(), np.full(n, -2.0)], axis=1).astype(np.float32),
        normals=np.tile(np.float32([0, 0, 1]), (n, 1)),
        colours=np.tile(np.float32([0.5, 0.4, 0.5]), (n, 1)),
        opacities=np.full(n, 0.99, np.float32),
        scales=np.tile(np.float32([0.8 / count, 0.8 / count, 1e-5]), (n, 1)),
        rotations=np.tile(np.float32([1, 0, 0, 0]), (n, 1)),
        sh=sh,
    )
    root, url = site
    write_splats(splats, root / "sh.ply")
    write_splats(splats, root / "sh.spz")
    views, expected = [], []
    for angle in (-0.7, 0.0, 0.7):
        position = np.array([2.0 * np.sin(angle), -0.6, -2.0 + 2.0 * np.cos(angle)])
        back = position - np.array([0.0, 0.0, -2.0])
        back /= np.linalg.norm(back)
        right = np.cross([0.0, 1.0, 0.0], back)
        right /= np.linalg.norm(right)
        rotation = np.stack([right, np.cross(back, right), back], axis=1)
        views.append({"position": position.tolist(), "quaternion": _quaternion(rotation), "fovY": 20.0})
        middle = np.abs(splats.means[:, :2]).max(axis=1) < 0.08  # what the image's centre shows
        expected.append(view_colours(splats.subset(middle), position).mean(axis=0) * 255)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url + "/page.html")
    page.wait_for_function("window.renderViews !== undefined", timeout=60_000)
    for name in ("sh.ply", "sh.spz"):
        options = {"width": 96, "height": 96, "views": views}
        frames = page.evaluate("([name, o]) => window.renderViews('/' + name, o)", [name, options])
        assert not errors, errors
        seen = []
        for k, data in enumerate(frames):
            image = np.asarray(Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1]))).convert("RGB"))
            Image.fromarray(image).save(shots / f"harmonics-{name}-{k}.png")
            seen.append(image[40:56, 40:56].reshape(-1, 3).mean(axis=0))
        print(name, [s.round(1).tolist() for s in seen], [e.round(1).tolist() for e in expected])
        for got, want in zip(seen, expected, strict=True):
            np.testing.assert_allclose(got, want, atol=6.0)  # levels of 255
    # the views differ as the harmonics say: redder from the left, greener from the sides
    assert expected[0][0] - expected[2][0] > 40 and expected[0][1] - expected[1][1] > 15
