"""A batch of jobs through an executor: a bounded number submitted at a time, each outcome handed back
as it comes, and the progress of the whole batch (jobs done, failed, time left).

A job that fails does not stop the others; its `Outcome` carries the `JobError` (one-line reason).
"""

from __future__ import annotations

import concurrent.futures
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dioramic.executors.base import Executor, JobError, Task


@dataclass(frozen=True)
class Outcome:
    """How one job of a batch ended."""

    index: int
    """The job's place in the batch (0-based)."""
    task: Task
    """The job."""
    value: Any = None
    """Its return value when it succeeded."""
    error: JobError | None = None
    """Why it failed; None when it succeeded."""

    @property
    def ok(self) -> bool:
        return self.error is None


class BatchProgress:
    """Counts of a batch's finished jobs, and the time left at the rate they have finished so far.

    >>> clock = iter([0.0, 10.0, 20.0]).__next__
    >>> p = BatchProgress(4, clock=clock)      # starts at t = 0
    >>> p.record(True); p.line()               # one done at t = 10: three left at 10 s each
    '1/4 done, 0 failed, about 30 s left'
    >>> p.record(False); p.line()              # two finished by t = 20: two left at 10 s each
    '1/4 done, 1 failed, about 20 s left'
    """

    def __init__(self, total: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self._clock = clock
        self._start = clock()
        self._last = self._start

    @property
    def finished(self) -> int:
        return self.done + self.failed

    def record(self, ok: bool) -> None:
        """Count one finished job."""
        if ok:
            self.done += 1
        else:
            self.failed += 1
        self._last = self._clock()

    def seconds_left(self) -> float | None:
        """Seconds until the last job finishes at the rate so far; None before the first one."""
        if self.finished == 0:
            return None
        return (self._last - self._start) / self.finished * (self.total - self.finished)

    def line(self) -> str:
        """'3/8 done, 1 failed, about 1 min left'."""
        text = f"{self.done}/{self.total} done, {self.failed} failed"
        left = self.seconds_left()
        if self.finished < self.total and left is not None:
            text += f", about {format_duration(left)} left"
        return text


def format_duration(seconds: float) -> str:
    """A rounded duration in words.

    >>> format_duration(4.2), format_duration(75), format_duration(3725)
    ('5 s', '1 min 15 s', '1 h 2 min')
    """
    seconds = max(0, math.ceil(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min {rest} s" if rest and minutes < 10 else f"{minutes} min"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min"


def run_tasks(
    executor: Executor,
    tasks: Sequence[Task],
    *,
    on_done: Callable[[Outcome], None] | None = None,
    on_event: Callable[[int, object], None] | None = None,
) -> list[Outcome]:
    """Run every task on `executor`, at most `executor.capacity` submitted at a time; returns their
    outcomes in the order of `tasks`. `on_done` gets each outcome as it comes; `on_event(index,
    event)` gets the executor's `Started` and the jobs' reports.

    KeyboardInterrupt propagates: the caller closes the executor, which stops the jobs still running.
    """
    outcomes: list[Outcome | None] = [None] * len(tasks)
    waiting = list(enumerate(tasks))[::-1]  # popped from the end: in order
    running: dict[concurrent.futures.Future[Any], int] = {}

    def handler(index: int) -> Callable[[object], None] | None:
        if on_event is None:
            return None
        return lambda event: on_event(index, event)

    while waiting or running:
        while waiting and len(running) < max(1, executor.capacity):
            index, task = waiting.pop()
            running[executor.submit(task, handler(index))] = index
        finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
        for future in sorted(finished, key=running.__getitem__):
            index = running.pop(future)
            outcome = _outcome(index, tasks[index], future)
            outcomes[index] = outcome
            if on_done is not None:
                on_done(outcome)
    return [o for o in outcomes if o is not None]


def _outcome(index: int, task: Task, future: concurrent.futures.Future[Any]) -> Outcome:
    from dioramic.executors.base import Failure

    try:
        return Outcome(index, task, value=future.result())
    except JobError as exc:
        return Outcome(index, task, error=exc)
    except concurrent.futures.CancelledError:
        return Outcome(index, task, error=JobError(Failure("the job was cancelled", "CancelledError")))
