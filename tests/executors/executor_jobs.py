"""Jobs for the executor tests, importable in the job processes (the tests put this folder on sys.path,
which the local executor hands to its processes)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from dioramic.errors import InputError, UsageError


def add(a: int, b: int) -> int:
    return a + b


def bad_input(name: str) -> None:
    raise InputError(f"{name}: not an image")


def bad_option() -> None:
    raise UsageError("--size: too big")


def bug() -> None:
    raise ValueError("boom")


def count(n: int, report: Callable[[object], None]) -> int:
    for i in range(n):
        report(f"step {i}")
    return n


def die_once(marker: str) -> str:
    """Kill this process the first time (leaving `marker`), succeed the second."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return f"second attempt in {os.getpid()}"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def wait(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def thread_limits() -> dict[str, str | None]:
    return {name: os.environ.get(name) for name in ("LP_NUM_THREADS", "OMP_NUM_THREADS")}


def unpicklable() -> object:
    return lambda: None
