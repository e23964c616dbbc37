"""The serial executor: each job runs in this process when it is submitted, one after another.

This is what `dioramic run` does unless told otherwise: no worker processes, errors keep their
tracebacks, and a job's own progress bar shows. A job that kills the process ends the batch; run it
again with --skip-existing.
"""

from __future__ import annotations

import logging
from concurrent.futures import CancelledError, Future
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
    limit_threads,
    run_payload,
    started_here,
)

log = logging.getLogger(__name__)


@EXECUTORS.register("serial")
class SerialExecutor(Executor):
    """Runs each job at once, in this process (`submit` returns a finished future)."""

    name = "serial"
    description = "one photo after another, in this process (the default)"

    @classmethod
    def check(cls, settings: ExecutorSettings) -> None:
        if settings.workers not in (None, 1):
            raise UsageError("--workers: the serial executor runs one job at a time (use --executor local)")
        if settings.address is not None:
            raise UsageError("--ray-address is for --executor ray")

    def __init__(self, settings: ExecutorSettings | None = None) -> None:
        self.threads = (settings or ExecutorSettings()).cpus_per_job
        self._closed = False

    @property
    def capacity(self) -> int:
        return 1

    def submit(self, task: Task, on_event: EventHandler | None = None) -> Future[Any]:
        """Run `task` now; KeyboardInterrupt propagates (nothing else is running to stop)."""
        future: Future[Any] = Future()
        if self._closed:
            future.cancel()
            return future
        future.set_running_or_notify_cancel()

        def report(event: object) -> None:
            if on_event is not None:
                on_event(event)

        report(started_here())
        limit_threads(self.threads)
        try:
            # the same path as in a worker: pickled and unpickled, so a job that works here works there
            value = run_payload(task.payload(), task.events, report, None)
        except Exception as exc:
            future.set_exception(JobError(Failure.of(exc), original=exc))
        else:
            future.set_result(value)
        return future

    def cancel(self, future: Future[Any]) -> None:
        if not future.done():
            future.set_exception(CancelledError())

    def close(self) -> None:
        self._closed = True
