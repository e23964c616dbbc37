"""The Ray executor: one Ray task per job, on a cluster (``--ray-address``) or on a Ray started here.

Each job declares what it needs (`cpus_per_job` CPUs, and one GPU where the cluster has GPUs), and Ray
places it on a machine with that much free. A worker that dies (killed, out of memory, its machine
lost) is retried by Ray `Task.retries` times; an error the job raises is returned as a `Failure` and
never retried. Events (`Started` and the job's reports) travel through a small queue actor, made only
when a submitter asks for them.

Jobs read and write files by path, so on a cluster every path (photos, outputs) must be absolute and
on storage that every machine mounts at the same place. A Ray started here (no address) listens on
the loopback interface only, without dashboard or usage statistics, and stops with the executor.
Ray is optional: ``pip install 'dioramic[ray]'``.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import threading
import time
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import Any

from dioramic.errors import UsageError
from dioramic.executors.base import (
    EXECUTORS,
    EventHandler,
    Executor,
    ExecutorSettings,
    Failure,
    JobError,
    Task,
    check_count,
    cpu_count,
    have_module,
    pickle_error,
    run_payload,
    started_here,
)
from dioramic.notices import forward_logs

log = logging.getLogger(__name__)

DEFAULT_CPUS_PER_JOB = 1
"""CPUs a job reserves by default (its renderer runs that many threads)."""
_POLL_SECONDS = 0.2
_STOP_SECONDS = 10.0
_CAPACITY_SECONDS = 10.0
"""How long the cluster's size is trusted before it is asked again (autoscaling clusters grow)."""
_DIED = ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError", "LocalRayletDiedError", "OwnerDiedError")
"""Ray errors that mean the job's worker or machine went away (after Ray's retries)."""


def dioramic_job(payload: bytes, events: bool, threads: int, queue: Any, key: int) -> tuple[str, Any]:
    """The Ray task: run a pickled job, return ("ok", value) or ("error", Failure). Its events go to
    `queue` (a `ray.util.queue.Queue`) as (key, event); None: no events."""

    def report(event: object) -> None:
        if queue is None:
            return
        try:
            queue.put((key, event))
        except Exception:  # events are a courtesy: never fail the job for one
            log.debug("an event could not be sent", exc_info=True)

    report(started_here())
    try:
        # the job's warnings travel back to the submitter, not into Ray's forwarded worker output
        with forward_logs(report):
            return "ok", run_payload(payload, events, report, threads)
    except Exception as exc:
        return "error", Failure.of(exc)


@dataclass
class _Entry:
    key: int
    task: Task
    future: Future[Any]
    on_event: EventHandler | None
    ref: Any = None
    cancelled: bool = False


