"""`dioramic serve`: its arguments, and a real server process answering on a free port."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from dioramic.errors import UsageError
from dioramic.web import add_serve_parser, cmd_serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dioramic")
    add_serve_parser(parser.add_subparsers(dest="command"))
    return parser


def test_serve_arguments_and_defaults() -> None:
    args = _parser().parse_args(["serve"])
    assert (args.host, args.port, args.workers, args.max_upload, args.keep) == (
        "127.0.0.1",
        8000,
        None,
        50.0,
        60.0,
    )
    args = _parser().parse_args(
        ["serve", "--port", "0", "--workers", "2", "--max-upload", "5", "--keep", "1.5"]
    )
    assert (args.port, args.workers, args.max_upload, args.keep) == (0, 2, 5.0, 1.5)
    # a reconstruction's limits: its files in all, and how many (or how many frames of a video)
    assert (args.max_reconstruct_upload, args.max_images) == (500.0, 100)
    args = _parser().parse_args(["serve", "--max-reconstruct-upload", "80", "--max-images", "12"])
    assert (args.max_reconstruct_upload, args.max_images) == (80.0, 12)


@pytest.mark.parametrize(
    "argv",
    [["--port", "70000"], ["--port", "x"], ["--workers", "0"], ["--keep", "-1"], ["--max-images", "0"]],
)
def test_bad_serve_arguments_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["serve", *argv])
    assert exit_info.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_a_port_in_use_is_a_usage_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        args = _parser().parse_args(["serve", "--port", str(taken.getsockname()[1])])
        with pytest.raises(UsageError, match=r"cannot listen on 127\.0\.0\.1"):
            cmd_serve(args)


def test_the_server_answers_and_stops_cleanly_on_ctrl_c(start_server: Any, tmp_path: Path) -> None:
    process, url = start_server(tmp_path / "jobs")
    try:
        with urllib.request.urlopen(url + "api/options", timeout=10) as response:
            names = [c["name"] for c in json.load(response)["controls"]]
        assert "depth" in names
        request = urllib.request.Request(url + "api/options", headers={"Host": "attacker.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403  # bound to loopback: other host names are refused
    finally:
        os.kill(process.pid, signal.SIGINT)
        code = process.wait(30)
    assert code == 0
    assert not any((tmp_path / "jobs").iterdir())
