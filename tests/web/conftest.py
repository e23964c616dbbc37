"""Fixtures of the web app's tests: a tiny photo, a client of a real app, and a job poller."""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install 'dioramic[web]'")
pytest.importorskip("multipart", reason="the web extra is not installed: pip install 'dioramic[web]'")
pytest.importorskip("httpx", reason="httpx (for FastAPI's TestClient) is not installed")

from fastapi.testclient import TestClient

from dioramic.web.app import WebSettings, create_app


def _png_bytes(width: int = 64, height: int = 48) -> bytes:
    """A small PNG: a gradient with a bright square (a near object for the classical depth)."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 90)], axis=2).astype(np.uint8)
    rgb[height // 3 : height // 2, width // 3 : width // 2] = 230
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    return out.getvalue()


class Api:
    """A TestClient of a real app, with helpers to submit jobs and wait for them."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.jobs = client.app.state.jobs  # type: ignore[attr-defined]

    def submit(self, photo: bytes | None = None, filename: str = "holiday.png", **fields: Any) -> Any:
        files: dict[str, Any] = {}
        if photo is not None:
            files["photo"] = (filename, photo, "image/png")
        if "timeline" in fields:
            files["timeline"] = fields.pop("timeline")
        return self.client.post("/api/jobs", data=fields, files=files or None)

    def start(self, photo: bytes | None = None, **fields: Any) -> str:
        response = self.submit(photo, **fields)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def reconstruct(self, files: list[Path | tuple[str, bytes]], **fields: Any) -> Any:
        """POST /api/reconstructions with `files` (paths, or (name, content)) and option fields."""
        parts = [
            (
                "files",
                (f.name, f.read_bytes(), "application/octet-stream") if isinstance(f, Path) else (*f, "x"),
            )
            for f in files
        ]
        return self.client.post("/api/reconstructions", data=fields, files=parts or None)

    def wait(
        self, job_id: str, seen: list[dict[str, Any]] | None = None, limit: float = 120
    ) -> dict[str, Any]:
        """Poll until the job is done or failed (gives up after `limit` seconds: a hung job); each
        status polled is added to `seen`."""
        deadline = time.monotonic() + limit
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.client.get(f"/api/jobs/{job_id}").json()
            if seen is not None:
                seen.append(status)
            if status["state"] in ("done", "failed"):
                return status
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish: {status}")


@pytest.fixture
def png_bytes() -> Callable[..., bytes]:
    """png_bytes(width=64, height=48) -> a small PNG photo."""
    return _png_bytes


@pytest.fixture
def photo() -> bytes:
    return _png_bytes()


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """make_api(**WebSettings fields) -> a context manager yielding an `Api` over a fresh app."""

    @contextmanager
    def make(**settings: Any) -> Iterator[Api]:
        settings.setdefault("workdir", tmp_path / "jobs")
        settings.setdefault("workers", 1)
        with TestClient(create_app(WebSettings(**settings))) as client:
            yield Api(client)

    yield make


@pytest.fixture
def api(make_api: Callable[..., Any]) -> Iterator[Api]:
    with make_api(max_upload_bytes=200_000) as a:
        yield a


# The same two calls the CLI makes, run in a fresh interpreter as the server process.
_SERVE = """
import argparse, sys
from dioramic.web import add_serve_parser, cmd_serve
parser = argparse.ArgumentParser(prog="dioramic")
add_serve_parser(parser.add_subparsers(dest="command"))
sys.exit(cmd_serve(parser.parse_args(["serve", *sys.argv[1:]])))
"""


@pytest.fixture
def start_server() -> Iterator[Callable[..., tuple[subprocess.Popen[str], str]]]:
    """start_server(workdir=None) -> (process, URL) of `dioramic serve` on a free loopback port.

    Every server started is stopped when the test ends."""
    started: list[subprocess.Popen[str]] = []

    def start(workdir: Path | None = None) -> tuple[subprocess.Popen[str], str]:
        argv = [sys.executable, "-c", _SERVE, "--port", "0", "-q"]
        if workdir is not None:
            argv += ["--workdir", str(workdir)]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, f"the server printed no URL: {line!r}"
        url = match.group(0)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "api/options", timeout=5).close()
                return process, url
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline and process.poll() is None, "the server did not answer"
                time.sleep(0.1)

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _multiview() -> Any:
    """tests/reconstruct/conftest.py as a module: its synthetic box filmed from a ring of cameras
    (skips without the reconstruct extra, as the reconstruction's own tests do)."""
    import importlib.util

    name = "dioramic_tests_multiview"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[1] / "reconstruct" / "conftest.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@pytest.fixture(scope="session")
def ring_views(tmp_path_factory: pytest.TempPathFactory, gl_available: None) -> list[Path]:
    """Six 400x300 renders of a textured box on a textured floor from cameras 30 degrees apart
    (view_00.png ... view_05.png): enough for a real reconstruction in seconds."""
    multiview = _multiview()
    folder = tmp_path_factory.mktemp("ring-views")
    return multiview.render(multiview.object_scene(), multiview.ring_poses()[:6], folder)


@pytest.fixture(scope="session")
def unrelated_views(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four pictures of noise that share nothing: no two of them can be placed together."""
    multiview = _multiview()
    folder = tmp_path_factory.mktemp("unrelated-views")
    paths = []
    for k in range(4):
        paths.append(folder / f"noise_{k}.png")
        Image.fromarray(multiview.noise_texture(300, 100 + k)).save(paths[-1])
    return paths
