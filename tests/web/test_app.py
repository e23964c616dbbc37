"""The web API through FastAPI's TestClient: real jobs in real worker processes, and every refusal."""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dioramic.export import EXPORTERS
from dioramic.web.jobs import DOWNLOADS

FAST = {"depth": "classical", "size": "32x24", "fps": "10", "duration": "0.2", "supersample": "1"}
"""Options for a job of two frames."""
Api = Any  # conftest.Api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# -- the page and the schema -------------------------------------------------------------------
def test_the_page_and_its_bundle_are_served_with_a_strict_policy(api: Api) -> None:
    page = api.client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert '<script type="module" src="/static/app.js">' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    bundle = api.client.get("/static/app.js")
    assert bundle.status_code == 200 and "javascript" in bundle.headers["content-type"]
    assert "OrbitControls" in bundle.text or "GLTFLoader" in bundle.text or len(bundle.text) > 100_000
    assert api.client.get("/static/style.css").status_code == 200


def test_options_endpoint_serves_the_generated_form(api: Api) -> None:
    schema = api.client.get("/api/options").json()
    names = [c["name"] for c in schema["controls"]]
    assert names[0] == "depth" and "motion" in names and names[-1] == "format"
    assert schema["limits"]["max_upload_bytes"] == 200_000
    assert [g["name"] for g in schema["groups"]] == ["depth", "scene", "motion", "video", "splats"]


