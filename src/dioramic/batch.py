"""A batch of photos through an executor: the job for one photo, what --skip-existing skips, and the
checks of paths that workers on other machines must see.

Whichever executor runs it, a photo's outputs go to OUTDIR/<name>/ exactly as `run_photo` writes them,
each file atomically; render.json is written last, so its presence means the photo is done.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from dioramic.config import RunOptions
from dioramic.errors import UsageError

DONE_FILE = "render.json"
"""Written last by `run_photo`: a photo whose folder holds it is done."""


@dataclass(frozen=True)
class PhotoResult:
    """What the job for one photo wrote, and what it cost (for planning a cluster)."""

    folder: Path
    """OUTDIR/<name>."""
    files: tuple[str, ...]
    """The names of the files written, in the order written."""
    seconds: float
    """Wall-clock time of the job."""
    cpu_seconds: float
    """CPU time of the job's process while it ran, every thread counted (renderer, encoder)."""
    bytes_written: int
    """Total size of the files written."""
    peak_memory: int
    """Peak resident memory of the process that ran the job, in bytes (the whole process's life)."""


def is_done(outdir: Path, name: str) -> bool:
    """Whether the photo named `name` has all its outputs in `outdir` (resume with --skip-existing)."""
    return (outdir / name / DONE_FILE).is_file()


def photo_job(
    path: Path,
    outdir: Path,
    options: RunOptions,
    name: str,
    *,
    progress: bool = False,
    report: Callable[[object], None] | None = None,
) -> PhotoResult:
    """The whole job for one photo, as an executor runs it: temporaries an earlier, killed attempt left
    in its folder are removed, then `run_photo` writes the outputs. `report` gets each stage's name."""
    from dioramic.files import remove_partials
    from dioramic.pipeline import run_photo

    remove_partials(outdir / name)
    start, cpu = time.perf_counter(), time.process_time()
    result = run_photo(path, outdir, options, on_stage=report, name=name, progress=progress)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    size = sum(f.stat().st_size for f in result.files if f.is_file())
    return PhotoResult(
        result.folder,
        tuple(f.name for f in result.files),
        seconds,
        cpu_seconds,
        size,
        _peak_memory(),
    )


def _peak_memory() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def check_shared_paths(photos: Sequence[Path], outdir: Path, options: RunOptions) -> None:
    """For workers on other machines: refuse a relative path (theirs would not be ours). Every path must
    be absolute, on storage that every machine mounts at the same place."""
    named = [("-o", outdir), *(("a photo", p) for p in photos)]
    named += [(f"--{f.name.replace('_', '-')}", getattr(options, f.name)) for f in fields(options)]
    for what, value in named:
        if isinstance(value, str) and Path(value).is_file():  # a timeline or model file
            value = Path(value)
        if isinstance(value, Path) and not value.is_absolute():
            raise UsageError(
                f"{what} {value}: a Ray cluster's workers need an absolute path on storage they all share "
                f"(e.g. {Path('/shared') / value})"
            )


def absolute(path: Path) -> Path:
    """`path` made absolute against this process's working directory (workers may have another)."""
    return Path(os.path.abspath(path))
