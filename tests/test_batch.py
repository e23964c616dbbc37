"""Batches through executors, via the real `dioramic` command: the local executor's outputs, a worker
killed mid-batch, Ctrl-C and resume, and the refusals that need no executor started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from dioramic.batch import check_shared_paths, is_done
from dioramic.cli import main
from dioramic.config import RunOptions
from dioramic.errors import UsageError

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "assets" / "photos"
DIORAMIC = Path(sys.executable).parent / "dioramic"
OUTPUTS = ["depth.npy", "depth.png", "render.json", "scene.glb", "video.mp4"]
FAST = ["--depth", "classical", "--size", "64x48", "--duration", "0.2"]


def make_photos(folder: Path, count: int, size: tuple[int, int] = (64, 48)) -> list[Path]:
    """`count` small photos made from the bundled ones."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(PHOTOS.glob("*.jpg"))
    paths = []
    for i in range(count):
        path = folder / f"photo{i}.jpg"
        Image.open(sources[i % len(sources)]).resize(size).save(path)
        paths.append(path)
    return paths


def listing(out: Path) -> dict[str, list[str]]:
    """Each output folder's files, hidden temporaries included."""
    return {d.name: sorted(p.name for p in d.iterdir()) for d in sorted(out.iterdir())}


def children(pid: int) -> list[int]:
    """The child processes of `pid` (each thread's: the executor starts jobs from its threads)."""
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, ended but not yet reaped, counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def writing_a_video(pids: list[int]) -> int | None:
    """The first of `pids` that has a video's temporary file open."""
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if "/.video.mp4." in target and target.endswith(".tmp"):
                    return pid
        except OSError:
            continue
    return None


def test_local_executor_writes_what_serial_writes(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "in", 3)
    (tmp_path / "in" / "broken.jpg").write_text("not a photo")
    runs = {}
    for executor in ("serial", "local"):
        out = tmp_path / executor
        proc = subprocess.run(
            [DIORAMIC, "run", tmp_path / "in", "-o", out, "--executor", executor, "--workers", "1", *FAST],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 1, proc.stderr
        assert "3 succeeded, 1 failed" in proc.stdout
        assert "failed: " in proc.stdout and "broken.jpg: not an image file" in proc.stdout
        assert "batch: 3/4 done, 1 failed" in proc.stderr  # the whole batch's progress
        runs[executor] = listing(out)
    assert runs["serial"] == runs["local"] == {p.stem: OUTPUTS for p in photos}


@pytest.mark.usefixtures("gl_available")
def test_a_worker_killed_mid_batch_is_run_again(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "in", 4, (160, 120))
    out = tmp_path / "out"
    args = ["run", tmp_path / "in", "-o", out, "--executor", "local", "--workers", "2"]
    args += ["--depth", "classical", "--size", "160x120", "--duration", "3"]
    proc = subprocess.Popen([DIORAMIC, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        victim = None
        deadline = time.monotonic() + 300
        while victim is None and proc.poll() is None and time.monotonic() < deadline:
            victim = writing_a_video(children(proc.pid))
            time.sleep(0.02)
        assert victim is not None, "no job process was seen rendering"
        os.kill(victim, signal.SIGKILL)  # a job process of the batch this test started
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "stopped unexpectedly (killed by SIGKILL): running it again" in stderr
    assert "4 succeeded, 0 failed" in stdout
    assert listing(out) == {p.stem: OUTPUTS for p in photos}  # the killed one's temporaries removed


@pytest.mark.usefixtures("gl_available")
def test_ctrl_c_stops_the_workers_cleanly_and_skip_existing_resumes(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "in", 3, (160, 120))
    out = tmp_path / "out"
    args = ["run", tmp_path / "in", "-o", out, "--workers", "2", "--depth", "classical", "--size", "160x120"]
    proc = subprocess.Popen(
        [DIORAMIC, *args, "--duration", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 300
    while writing_a_video(children(proc.pid)) is None and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGINT)  # to the batch's process only: it stops its workers
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    assert workers and not any(alive(pid) for pid in workers)
    for name, files in listing(out).items():
        assert not [f for f in files if f.startswith(".")], (name, files)  # no half-written outputs
        assert "video.mp4" not in files
    (out / photos[0].stem).mkdir(exist_ok=True)
    for name in OUTPUTS:  # as if the first photo had finished before the interruption
        (out / photos[0].stem / name).write_bytes(b"done")
    proc = subprocess.run(
        [DIORAMIC, *args, "--duration", "0.2", "--skip-existing"], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 succeeded, 0 failed, 1 skipped" in proc.stdout
    assert (out / photos[0].stem / "video.mp4").read_bytes() == b"done"  # not done again
    assert all(is_done(out, p.stem) for p in photos)


def test_a_remote_cluster_needs_absolute_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ray")
    photo = make_photos(tmp_path, 1)[0]
    code = main(["run", str(photo), "-o", "relative-out", "--ray-address", "auto", *FAST])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "-o relative-out: a Ray cluster's workers need an absolute path" in err
    with pytest.raises(UsageError, match=r"a photo in/a\.jpg: a Ray cluster"):
        check_shared_paths([Path("in/a.jpg")], tmp_path, RunOptions())
    check_shared_paths([photo], tmp_path, RunOptions())  # absolute: fine


def test_without_ray_the_ray_executor_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    photo = make_photos(tmp_path, 1)[0]
    code = main(["run", str(photo), "-o", str(tmp_path / "o"), "--executor", "ray", *FAST])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "pip install 'dioramic[ray]'" in err
    assert not (tmp_path / "o").exists()


def test_executor_options_that_do_not_fit_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = make_photos(tmp_path, 1)[0]
    for extra in (["--executor", "serial", "--workers", "2"], ["--executor", "local", "--ray-address", "x"]):
        assert main(["run", str(photo), "-o", str(tmp_path / "o"), *extra, *FAST]) == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_invalid_photos_fail_before_any_executor_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second --skip-existing run over a folder whose only unfinished photo is not a photo does no
    work: the photo fails a cheap check in this process; no job is made, no executor started."""
    import dioramic.batch

    photos = make_photos(tmp_path / "in", 2)
    (tmp_path / "in" / "invalid.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    out = tmp_path / "out"
    for photo in photos:  # as if a first run had done them
        (out / photo.stem).mkdir(parents=True)
        (out / photo.stem / "render.json").write_text("{}")

    def no_executor(*args: object, **kwargs: object) -> None:
        raise AssertionError("an executor was started")

    monkeypatch.setattr(dioramic.batch, "make_executor", no_executor)
    for executor in ("serial", "local", "ray"):
        args = ["run", str(tmp_path / "in"), "-o", str(out), "--skip-existing", "--executor", executor]
        assert main([*args, *FAST]) == 1
        stdout = capsys.readouterr().out
        assert "0 succeeded, 1 failed, 2 skipped" in stdout, stdout
        assert f"  failed: {tmp_path / 'in' / 'invalid.jpg'}: not an image file Pillow can read" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["photo0", "photo1"]  # nothing made for it
