"""End to end in a real headless Chromium: drop a photo, see the depth and the 3D scene, render, download.

The browser, and where the screenshots go, are set up in conftest.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .conftest import BACKGROUND, canvas_pixels

PHOTO = Path(__file__).resolve().parents[3] / "assets" / "photos" / "product_coffee_cup.jpg"


@pytest.mark.usefixtures("gl_available")
def test_photo_to_3d_preview_to_rendered_video(
    browser: Any, start_server: Any, tmp_path: Path, shots: Path
) -> None:
    _, url = start_server(tmp_path / "jobs")
    page = browser.new_page(viewport={"width": 1400, "height": 950}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(url)
    page.locator("#opt-depth option[value=classical]").wait_for(state="attached")
    assert page.locator("#opt-motion option").count() > 5  # the presets, from /api/options
    page.screenshot(path=str(shots / "dioramic-web-1-empty.png"))

    page.select_option("#opt-depth", "classical")
    page.set_input_files("#file", str(PHOTO))
    page.locator("#render:enabled").wait_for(timeout=120_000)
    page.locator("#depth:visible").wait_for(timeout=30_000)
    page.locator("#play:visible").wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "dioramic-web-2-preview.png"))
    if page.locator("#play").inner_text() == "Pause motion":  # a fast browser sways the view: stop it
        page.click("#play")

    pixels = canvas_pixels(page)
    h, w, _ = pixels.shape
    covered = np.abs(pixels.astype(int) - BACKGROUND).sum(axis=2) > 30
    assert covered.mean() > 0.5, "the 3D view shows little but the background"
    assert pixels[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].std() > 20, "the 3D view is flat"
    # dragging orbits the camera: the scene is drawn again from elsewhere
    box = page.locator("#stage3d canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 150, cy - 40, steps=5)
    page.mouse.up()
    page.wait_for_timeout(500)
    orbited = canvas_pixels(page)
    assert np.abs(orbited.astype(int) - pixels.astype(int)).mean() > 2, "dragging did not move the view"
    page.screenshot(path=str(shots / "dioramic-web-3-orbited.png"))

    page.fill("#opt-duration", "1")
    page.fill("#opt-size", "160x120")
    page.click("#render")
    page.locator("#downloads a").first.wait_for(timeout=180_000)
    assert page.locator("#pane-video").is_visible()
    assert "video.mp4" in (page.locator("#video").get_attribute("src") or "")
    assert page.locator("#percent").inner_text() == "100 %"
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "dioramic-web-4-rendered.png"))

    with page.expect_download() as download_info:
        page.locator("#downloads a", has_text="Video").click()
    target = tmp_path / "video.mp4"
    download_info.value.save_as(target)
    data = target.read_bytes()
    assert data[4:8] == b"ftyp" and len(data) > 1000

    import av

    with av.open(str(target)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (160, 120)
        assert sum(1 for _ in container.decode(stream)) == 30

    page.click("#tab-3d")
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / "dioramic-web-5-back-to-3d.png"))
    assert not errors, errors
    assert all(r.startswith(url) or r.startswith(("blob:", "data:")) for r in requests), requests


@pytest.mark.usefixtures("gl_available")
def test_the_page_explains_itself_warns_and_offers_nothing_that_cannot_work(
    browser: Any, start_server: Any, tmp_path: Path, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline, with no learned model cached: the page names the depth backend in use and how to get
    the learned one, shows the job's warnings, says 'not rendered yet' rather than 100 %, explains
    each advanced field, and when a learned backend cannot work it says so in the page's words and
    leaves neither the old preview nor the Render button."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hub-cache"))  # the server's jobs find no model
    _, url = start_server(tmp_path / "jobs")
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.locator("#opt-depth option[value=classical]").wait_for(state="attached")

    page.click("#more summary")
    for name in ("edge_threshold", "near", "far", "supersample", "crf", "inpainter", "stereo"):
        help_line = page.locator(f".field:has(#opt-{name}) .help")
        assert help_line.is_visible() and help_line.inner_text().strip(), name
    page.select_option("#opt-stereo", "anaglyph")
    assert "red-cyan" in page.locator(".field:has(#opt-stereo) .help").inner_text()
    page.select_option("#opt-stereo", "")
    refine = page.locator(".field:has(#opt-refine)").get_attribute("title") or ""
    assert "skip" not in refine and "edges" in refine  # the checkbox turns refinement on

    page.fill("#opt-amplitude", "8")
    page.set_input_files("#file", str(PHOTO))  # depth 'auto': offline, the classical estimator
    page.locator("#render:enabled").wait_for(timeout=120_000)
    info = page.locator("#depth-info")
    assert info.is_visible() and "classical" in info.inner_text()
    assert "depth-anything-v2" in info.inner_text() and "huggingface.co" in info.inner_text()
    assert page.locator("#percent").inner_text() == ""  # nothing rendered yet: no 100 %
    assert "not rendered yet" in page.locator("#stage").inner_text()
    warnings = page.locator("#warnings")
    assert warnings.is_visible() and "amplitude 8 goes past what the scene holds" in warnings.inner_text()
    page.screenshot(path=str(shots / "dioramic-web-6-classical-warning.png"))

    page.select_option("#opt-depth", "depth-anything-v2")  # no model and offline: cannot work
    page.locator("#error:visible").wait_for(timeout=120_000)
    error = page.locator("#error").inner_text()
    assert "'depth-anything-v2' needs its model" in error and "'classical'" in error
    assert "--model" not in error and ".onnx" not in error
    assert page.locator("#render").is_disabled()
    assert page.locator("#depth").is_hidden() and page.locator("#play").is_hidden()
    assert "No preview" in page.locator("#hint3d").inner_text()
    page.screenshot(path=str(shots / "dioramic-web-7-no-model.png"))

    page.select_option("#opt-depth", "classical")  # back to what works: a preview, Render again
    page.locator("#render:enabled").wait_for(timeout=120_000)
    assert page.locator("#error").is_hidden() and page.locator("#depth").is_visible()
    assert not errors, errors
