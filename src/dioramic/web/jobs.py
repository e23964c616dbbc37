"""Jobs of the web app: unguessable ids, run by an executor, expiry.

A job is a photo's (`run_job`: depth, scene, video) or a reconstruction's (`run_reconstruction`:
several photos or a video -> a 3D model). It lives in ``<root>/<id>/`` (the id is
``secrets.token_urlsafe``, the only key to it: there is no listing). Its uploads are saved there
(a photo under a fixed name, a reconstruction's files in ``inputs/`` under their own names made
safe), its outputs go to ``out/``. Jobs run on a
`dioramic.executors` executor, the same that runs `dioramic run` batches: ``local`` (the default) runs
each job in a fresh process on this machine, `workers` at once, so that a crash, a leak or an OpenGL
context stays with that job and a job can be stopped; ``ray`` runs them on a Ray cluster (the job
folder must then be on storage the cluster shares). A job whose process dies fails (it is not run
again: a web user can retry). Finished jobs are removed `ttl` seconds after they end; unfinished ones
`ttl` seconds after they were created, stopping them if needed.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
import time
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dioramic.executors import Executor, ExecutorSettings, JobError, Started, Task, make_executor
from dioramic.executors.base import cpu_count
from dioramic.notices import Logged, relog
from dioramic.web.reconstruct_job import ReconstructSpec, run_reconstruction
from dioramic.web.worker import Event, JobSpec, page_warning, run_job

log = logging.getLogger(__name__)

State = Literal["queued", "running", "done", "failed"]
DOWNLOADS = frozenset(
    {
        "depth.png",
        "depth.npy",
        "scene.glb",
        "splats.ply",
        "video.mp4",
        "video.webm",
        "video.gif",
        "render.json",
        "report.json",
    }
)
"""The only file names a client may ask a job for (report.json: a reconstruction's)."""
Kind = Literal["photo", "reconstruct"]
OUT_DIR = "out"


def default_workers() -> int:
    """Jobs run at once by default: one per two cores, at least 1, at most 4."""
    return max(1, min(4, cpu_count() // 2))


def local_executor(workers: int | None = None) -> Executor:
    """The web app's default executor: `workers` job processes on this machine, sharing its cores."""
    workers = workers or default_workers()
    return make_executor("local", ExecutorSettings(workers, max(1, cpu_count() // workers)))


@dataclass
class Job:
    """One job's state; fields change under the manager's lock while the job runs."""

    id: str
    folder: Path
    created: float
    kind: Kind = "photo"
    """'photo': depth, scene and video of one photo (`run_job`); 'reconstruct': a 3D model of
    several photos or a video (`run_reconstruction`)."""
    state: State = "queued"
    stage: str = "queued"
    progress: float = 0.0
    error: str | None = None
    files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What the job warned about (an amplitude that shows holes, ...), each once, in order."""
    depth_backend: str | None = None
    """The depth backend the job used, once its depth is estimated."""
    finished: float | None = None
    spec: JobSpec | ReconstructSpec | None = None
    future: Future[Any] | None = field(default=None, repr=False)
    pid: int | None = None
    """The process running the job (on the machine that runs it), once it started."""
    cancelled: bool = False

    @property
    def outdir(self) -> Path:
        return self.folder / OUT_DIR


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of a job, as `GET /api/jobs/{id}` shows it."""

    id: str
    kind: Kind
    """'photo' or 'reconstruct'."""
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
    warnings: tuple[str, ...]
    """What the job warned about, one line each (shown on the page, not only in the server's log)."""
    depth_backend: str | None
    """The depth backend in use (e.g. 'classical'), once the depth is estimated; None before."""
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
        executor: Executor | None = None,
        ttl: float = 3600.0,
        max_queued: int = 32,
        sweep_interval: float = 30.0,
    ) -> None:
        """`executor` runs the jobs (closed with the manager); None: `local_executor(workers)`."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.ttl = ttl
        self.max_queued = max_queued
        self.executor = executor if executor is not None else local_executor(workers)
        self._jobs: dict[str, Job] = {}
        self._waiting: list[str] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._sweeper = threading.Thread(
            target=self._sweep, args=(sweep_interval,), name="dioramic-web-sweeper", daemon=True
        )
        self._sweeper.start()

    # -- creating and looking up -------------------------------------------------------------
    def create(self, kind: Kind = "photo") -> Job:
        """A new job of `kind` with its own empty folder; `start` queues it, `discard` drops it."""
        with self._lock:
            if len(self._waiting) >= self.max_queued:
                raise QueueFullError(f"{len(self._waiting)} jobs are waiting already: try again later")
            job_id = secrets.token_urlsafe(16)
            folder = self.root / job_id
            folder.mkdir()
            job = Job(job_id, folder, time.time(), kind)
            self._jobs[job_id] = job
            return job

    def start(self, job: Job, spec: JobSpec | ReconstructSpec) -> None:
        """Queue `job` to run `spec` (`run_job` a photo's, `run_reconstruction` a reconstruction's)."""
        with self._lock:
            job.spec = spec
            self._waiting.append(job.id)
        runner = run_reconstruction if isinstance(spec, ReconstructSpec) else run_job
        # a dead job process is not retried: the user sees the failure and can try again
        task = Task(runner, (spec,), name=f"job {job.id[:6]}", events=True, retries=0)
        future = self.executor.submit(task, lambda event: self._on_event(job, event))
        with self._lock:
            job.future = future
        future.add_done_callback(lambda f: self._done(job, f))

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
                kind=job.kind,
                state=job.state,
                progress=round(job.progress, 4),
                stage=job.stage,
                error=job.error,
                files=tuple(job.files),
                warnings=tuple(job.warnings),
                depth_backend=job.depth_backend,
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
            future = job.future
        if future is not None:
            self.executor.cancel(future)  # returns once a running job's process has ended
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
        """Stop every job (waiting or running), the executor, and remove every job's files."""
        self._closed.set()
        with self._lock:
            ids = list(self._jobs)
        for job_id in ids:
            self.discard(job_id)
        self.executor.close()
        self._sweeper.join(10)

    # -- running -------------------------------------------------------------------------------
    def _sweep(self, interval: float) -> None:
        while not self._closed.wait(interval):
            try:
                self.expire()
            except Exception:  # the sweeper must outlive a failed removal
                log.exception("removing expired jobs failed")

    def _on_event(self, job: Job, event: object) -> None:
        """An event of the job's run (on a thread of the executor)."""
        with self._lock:
            if isinstance(event, Started):
                if job.id in self._waiting:
                    self._waiting.remove(job.id)
                job.state, job.stage, job.pid = "running", "starting", event.pid
            elif isinstance(event, Logged):
                text = page_warning(event)
                if text is not None and text not in job.warnings:
                    job.warnings.append(text)
            elif isinstance(event, Event):
                if event.kind == "stage":
                    job.stage = event.text
                elif event.kind == "file" and event.text not in job.files:
                    job.files.append(event.text)
                elif event.kind == "depth":
                    job.depth_backend = event.text
                job.progress = max(job.progress, event.fraction)
        if isinstance(event, Logged):  # the server's log keeps them too
            relog(event, f"job {job.id[:6]}")

    def _done(self, job: Job, future: Future[Any]) -> None:
        if job.cancelled:
            return
        try:
            future.result()
        except CancelledError:
            self._finish(job, "the job was stopped")
        except JobError as exc:
            self._finish(job, self._reason(job, exc))
        except Exception as exc:  # never leave a job running forever
            log.exception("job %s: the executor failed", job.id[:6])
            self._finish(job, f"internal error: {type(exc).__name__}: {exc}")
        else:
            self._finish(job, None)

    @staticmethod
    def _reason(job: Job, exc: JobError) -> str:
        """The one line a client sees: its own file names, never the server's folders."""
        failure = exc.failure
        if failure.kind == "MemoryError":
            if job.kind == "reconstruct":
                return "the job ran out of memory: try fewer or smaller photos, or fewer triangles"
            return "the job ran out of memory: try a smaller photo or video size"
        if failure.reason.startswith("internal error"):
            log.error("job %s failed:\n%s", job.id[:6], failure.traceback)
        return failure.reason.replace(f"{job.folder}{os.sep}", "")

    def _finish(self, job: Job, error: str | None) -> None:
        with self._lock:
            job.finished = time.time()
            if job.id in self._waiting:
                self._waiting.remove(job.id)
            if error is None:
                job.state, job.stage, job.progress = "done", "done", 1.0
            else:
                job.state, job.stage, job.error = "failed", "failed", error