def _import_ray(local: bool) -> Any:
    """Import Ray with its usage statistics off; `local`: a Ray started here binds to loopback only."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if local:
        # Ray's single-machine mode (its default on macOS and Windows): the node's address, and so
        # every server it starts, is 127.0.0.1. Read when ray is imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise UsageError(_MISSING) from None
    # Ray's own messages (its logger is set up on import) say no more than dioramic's: -q, errors only
    ray_logger = logging.getLogger("ray")
    ray_logger.setLevel(
        max(ray_logger.getEffectiveLevel(), logging.getLogger("dioramic").getEffectiveLevel())
    )
    return ray


_MISSING = "--executor ray needs the Python package 'ray': install it with pip install 'dioramic[ray]'"


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    """Runs each job as a Ray task on the cluster at `settings.address`, or on a Ray started here."""

    name = "ray"
    description = "one Ray task per photo, on a cluster (--ray-address) or a Ray started here"

    @classmethod
    def check(cls, settings: ExecutorSettings) -> None:
        check_count(settings.workers, "--workers")
        check_count(settings.cpus_per_job, "--cpus-per-job")
        if not have_module("ray"):
            raise UsageError(_MISSING)

    @classmethod
    def runs_remotely(cls, settings: ExecutorSettings) -> bool:
        return settings.address is not None

    def __init__(self, settings: ExecutorSettings | None = None) -> None:
        settings = settings or ExecutorSettings()
        self.settings = settings
        self.cpus_per_job = settings.cpus_per_job or DEFAULT_CPUS_PER_JOB
        ray = self._ray = _import_ray(local=settings.address is None)
        self._own = not ray.is_initialized()
        if self._own:
            common = {"configure_logging": False, "log_to_driver": True}
            if settings.address is None:
                cpus = settings.workers * self.cpus_per_job if settings.workers else cpu_count()
                ray.init(address="local", num_cpus=cpus, include_dashboard=False, **common)
            else:
                try:
                    ray.init(address=settings.address, **common)
                except (ConnectionError, ValueError, RuntimeError) as exc:
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    raise UsageError(f"--ray-address {settings.address}: cannot connect ({first})") from None
        self.gpus_per_job = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        self._remote = ray.remote(dioramic_job)
        self._capacity: tuple[float, int] = (0.0, 1)
        self._lock = threading.Condition()
        self._waiting: collections.deque[_Entry] = collections.deque()
        self._running: dict[Any, _Entry] = {}  # ObjectRef -> entry
        self._by_key: dict[int, _Entry] = {}
        self._keys = itertools.count()
        self._events: Any = None  # the queue actor, made on first use
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="dioramic-ray", daemon=True)
        self._thread.start()
        log.info(
            "Ray: %s, %g CPUs%s; %d CPU%s%s per job",
            settings.address or "started on this machine",
            ray.cluster_resources().get("CPU", 0),
            f", {ray.cluster_resources().get('GPU', 0):g} GPUs" if self.gpus_per_job else "",
            self.cpus_per_job,
            "" if self.cpus_per_job == 1 else "s",
            " and a GPU" if self.gpus_per_job else "",
        )

    # -- the interface ------------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        """`workers` when given, else twice the jobs the cluster can run at once (asked again every
        few seconds, as a cluster may grow)."""
        if self.settings.workers:
            return self.settings.workers
        when, value = self._capacity
        if time.monotonic() - when > _CAPACITY_SECONDS:
            resources = self._ray.cluster_resources()
            slots = int(resources.get("CPU", 0) // self.cpus_per_job)
            if self.gpus_per_job:
                slots = min(slots, int(resources.get("GPU", 0) // self.gpus_per_job))
            value = 2 * max(1, slots)
            self._capacity = (time.monotonic(), value)
        return value

    def submit(self, task: Task, on_event: EventHandler | None = None) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                future.cancel()
                return future
            entry = _Entry(next(self._keys), task, future, on_event)
            self._by_key[entry.key] = entry
            self._waiting.append(entry)
            self._lock.notify_all()
        return future

    def cancel(self, future: Future[Any]) -> None:
        with self._lock:
            entry = next((e for e in self._by_key.values() if e.future is future), None)
            if entry is None:
                return
            entry.cancelled = True
            if entry in self._waiting:
                self._waiting.remove(entry)
                del self._by_key[entry.key]
                future.cancel()
                return
            ref = entry.ref
        if ref is not None:
            self._ray.cancel(ref, force=False)  # KeyboardInterrupt in the task: its writes clean up

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            waiting, self._waiting = list(self._waiting), collections.deque()
            running = list(self._running.values())
            for entry in waiting:
                self._by_key.pop(entry.key, None)
                entry.future.cancel()
            self._lock.notify_all()
        for entry in running:
            entry.cancelled = True
            self._ray.cancel(entry.ref, force=False)
        self._thread.join(_STOP_SECONDS)
        for entry in list(self._running.values()):  # still running: stop their workers
            self._ray.cancel(entry.ref, force=True)
        self._thread.join(_STOP_SECONDS)
        if self._own:
            self._ray.shutdown()

    # -- the dispatcher thread ----------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            self._dispatch()
        except Exception as exc:  # never leave a submitter waiting on a future nobody will resolve
            log.exception("Ray: the executor failed")
            with self._lock:
                self._closed = True
                entries = [*self._waiting, *self._running.values()]
                self._waiting.clear()
                self._running.clear()
                self._by_key.clear()
            for entry in entries:
                if not entry.future.done():
                    entry.future.set_exception(JobError(Failure.of(exc)))

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                self._start_waiting()
                refs = list(self._running)
                if not refs:
                    if self._closed:
                        return
                    self._lock.wait(_POLL_SECONDS)
                    continue
            try:
                ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=_POLL_SECONDS)
            except Exception:  # the cluster went away: every running job ends below
                log.exception("Ray: waiting for jobs failed")
                ready = refs
            self._drain_events()
            for ref in ready:
                self._finish(ref)

    def _start_waiting(self) -> None:
        limit = self.settings.workers
        while self._waiting and not self._closed and (limit is None or len(self._running) < limit):
            entry = self._waiting.popleft()
            if not entry.future.set_running_or_notify_cancel():
                self._by_key.pop(entry.key, None)
                continue
            try:
                payload = entry.task.payload()
            except Exception as exc:
                self._by_key.pop(entry.key, None)
                entry.future.set_exception(pickle_error(entry.task, exc))
                continue
            queue = self._event_queue() if entry.on_event is not None else None
            entry.ref = self._remote.options(
                num_cpus=self.cpus_per_job,
                num_gpus=self.gpus_per_job,
                max_retries=entry.task.retries,
                retry_exceptions=False,
            ).remote(payload, entry.task.events, self.cpus_per_job, queue, entry.key)
            self._running[entry.ref] = entry

    def _event_queue(self) -> Any:
        if self._events is None:
            from ray.util.queue import Queue

            self._events = Queue(actor_options={"num_cpus": 0})
        return self._events

    def _drain_events(self) -> None:
        if self._events is None:
            return
        try:
            count = self._events.size()
            items = self._events.get_nowait_batch(count) if count else []
        except Exception:
            log.debug("Ray: reading events failed", exc_info=True)
            return
        for key, event in items:
            entry = self._by_key.get(key)
            if entry is not None and entry.on_event is not None:
                try:
                    entry.on_event(event)
                except Exception:
                    log.exception("an event handler failed")

    def _finish(self, ref: Any) -> None:
        with self._lock:
            entry = self._running.pop(ref, None)
            if entry is None:
                return
            self._by_key.pop(entry.key, None)
        exceptions = self._ray.exceptions
        try:
            kind, value = self._ray.get(ref)
        except exceptions.TaskCancelledError:
            entry.future.set_exception(CancelledError())
            return
        except exceptions.RayError as exc:
            name = type(exc).__name__
            if entry.cancelled:
                entry.future.set_exception(CancelledError())
            elif name in _DIED:
                entry.future.set_exception(JobError.worker_died(name, 1 + entry.task.retries))
            else:
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                entry.future.set_exception(JobError(Failure(f"Ray: {name}: {first}", name)))
            return
        except Exception as exc:  # a result this process cannot unpickle
            entry.future.set_exception(JobError(Failure.of(exc)))
            return
        if kind == "ok":
            entry.future.set_result(value)
        else:
            entry.future.set_exception(JobError(value))