def test_openapi_describes_the_multipart_job_form(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    post = spec["paths"]["/api/jobs"]["post"]
    props = post["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert props["photo"]["format"] == "binary" and props["timeline"]["format"] == "binary"
    assert props["fps"]["type"] == "integer" and "default" not in props["fps"]  # the format's: 30, GIF 15
    assert "classical" in props["depth"]["enum"]
    assert {"202", "413", "415", "422"} <= set(post["responses"])
    assert "/api/jobs/{job_id}/files/{name}" in spec["paths"]


# -- jobs ----------------------------------------------------------------------------------------
def _get(api: Api, url: str) -> Any:
    response = api.client.get(url)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.usefixtures("gl_available")
def test_a_job_writes_depth_scene_and_video_for_download(api: Api, photo: bytes) -> None:
    job_id = api.start(photo, **FAST)
    status = api.wait(job_id)
    assert status["state"] == "done", status["error"]
    assert status["progress"] == 1.0 and status["error"] is None
    assert status["files"] == ["depth.png", "depth.npy", "scene.glb", "video.mp4", "render.json"]
    assert set(status["urls"]) == set(status["files"])

    depth = _get(api, status["urls"]["depth.png"])
    assert depth.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(depth.content)).size == (64, 48)
    values = np.load(io.BytesIO(_get(api, status["urls"]["depth.npy"]).content))
    assert values.shape == (48, 64) and values.dtype == np.float32 and (values > 0).all()
    glb = _get(api, status["urls"]["scene.glb"])
    assert glb.content[:4] == b"glTF" and glb.headers["content-type"] == "model/gltf-binary"
    if "motion" in EXPORTERS.get("glb").options():  # the camera move, for the page to play
        (length,) = struct.unpack("<I", glb.content[12:16])
        document = json.loads(glb.content[20 : 20 + length])
        assert (
            len(document["animations"]) == 1
            and document["cameras"][0]["perspective"]["aspectRatio"] == 32 / 24
        )
    video = api.client.get(status["urls"]["video.mp4"] + "?download=true")
    assert video.content[4:8] == b"ftyp"
    assert video.headers["content-disposition"].startswith("attachment")
    summary = _get(api, status["urls"]["render.json"]).json()
    assert summary["size"] == [32, 24] and summary["frames"] == 2 and summary["depth_backend"] == "classical"


@pytest.mark.usefixtures("gl_available")
def test_a_render_reuses_the_preview_of_the_same_photo(api: Api, photo: bytes) -> None:
    preview = api.wait(api.start(photo, until="scene", depth="classical"))
    assert preview["state"] == "done"
    assert "scene.glb" in preview["files"] and not any(f.startswith("video.") for f in preview["files"])

    render = api.wait(api.start(source=preview["id"], **FAST, format="gif"))
    assert render["state"] == "done", render["error"]
    assert "video.gif" in render["files"]
    assert _get(api, render["urls"]["video.gif"]).content[:6] == b"GIF89a"
    assert _get(api, render["urls"]["render.json"]).json()["reused"] == "scene"

    # other scene settings: the depth is reused, the scene is built anew
    other = api.wait(api.start(source=preview["id"], until="scene", depth="classical", max_triangles="500"))
    summary = _get(api, other["urls"]["render.json"]).json()
    assert summary["reused"] == "depth" and summary["triangles"] <= 500


@pytest.mark.usefixtures("gl_available")
def test_an_uploaded_timeline_drives_the_motion(api: Api, photo: bytes) -> None:
    timeline = b"keyframes:\n  - {time: 0}\n  - {time: 0.3, camera: {position: [0.01, 0, 0]}}\n"
    job_id = api.start(photo, **FAST, timeline=("../../move.yaml", timeline, "application/yaml"))
    status = api.wait(job_id)
    assert status["state"] == "done", status["error"]
    summary = _get(api, status["urls"]["render.json"]).json()
    assert summary["motion"] == "timeline.yaml" and summary["frames"] == 3  # the timeline's 0.3 s
    assert sorted(p.name for p in api.jobs.get(job_id).folder.iterdir()) == [
        "out",
        "photo.png",
        "state",
        "timeline.yaml",
    ]


@pytest.mark.usefixtures("gl_available")
def test_warnings_and_the_depth_backend_reach_the_status_not_only_the_log(api: Api, photo: bytes) -> None:
    """A warning logged in the job's process (an amplitude that goes past what the scene holds) is
    in the job's status for the page; the depth backend in use is there as soon as the depth is
    made. The classical-depth notice is not repeated as a warning: the page says it in its own
    words."""
    status = api.wait(api.start(photo, until="scene", amplitude="8"))  # 'auto' depth, offline
    assert status["state"] == "done", status["error"]
    assert status["depth_backend"] == "classical"
    assert any(
        line.startswith("amplitude 8 goes past what the scene holds") for line in status["warnings"]
    ), status
    assert not any("classical depth" in line for line in status["warnings"])
    quiet = api.wait(api.start(photo, until="scene", depth="classical"))
    assert quiet["warnings"] == [] and quiet["depth_backend"] == "classical"


def test_a_learned_model_the_server_cannot_get_fails_with_advice_for_the_page(
    api: Api, photo: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hub-cache"))  # offline (conftest), nothing cached
    status = api.wait(api.start(photo, until="scene", depth="depth-anything-v2"))
    assert status["state"] == "failed" and status["depth_backend"] is None
    error = status["error"]
    assert "'depth-anything-v2' needs its model" in error and "'classical'" in error, error
    assert "--model" not in error and ".onnx" not in error  # no advice for the command line


@pytest.mark.usefixtures("gl_available")
def test_a_default_gif_is_480_pixels_at_15_fps(api: Api, photo: bytes) -> None:
    status = api.wait(api.start(photo, depth="classical", duration="0.4", supersample="1", format="gif"))
    assert status["state"] == "done", status["error"]
    with Image.open(io.BytesIO(_get(api, status["urls"]["video.gif"]).content)) as gif:
        assert gif.size == (480, 360) and gif.n_frames == 6  # the 64x48 photo's aspect; 0.4 s at 15 fps
    assert _get(api, status["urls"]["render.json"]).json()["fps"] == 15


def test_client_file_names_never_reach_the_file_system(api: Api, photo: bytes, tmp_path: Path) -> None:
    job_id = api.start(photo, filename="../../../escape.png", until="scene", depth="classical")
    folder = api.jobs.get(job_id).folder
    assert folder.parent == tmp_path / "jobs"
    assert (folder / "photo.png").is_file()
    api.wait(job_id)
    assert not list(tmp_path.rglob("escape*")) and not list(tmp_path.rglob("holiday*"))


def test_a_photo_that_cannot_be_decoded_fails_the_job_with_a_readable_message(
    api: Api, png_bytes: Any
) -> None:
    truncated = png_bytes(300, 200)[:400]  # a valid header, then nothing
    status = api.wait(api.start(truncated, until="scene", depth="classical"))
    assert status["state"] == "failed"
    assert "photo.png" in status["error"] and "\n" not in status["error"]
    assert str(api.jobs.root) not in status["error"]  # no server paths in messages


def test_a_job_can_be_deleted_and_then_is_gone(api: Api, photo: bytes) -> None:
    job_id = api.start(photo, until="scene", depth="classical")
    folder = api.jobs.get(job_id).folder
    assert api.client.delete(f"/api/jobs/{job_id}").status_code == 204
    assert not folder.exists()
    assert api.client.get(f"/api/jobs/{job_id}").status_code == 404
    assert api.client.delete(f"/api/jobs/{job_id}").status_code == 404


def test_jobs_expire(make_api: Any, photo: bytes) -> None:
    with make_api(ttl=30.0) as api:
        job_id = api.start(photo, until="scene", depth="classical")
        status = api.wait(job_id)
        assert 0 < status["expires_in"] <= 30
        folder = api.jobs.get(job_id).folder
        assert api.jobs.expire(now=1e12) == [job_id]
        assert not folder.exists()
        assert api.client.get(f"/api/jobs/{job_id}").status_code == 404


def test_ids_are_unguessable_and_jobs_are_not_listed(api: Api, photo: bytes) -> None:
    ids = {api.start(photo, until="scene", depth="classical") for _ in range(3)}
    assert len(ids) == 3 and all(len(i) >= 22 for i in ids)
    assert api.client.get("/api/jobs").status_code in (404, 405)


# -- refusals --------------------------------------------------------------------------------------
def _refused(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str), detail
    for word in words:
        assert word in detail


def test_an_upload_over_the_limit_is_refused_with_413(make_api: Any) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (100, 100, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(noise).save(out, format="PNG")
    big = out.getvalue()
    assert len(big) > 20_000
    with make_api(max_upload_bytes=20_000) as api:
        _refused(api.submit(big), 413, "larger than the limit of 0.02 MB")
        huge = b"\x89PNG" + bytes(1_200_000)  # beyond the whole body's limit: stopped while read
        _refused(api.submit(huge), 413, "larger than the limit")
        assert not any(api.jobs.root.iterdir())


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"this is a text file, not a photo\n", ("not a photo",)),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", ("not a photo",)),
        (b"P6\n2 2\n255\n" + bytes(12), ("PPM images are not accepted",)),
        (b"", ("empty",)),
    ],
)
def test_non_images_are_refused_with_415(api: Api, payload: bytes, words: tuple[str, ...]) -> None:
    _refused(api.submit(payload), 415, *words)
    assert not any(api.jobs.root.iterdir())  # the job folder went with the refusal


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"fps": "0"}, ("fps", "positive")),
        ({"size": "huge"}, ("size", "WIDTHxHEIGHT")),
        ({"depth": "psychic"}, ("depth", "unknown value 'psychic'", "classical")),
        ({"motion": "spin-forever"}, ("motion", "unknown value")),
        ({"depth_map": "/etc/passwd"}, ("unknown option 'depth_map'",)),
        ({"model": "/root/model.onnx"}, ("model", "variant name")),
        ({"until": "forever"}, ("until",)),
        ({"format": "avi"}, ("format", "mp4")),
    ],
)
def test_bad_option_values_are_refused_with_422(
    api: Api, photo: bytes, fields: dict[str, str], words: tuple[str, ...]
) -> None:
    _refused(api.submit(photo, **fields), 422, *words)


