"""Batches on a real Ray started on this machine (2 CPUs, loopback only), through the `dioramic`
command: the same outputs as the local executor, failures in the summary, resume, a killed worker
retried, the web app's jobs, and no Ray process left behind."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("ray", reason="ray is not installed (the ray extra; 'make test' installs it)")

DIORAMIC = Path(sys.executable).parent / "dioramic"
PHOTOS = Path(__file__).resolve().parents[2] / "assets" / "photos"
OUTPUTS = ["depth.npy", "depth.png", "render.json", "scene.glb", "video.mp4"]
FAST = ["--depth", "classical", "--size", "64x48", "--duration", "0.2"]
RAY = ["--executor", "ray", "--workers", "2"]  # a Ray started here with 2 CPUs, one per photo


def make_photos(folder: Path, count: int, size: tuple[int, int] = (64, 48)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(PHOTOS.glob("*.jpg"))
    paths = []
    for i in range(count):
        paths.append(folder / f"photo{i}.jpg")
        Image.open(sources[i % len(sources)]).resize(size).save(paths[-1])
    return paths


TAG = f"DIORAMIC_RAY_TEST={os.getpid()}"
"""In the environment of the batches these tests start, and so of every process of their Ray."""


def environment() -> dict[str, str]:
    key, value = TAG.split("=")
    return {**os.environ, key: value}


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DIORAMIC, "run", *map(str, args)], capture_output=True, text=True, timeout=600, env=environment()
    )


def listing(out: Path) -> dict[str, list[str]]:
    return {d.name: sorted(p.name for p in d.iterdir()) for d in sorted(out.iterdir())}


def stamps(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def tagged_processes() -> set[int]:
    """The processes still running that these tests' batches started (Ray's servers and workers)."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and TAG.encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.add(int(proc.name))
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Ray's workers are children of its raylet, a child of the driver)."""
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                kids = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def writing_a_video(pids: list[int]) -> int | None:
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if "/.video.mp4." in target and target.endswith(".tmp"):
                    return pid
        except OSError:
            continue
    return None


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """Fail when a process that the test's batches started (Ray's) is still there after it."""
    yield
    deadline = time.monotonic() + 20
    while (left := tagged_processes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"processes left behind: {sorted(left)}"


@pytest.mark.usefixtures("gl_available", "no_leftovers")
def test_a_folder_on_ray_gives_the_local_executors_outputs_and_resumes(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "in", 5)
    (tmp_path / "in" / "invalid.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    out = tmp_path / "ray"
    proc = run(tmp_path / "in", "-o", out, *RAY, *FAST)
    assert proc.returncode == 1, proc.stderr
    assert "5 succeeded, 1 failed" in proc.stdout
    failed = [line for line in proc.stdout.splitlines() if line.startswith("  failed:")]
    assert failed == [
        f"  failed: {tmp_path / 'in' / 'invalid.jpg'}: not an image file Pillow can read "
        "(JPEG, PNG, WebP, TIFF, ...)"
    ]
    assert "Ray: started on this machine, 2 CPUs; 1 CPU per job" in proc.stderr
    assert "photo3.jpg: rendering the video" in proc.stderr  # the jobs' stages came back from Ray
    assert "batch: 5/6 done, 1 failed" in proc.stderr

    local = run(tmp_path / "in", "-o", tmp_path / "local", "--executor", "local", "--workers", "2", *FAST)
    assert local.returncode == 1 and "5 succeeded, 1 failed" in local.stdout
    assert listing(out) == listing(tmp_path / "local") == {p.stem: OUTPUTS for p in photos}

    before = stamps(out)
    again = run(tmp_path / "in", "-o", out, *RAY, *FAST, "--skip-existing")
    assert again.returncode == 1  # the invalid photo is checked again, and fails again
    assert "0 succeeded, 1 failed, 5 skipped" in again.stdout and "wrote" not in again.stdout
    assert "invalid.jpg: not an image file Pillow can read" in again.stdout
    # no work at all: the invalid photo fails a check in this process, so Ray is not even started
    assert "Ray: started" not in again.stderr and "started on" not in again.stderr, again.stderr
    assert stamps(out) == before  # no photo was done again


@pytest.mark.usefixtures("gl_available", "no_leftovers")
def test_a_ray_worker_killed_mid_batch_is_retried(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "in", 3, (160, 120))
    out = tmp_path / "out"
    args = ["run", tmp_path / "in", "-o", out, *RAY, "--depth", "classical", "--size", "160x120"]
    proc = subprocess.Popen(
        [DIORAMIC, *map(str, args), "--duration", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    try:
        victim = None
        deadline = time.monotonic() + 300
        while victim is None and proc.poll() is None and time.monotonic() < deadline:
            victim = writing_a_video(descendants(proc.pid))
            time.sleep(0.02)
        assert victim is not None, "no Ray worker was seen rendering"
        os.kill(victim, signal.SIGKILL)  # a worker of the Ray instance this test's batch started
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "3 succeeded, 0 failed" in stdout
    assert listing(out) == {p.stem: OUTPUTS for p in photos}  # the retry removed the killed one's temporaries


@pytest.mark.usefixtures("gl_available", "no_leftovers")
def test_the_web_app_runs_its_jobs_on_ray(tmp_path: Path) -> None:
    httpx = pytest.importorskip("httpx", reason="httpx is not installed (the dev extra)")
    argv = [DIORAMIC, "serve", "--port", "0", "-q", "--executor", "ray", "--workers", "1"]
    server = subprocess.Popen(
        [*map(str, argv), "--workdir", str(tmp_path / "jobs")],
        stdout=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split("serving on ", 1)[1].split(" ", 1)[0]
        photo = io.BytesIO()
        Image.open(sorted(PHOTOS.glob("*.jpg"))[0]).resize((64, 48)).save(photo, "PNG")
        form = {"depth": "classical", "size": "32x24", "fps": "10", "duration": "0.2", "supersample": "1"}
        with httpx.Client(base_url=url, timeout=30) as client:
            deadline = time.monotonic() + 120
            while True:  # the server answers once its Ray has started
                try:
                    created = client.post(
                        "/api/jobs", data=form, files={"photo": ("p.png", photo.getvalue())}
                    )
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline and server.poll() is None, "the server did not answer"
                    time.sleep(0.2)
            assert created.status_code == 202, created.text
            status_url = f"/api/jobs/{created.json()['id']}"
            while (status := client.get(status_url).json())["state"] not in ("done", "failed"):
                assert time.monotonic() < deadline + 240, status
                time.sleep(0.1)
            assert status["state"] == "done" and status["progress"] == 1.0, status
            # the files are listed as the job reports them, through Ray
            assert {"depth.png", "scene.glb", "video.mp4", "render.json"} <= set(status["files"])
            assert client.get(f"{status_url}/files/video.mp4").content[4:8] == b"ftyp"
            # a reconstruction runs there too, its inputs on the shared folder; with two photos it
            # ends with the command line's own line
            two = [("files", (name, photo.getvalue())) for name in ("a.png", "b.png")]
            created = client.post("/api/reconstructions", files=two)
            assert created.status_code == 202, created.text
            status_url = f"/api/jobs/{created.json()['id']}"
            while (status := client.get(status_url).json())["state"] not in ("done", "failed"):
                assert time.monotonic() < deadline + 360, status
                time.sleep(0.1)
            assert status["error"].startswith("a reconstruction needs at least 3 photos"), status
            assert status["error"].endswith("got 2: a.png, b.png"), status
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0


@pytest.mark.usefixtures("gl_available", "no_leftovers")
def test_a_quiet_batch_on_ray_prints_only_its_results(tmp_path: Path) -> None:
    """-q: no notice from the jobs (the classical-depth fallback, offline), no word from Ray itself."""
    make_photos(tmp_path / "in", 2)
    quiet = run(tmp_path / "in", "-o", tmp_path / "out", *RAY, "--size", "64x48", "--duration", "0.2", "-q")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert quiet.stdout.count("wrote ") == 2 and "2 succeeded, 0 failed" in quiet.stdout
