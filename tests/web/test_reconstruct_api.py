"""Reconstructions through the web API: real `dioramic reconstruct` jobs on synthetic renders, their
progress, files and errors (the command line's own lines), and every refusal before a job starts."""

from __future__ import annotations

import io
import json
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dioramic.cli import main
from dioramic.reconstruct.run import STAGES
from dioramic.web.options import reconstruct_default_motion

Api = Any  # conftest.Api
SMALL = {"max_triangles": "4000", "size": "96x72", "fps": "6", "duration": "1"}
"""A small model and a video of six frames."""

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _png(seed: int = 0, size: tuple[int, int] = (64, 48)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _mp4(path: Path, frames: list[np.ndarray], fps: int = 6) -> Path:
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "16"}
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _cli_error(paths: list[Path], out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """What `dioramic reconstruct PATHS -o OUT` says on failure, without its 'dioramic: error: '."""
    capsys.readouterr()
    assert main(["reconstruct", *map(str, paths), "-o", str(out), "-q", "--no-video"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dioramic: error: "), lines
    return lines[0].removeprefix("dioramic: error: ")


def _refused(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail
    for word in words:
        assert word in detail, detail


# -- the form ------------------------------------------------------------------------------------
def test_the_options_carry_the_reconstruction_form_and_limits(make_api: Any) -> None:
    with make_api(max_reconstruct_bytes=3_000_000, max_images=7) as api:
        schema = api.client.get("/api/options").json()["reconstruct"]
    controls = {c["name"]: c for c in schema["controls"]}
    assert [g["name"] for g in schema["groups"]] == ["model", "motion", "video", "splats"]
    assert list(controls)[:3] == ["max_triangles", "frames", "backdrop"]
    assert controls["backdrop"] | {"type": "bool", "default": True} == controls["backdrop"]
    assert controls["frames"]["default"] == 48 and controls["max_triangles"]["default"] == 200_000
    # the move is the reconstruction's own default, a preset: no timeline upload here
    assert controls["motion"]["default"] == reconstruct_default_motion() != ""
    assert "timeline" not in controls["motion"]
    assert not {"depth", "format", "inpainter", "renderer", "max_triangles_scene"} & set(controls)
    assert {"duration", "size", "fps", "amplitude", "stereo"} <= set(controls)
    assert schema["limits"]["max_bytes"] == 3_000_000 and schema["limits"]["max_files"] == 7
    assert schema["unavailable"] is None  # the reconstruct extra is installed here


def test_openapi_describes_the_reconstruction_form(api: Api) -> None:
    post = api.client.get("/openapi.json").json()["paths"]["/api/reconstructions"]["post"]
    schema = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["files"]["items"]["format"] == "binary"
    assert schema["properties"]["backdrop"]["type"] == "boolean" and schema["required"] == ["files"]
    assert {"202", "413", "415", "422", "501"} <= set(post["responses"])


# -- refusals: one line, and no job --------------------------------------------------------------
@pytest.mark.parametrize(
    ("files", "fields", "status", "words"),
    [
        ([], {}, 422, ("files: missing",)),
        ([("notes.txt", b"three photos, please\n")], {}, 415, ("notes.txt:", "neither a photo nor a video")),
        ([("a.png", _png()), ("b.png", b"")], {}, 415, ("b.png: the file is empty",)),
        ([("c.ppm", b"P6\n2 2\n255\n" + bytes(12))], {}, 415, ("c.ppm: PPM images are not accepted",)),
        ([("a.png", _png())], {"max_triangles": "many"}, 422, ("max_triangles", "positive integer")),
        ([("a.png", _png())], {"backdrop": "perhaps"}, 422, ("backdrop: expected true or false",)),
        ([("a.png", _png())], {"motion": "teleport"}, 422, ("motion: unknown value 'teleport'",)),
        ([("a.png", _png())], {"depth": "classical"}, 422, ("unknown option 'depth'", "max_triangles")),
        ([("a.png", _png())], {"format": "gif"}, 422, ("unknown option 'format'",)),
        ([("a.png", _png())], {"frames": "500"}, 422, ("frames: at most 100 on this server",)),
        ([("a.png", _png())], {"max_splats": "0"}, 422, ("max_splats",)),
    ],
)
def test_bad_uploads_and_options_are_refused_before_any_job(
    api: Api, files: list[tuple[str, bytes]], fields: dict[str, str], status: int, words: tuple[str, ...]
) -> None:
    _refused(api.reconstruct(files, **fields), status, *words)
    assert not any(api.jobs.root.iterdir())  # the job's folder went with the refusal


def test_a_video_goes_alone(api: Api, tmp_path: Path) -> None:
    video = _mp4(tmp_path / "walk.mp4", [np.full((48, 64, 3), 40 * k, np.uint8) for k in range(4)])
    _refused(api.reconstruct([video, ("a.png", _png())]), 422, "walk.mp4: give one video alone")
    assert not any(api.jobs.root.iterdir())


def test_too_many_files_or_bytes_get_413(make_api: Any) -> None:
    with make_api(max_images=3, max_reconstruct_bytes=30_000) as api:
        photos = [(f"p{k}.png", _png(k)) for k in range(4)]
        _refused(api.reconstruct(photos), 413, "too many files: at most 3 photos")
        big = [(f"p{k}.png", _png(k, (100, 100))) for k in range(3)]  # 30 kB each: past 30 kB in all
        _refused(api.reconstruct(big), 413, "larger than the limit of 0.03 MB in all")
        huge = [("huge.png", b"\x89PNG" + bytes(200_000))]  # past the whole body's limit: stopped while read
        _refused(api.reconstruct(huge), 413, "larger than the limit of 0.03 MB in all")
        assert not any(api.jobs.root.iterdir())


def test_a_reconstruction_is_not_a_source_for_a_photo_job(api: Api) -> None:
    job_id = api.reconstruct([("a.png", _png())]).json()["id"]
    _refused(api.submit(None, source=job_id, until="scene"), 404, "no such job")
    api.wait(job_id)


# -- real jobs -----------------------------------------------------------------------------------
def test_a_reconstruction_reports_its_stages_and_writes_the_model_the_video_and_splats(
    api: Api, ring_views: list[Path]
) -> None:
    response = api.reconstruct(ring_views, **SMALL, splats="true")
    assert response.status_code == 202, response.text
    seen: list[dict[str, Any]] = []
    status = api.wait(response.json()["id"], seen, limit=600)
    assert status["state"] == "done", status["error"]
    assert status["kind"] == "reconstruct" and status["progress"] == 1.0
    assert status["files"] == ["scene.glb", "video.mp4", "report.json", "splats.ply"]

    # the stages of `dioramic reconstruct`, in its own words, with a progress that only grows
    stages = [s["stage"] for s in seen if s["state"] == "running"]
    assert any(line.startswith(f"[2/{len(STAGES)}] {STAGES[1]}") for line in stages), stages
    assert any(line.startswith(f"[4/{len(STAGES)}] {STAGES[3]}") for line in stages), stages
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress) and len(set(progress)) >= 4, progress

    glb = api.client.get(status["urls"]["scene.glb"])
    assert glb.status_code == 200 and glb.content[:4] == b"glTF"
    (length,) = struct.unpack("<I", glb.content[12:16])
    document = json.loads(glb.content[20 : 20 + length])
    assert len(document["animations"]) == 1 and document["cameras"]  # the move the page plays
    assert "views" in document["scenes"][0]["extras"]  # the page orbits it all round
    video = api.client.get(status["urls"]["video.mp4"] + "?download=true")
    assert video.content[4:8] == b"ftyp" and video.headers["content-disposition"].startswith("attachment")
    splats = api.client.get(status["urls"]["splats.ply"])
    assert splats.content.startswith(b"ply\nformat binary_little_endian 1.0\n")
    assert b"property float f_dc_0" in splats.content[:1000]  # the 3DGS layout
    assert b"property float f_rest_23" in splats.content[:2000]  # colours fitted to the photos' views
    report = api.client.get(status["urls"]["report.json"]).json()
    assert report["registered"] == 6 and report["video"]["size"] == [96, 72]
    assert report["splats"]["splats"] > 1000 and report["splats"]["file"] == "splats.ply"
    assert report["splats"]["sh_degree"] == 2
    assert report["motion"] == reconstruct_default_motion()
    # the inputs are named as uploaded, never by the server's folders
    assert report["inputs"] == [p.name for p in ring_views]
    assert str(api.jobs.root) not in json.dumps(report)

    folder = api.jobs.get(status["id"]).folder
    assert api.client.delete(f"/api/jobs/{status['id']}").status_code == 204
    assert not folder.exists() and api.client.get(f"/api/jobs/{status['id']}").status_code == 404


@pytest.mark.usefixtures("gl_available")
def test_a_video_walking_around_the_object(api: Api, tmp_path: Path) -> None:
    from dioramic.render.opengl import GLRenderer

    from .conftest import _multiview

    multiview = _multiview()
    with GLRenderer(multiview.object_scene(), *multiview.SIZE, supersample=2, background=(30, 30, 30)) as gl:
        frames = [gl.render(pose) for pose in multiview.ring_poses(36)[:25]]  # 240 degrees, 10 a frame
    video = _mp4(tmp_path / "walk around.mp4", frames)
    fields = {**SMALL, "frames": "9", "backdrop": "false", "max_triangles": "2000"}
    status = api.wait(api.reconstruct([video], **fields).json()["id"], limit=600)
    assert status["state"] == "done", status["error"]
    report = api.client.get(status["urls"]["report.json"]).json()
    assert report["images_given"] == 9 and report["registered"] >= 8
    assert report["inputs"] == ["walk_around.mp4"] and report["background"] is False


def test_too_few_images_fail_with_the_command_lines_words(
    api: Api, ring_views: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = api.wait(api.reconstruct(ring_views[:2]).json()["id"])
    assert status["state"] == "failed" and status["files"] == []
    assert status["error"] == _cli_error(ring_views[:2], tmp_path / "out", capsys)
    assert "at least 3 photos" in status["error"] and "got 2: view_00.png, view_01.png" in status["error"]


def test_images_that_do_not_overlap_fail_in_one_line_naming_them(
    api: Api, unrelated_views: list[Path]
) -> None:
    status = api.wait(api.reconstruct(unrelated_views, **SMALL).json()["id"], limit=600)
    assert status["state"] == "failed"
    error = status["error"]
    assert error.startswith("could place only ") and "\n" not in error
    assert all(p.name in error for p in unrelated_views) and str(api.jobs.root) not in error


def test_reconstructions_expire_like_every_job(make_api: Any, ring_views: list[Path]) -> None:
    with make_api(ttl=30.0) as api:
        status = api.wait(api.reconstruct(ring_views[:1]).json()["id"])
        folder = api.jobs.get(status["id"]).folder
        assert status["state"] == "failed" and 0 < status["expires_in"] <= 30
        assert api.jobs.expire(time.time() + 31) == [status["id"]]
        assert not folder.exists() and api.client.get(f"/api/jobs/{status['id']}").status_code == 404


def test_deleting_a_running_reconstruction_stops_it_and_leaves_nothing(
    api: Api, ring_views: list[Path]
) -> None:
    job_id = api.reconstruct(ring_views, **SMALL).json()["id"]
    job = api.jobs.get(job_id)
    deadline = time.monotonic() + 300
    while not (job.pid is not None and job.stage[:1] == "[" and job.stage[:3] != "[1/"):  # past reading
        assert time.monotonic() < deadline and job.state != "failed", job.error
        time.sleep(0.05)
    pid = job.pid
    assert api.client.delete(f"/api/jobs/{job_id}").status_code == 204
    assert (
        not Path(f"/proc/{pid}").exists()
        or Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    )
    assert not job.folder.exists() and not any(api.jobs.root.iterdir())