def test_a_missing_photo_or_a_bad_timeline_is_refused_with_422(api: Api, photo: bytes) -> None:
    _refused(api.submit(None, depth="classical"), 422, "photo: missing")
    bad = ("t.yaml", b"keyframes: [{time: 0}, {time: -1}]\n", "application/yaml")
    _refused(api.submit(photo, timeline=bad), 422, "timeline")
    binary = ("t.json", b"\xff\xfe\x00", "application/json")
    _refused(api.submit(photo, timeline=binary), 422, "timeline")
    extra = api.client.post(
        "/api/jobs", files={"photo": ("a.png", photo, "image/png"), "script": ("x.sh", b"#!", "text/plain")}
    )
    _refused(extra, 422, "unexpected file field 'script'")
    assert not any(api.jobs.root.iterdir())


def test_unknown_jobs_and_files_are_404(api: Api, photo: bytes) -> None:
    _refused(api.client.get("/api/jobs/nosuchjob"), 404, "no such job")
    _refused(api.client.get("/api/jobs/nosuchjob/files/depth.png"), 404)
    _refused(api.submit(None, source="nosuchjob"), 404, "no such job")
    job_id = api.start(photo, until="scene", depth="classical")
    api.wait(job_id)
    assert api.client.get(f"/api/jobs/{job_id}/files/depth.png").status_code == 200
    _refused(api.client.get(f"/api/jobs/{job_id}/files/video.mp4"), 404, "not written")  # a preview
    for name in ("photo.png", "state", "depth.pkl", "upload", "render.JSON", "video.mp4 "):
        _refused(api.client.get(f"/api/jobs/{job_id}/files/{name}"), 404)
    assert "photo.png" not in DOWNLOADS


