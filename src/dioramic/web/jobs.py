"""Jobs of the web app: unguessable ids, a small pool of workers, one process per job, expiry.

A job lives in ``<root>/<id>/`` (the id is ``secrets.token_urlsafe``, the only key to it: there is
no listing). Its uploads are saved there under fixed names, its outputs go to ``out/``. Worker
threads, `workers` of them, take jobs in order from a queue; each job runs in a fresh process
(``python -m dioramic.web.worker``) so that a crash, a leak or an OpenGL context stays with that job
and a job can be stopped. Finished jobs are removed `ttl` seconds after they end; unfinished ones
`ttl` seconds after they were created, stopping them if needed.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import secrets
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dioramic.web.worker import Event, JobSpec

log = logging.getLogger(__name__)

State = Literal["queued", "running", "done", "failed"]
DOWNLOADS = frozenset(
    {"depth.png", "depth.npy", "scene.glb", "video.mp4", "video.webm", "video.gif", "render.json"}
)
"""The only file names a client may ask a job for."""
OUT_DIR = "out"


def default_workers() -> int:
    """Jobs run at once by default: one per two cores, at least 1, at most 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


@dataclass
class Job:
    """One job's state; fields change under the manager's lock while the job runs."""

    id: str
    folder: Path
    created: float
    state: State = "queued"
    stage: str = "queued"
    progress: float = 0.0
    error: str | None = None
    files: list[str] = field(default_factory=list)
    finished: float | None = None
    spec: JobSpec | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    cancelled: bool = False

    @property
    def outdir(self) -> Path:
        return self.folder / OUT_DIR


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of a job, as `GET /api/jobs/{id}` shows it."""

    id: str
    state: State
    """queued, running, done or failed."""
    progress: float
    """0..1."""
    stage: str
    """What the job is doing, in words."""
    error: str | None
    """The one-line reason when failed."""
    files: tuple[str, ...]
    """Files ready for download, in the order written."""
    queue_position: int
    """Jobs ahead of this one in the queue (0 when running or finished)."""
    expires_in: float
    """Seconds until the job and its files are removed."""


class QueueFullError(Exception):
    """Too many jobs are waiting."""


class JobManager:
    """Creates, runs, looks up and expires jobs. Thread-safe."""

    def __init__(
        self,
        root: Path,
        *,
        workers: int | None = None,
        ttl: float = 3600.0,
        max_queued: int = 32,
        sweep_interval: float = 30.0,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self.max_queued = max_queued
        self.workers = workers if workers is not None else default_workers()
        self._jobs: dict[str, Job] = {}
        self._waiting: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"dioramic-web-worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        self._threads.append(
            threading.Thread(
                target=self._sweep, args=(sweep_interval,), name="dioramic-web-sweeper", daemon=True
            )
        )
        for thread in self._threads:
            thread.start()

    # -- creating and looking up -------------------------------------------------------------
    def create(self) -> Job:
        """A new job with its own empty folder; `start` queues it, `discard` drops it."""
        with self._lock:
            if len(self._waiting) >= self.max_queued:
                raise QueueFullError(f"{len(self._waiting)} jobs are waiting already: try again later")
            job_id = secrets.token_urlsafe(16)
            folder = self.root / job_id
            folder.mkdir()
            job = Job(job_id, folder, time.time())
            self._jobs[job_id] = job
            return job

    def start(self, job: Job, spec: JobSpec) -> None:
        """Queue `job` to run `spec`."""
        with self._lock:
            job.spec = spec
            self._waiting.append(job.id)
        self._queue.put(job.id)

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None (unknown, expired or removed)."""
        with self._lock:
            return self._jobs.get(job_id)

    def status(self, job_id: str) -> JobStatus | None:
        """A snapshot of the job, or None when there is no such job."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            position = self._waiting.index(job_id) if job_id in self._waiting else 0
            since = job.finished if job.finished is not None else job.created
            return JobStatus(
                id=job.id,
                state=job.state,
                progress=round(job.progress, 4),
                stage=job.stage,
                error=job.error,
                files=tuple(job.files),
                queue_position=position,
                expires_in=round(max(0.0, since + self.ttl - time.time()), 1),
            )

    def file(self, job_id: str, name: str) -> Path | None:
        """The path of a finished download of the job, or None (unknown job, name or not written yet)."""
        if name not in DOWNLOADS:
            return None
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or name not in job.files:
                return None
            path = job.outdir / name
        return path if path.is_file() else None

    # -- removing ------------------------------------------------------------------------------
    def discard(self, job_id: str) -> bool:
        """Remove the job and its files, stopping it if it runs; False when there is no such job."""
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job is None:
                return False
            job.cancelled = True
            if job_id in self._waiting:
                self._waiting.remove(job_id)
            process = job.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(job.folder, ignore_errors=True)
        return True

    def expire(self, now: float | None = None) -> list[str]:
        """Remove the jobs older than the time to live; returns their ids."""
        now = time.time() if now is None else now
        with self._lock:
            old = [
                j.id
                for j in self._jobs.values()
                if (j.finished if j.finished is not None else j.created) + self.ttl <= now
            ]
        for job_id in old:
            self.discard(job_id)
        if old:
            log.info("removed %d expired job(s)", len(old))
        return old

    def close(self) -> None:
        """Stop the workers, every running job, and remove every job's files."""
        self._closed.set()
        for _ in self._threads:
            self._queue.put(None)
        with self._lock:
            ids = list(self._jobs)
        for job_id in ids:
            self.discard(job_id)
        for thread in self._threads:
            thread.join(10)

    # -- running -------------------------------------------------------------------------------
    def _sweep(self, interval: float) -> None:
        while not self._closed.wait(interval):
            try:
                self.expire()
            except Exception:  # the sweeper must outlive a failed removal
                log.exception("removing expired jobs failed")

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None or self._closed.is_set():
                return
            with self._lock:
                job = self._jobs.get(job_id)
                if job is None or job.cancelled or job.spec is None:
                    continue
                self._waiting.remove(job_id)
                job.state, job.stage = "running", "starting"
            try:
                self._run(job)
            except Exception as exc:  # never lose a worker thread
                log.exception("job %s: the worker failed", job_id)
                self._finish(job, f"internal error: {type(exc).__name__}: {exc}")

    def _run(self, job: Job) -> None:
        read_fd, write_fd = os.pipe()
        with self._lock:
            if job.cancelled:
                os.close(read_fd)
                os.close(write_fd)
                return
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", "dioramic.web.worker", str(write_fd)],
                    stdin=subprocess.PIPE,
                    pass_fds=(write_fd,),
                )
            finally:
                os.close(write_fd)
            job.process = process
        outcome: Event | None = None
        with os.fdopen(read_fd, "rb") as events:
            try:
                assert process.stdin is not None
                pickle.dump(job.spec, process.stdin)
                process.stdin.close()
            except OSError:  # the process died at once; its exit code tells
                pass
            while True:
                try:
                    event: Event = pickle.load(events)  # from the job process we started
                except (EOFError, OSError, pickle.UnpicklingError):
                    break
                if event.kind in ("done", "error"):
                    outcome = event
                    continue
                with self._lock:
                    if event.kind == "stage":
                        job.stage = event.text
                    elif event.kind == "file" and event.text not in job.files:
                        job.files.append(event.text)
                    job.progress = max(job.progress, event.fraction)
        code = process.wait()
        if job.cancelled:
            return
        if outcome is None:
            self._finish(job, f"the job's process stopped unexpectedly (exit code {code})")
        elif outcome.kind == "error":
            self._finish(job, outcome.text)
        else:
            self._finish(job, None)

    def _finish(self, job: Job, error: str | None) -> None:
        with self._lock:
            job.finished = time.time()
            job.process = None
            if error is None:
                job.state, job.stage, job.progress = "done", "done", 1.0
            else:
                job.state, job.stage, job.error = "failed", "failed", error
