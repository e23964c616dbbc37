"""A batch of photos through an executor: the job for one photo, what --skip-existing skips, the
checks of paths that workers on other machines must see, and the loop that runs a batch and reports it
(`run_batch`, which other batch commands can share).

Whichever executor runs it, a photo's outputs go to OUTDIR/<name>/ exactly as `run_photo` writes them,
each file atomically; render.json is written last, so its presence means the photo is done.
"""

from __future__ import annotations

import logging
import os
import resource
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

from dioramic.config import RunOptions
from dioramic.errors import DioramicError, UsageError
from dioramic.executors import ExecutorSettings, Started, Task, make_executor, run_tasks
from dioramic.executors.batch import BatchProgress, Outcome
from dioramic.notices import Logged, relog

log = logging.getLogger(__name__)

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


def with_absolute_paths(options: RunOptions) -> RunOptions:
    """`options` with the files they name (depth map, models, timeline) as absolute paths."""
    changes: dict[str, object] = {}
    for f in fields(options):
        value = getattr(options, f.name)
        if isinstance(value, Path):
            changes[f.name] = absolute(value)
        elif isinstance(value, str) and Path(value).is_file():
            changes[f.name] = str(absolute(Path(value)))
    return replace(options, **changes)


def run_batch(
    inputs: Sequence[Path],
    jobs: Sequence[Task | None],
    executor: str,
    settings: ExecutorSettings,
    wrote: Callable[[int, object], str],
    *,
    echo: Callable[[str], None],
    skipped: str = "skipped",
    refused: Mapping[int, DioramicError] | None = None,
) -> int:
    """Run `jobs[i]` (a `Task`, or None to skip it) for each of `inputs` on the executor named
    `executor`; returns the exit status for the CLI (1 when one failed). A job that fails does not stop
    the others and a summary follows when there are several; with a single input its error propagates
    (the job's own exception when it ran in this process). `refused[i]` is the error of an input found
    invalid before any job (a file that is not a photo): it counts as failed, and no executor starts
    when nothing else is left to do. `echo` gets "INPUT: " + `wrote(i, result)` for each success and
    the summary lines; the log gets each job's stages and the whole batch's progress (photos done,
    failed, time left)."""
    count = len(inputs)
    refused = refused or {}
    todo = [i for i, job in enumerate(jobs) if job is not None and i not in refused]
    tasks = [jobs[i] for i in todo]
    progress = BatchProgress(len(todo) + len(refused))
    failures: list[tuple[Path, str]] = []

    def prefix(i: int) -> str:
        return inputs[i].name if count == 1 else f"[{i + 1}/{count}] {inputs[i].name}"

    for i, job in enumerate(jobs):
        if i in refused:
            if count == 1:
                raise refused[i]
            progress.record(False)
            failures.append((inputs[i], str(refused[i])))
            log.error("dioramic: error: %s", refused[i])
        elif job is None:
            log.info("%s: %s", prefix(i), skipped)

    def on_event(k: int, event: object) -> None:
        if isinstance(event, Started):
            log.debug("%s: started on %s (process %d)", prefix(todo[k]), event.host, event.pid)
        elif isinstance(event, Logged):  # a warning of a job in another process: shown here, or not
            relog(event, prefix(todo[k]))
        else:
            log.info("%s: %s", prefix(todo[k]), event)

    def on_done(outcome: Outcome) -> None:
        i = todo[outcome.index]
        progress.record(outcome.ok)
        if outcome.error is None:
            echo(f"{inputs[i]}: {wrote(i, outcome.value)}")
        elif count == 1:
            raise outcome.error.original or outcome.error  # one input: its error, as without a batch
        else:
            failures.append((inputs[i], str(outcome.error)))
            log.error("dioramic: error: %s", outcome.error)
        if len(todo) > 1:
            log.info("batch: %s", progress.line())

    if todo:
        with make_executor(executor, settings) as runner:
            run_tasks(runner, tasks, on_done=on_done, on_event=on_event)  # type: ignore[arg-type]
    if count > 1:
        left_out = count - len(todo) - len(refused)
        tail = f", {left_out} skipped" if left_out else ""
        echo(f"{progress.done} succeeded, {len(failures)} failed{tail}")
        for path, why in failures:
            # the reason may name the input as given or as the workers saw it (absolute)
            why = why.removeprefix(f"{path}: ").removeprefix(f"{Path(path).absolute()}: ")
            echo(f"  failed: {path}: {why}")
    return 1 if failures else 0