TRAVERSALS = (
    "/api/jobs/{id}/files/../photo.png",
    "/api/jobs/{id}/files/..%2Fphoto.png",
    "/api/jobs/{id}/files/%2e%2e%2fphoto.png",
    "/api/jobs/{id}/files/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/jobs/..%2F{id}/files/depth.png",
    "/api/jobs/{id}%2F..%2F{id}/files/depth.png",
    "/static/..%2F..%2Fapp.py",
    "/static/../app.py",
    "/static/%2e%2e/app.py",
)


def test_path_traversal_gets_nothing(api: Api, photo: bytes) -> None:
    job_id = api.start(photo, until="scene", depth="classical")
    api.wait(job_id)
    for path in TRAVERSALS:
        response = api.client.get(path.format(id=job_id))
        assert response.status_code == 404, path
        assert b"\x89PNG" not in response.content and b"create_app" not in response.content


def _until(condition: Any) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.usefixtures("gl_available")
def test_deleting_a_running_job_stops_its_process(api: Api, photo: bytes) -> None:
    job_id = api.start(photo, **{**FAST, "duration": "600"})  # 6000 frames: it runs until stopped
    job = api.jobs.get(job_id)
    _until(lambda: job.progress >= 0.4 or job.state == "failed")  # rendering frames
    pid = job.pid
    assert pid is not None and _alive(pid)
    assert api.client.delete(f"/api/jobs/{job_id}").status_code == 204
    assert not _alive(pid) and not job.folder.exists()


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, ended but not yet reaped, counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.usefixtures("gl_available")
def test_a_job_whose_process_dies_fails_with_a_message(api: Api, photo: bytes) -> None:
    job_id = api.start(photo, **{**FAST, "duration": "600"})
    job = api.jobs.get(job_id)
    _until(lambda: job.pid is not None and job.progress >= 0.4)
    os.kill(job.pid, signal.SIGKILL)
    status = api.wait(job_id)
    assert status["state"] == "failed" and "stopped unexpectedly" in status["error"]


def test_too_many_waiting_jobs_get_429(make_api: Any, photo: bytes) -> None:
    with make_api(max_queued=0) as api:
        _refused(api.submit(photo), 429, "try again later")


def test_requests_from_other_sites_and_host_names_are_refused(make_api: Any, photo: bytes) -> None:
    with make_api(allowed_hosts=("testserver", "localhost")) as api:
        post = api.client.post(
            "/api/jobs",
            files={"photo": ("a.png", photo, "image/png")},
            headers={"Origin": "https://evil.example"},
        )
        _refused(post, 403, "other web sites")
        sandboxed = api.client.post("/api/jobs", data={"depth": "nope"}, headers={"Origin": "null"})
        _refused(sandboxed, 403, "other web sites")
        _refused(api.client.get("/api/options", headers={"Host": "rebind.example:8000"}), 403, "unknown host")
        assert api.client.get("/api/options", headers={"Host": "localhost:8000"}).status_code == 200
        same_site = api.client.post(
            "/api/jobs", data={"depth": "nope"}, headers={"Origin": "http://testserver"}
        )
        assert same_site.status_code == 422


def test_status_reports_queue_position_and_progress(make_api: Any, photo: bytes) -> None:
    with make_api(max_upload_bytes=200_000) as api:
        first = api.start(photo, until="scene", depth="classical")
        second = api.start(photo, until="scene", depth="classical")
        status = api.client.get(f"/api/jobs/{second}").json()
        assert status["state"] in ("queued", "running", "done")
        if status["state"] == "queued":
            assert status["queue_position"] >= 0 and status["progress"] == 0.0
        done = [api.wait(first), api.wait(second)]
        assert [s["state"] for s in done] == ["done", "done"]
        assert json.dumps(done)  # plain JSON throughout
