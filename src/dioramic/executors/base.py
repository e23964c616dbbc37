"""What every executor shares: the job description, its failure, the settings, and the call that runs a
job where it lands (a process on this machine, a Ray worker, or this process).

A job is any module-level function and its arguments, all picklable: the function is pickled by
reference, so it must be importable where the job runs (the same package, installed on every worker).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pickle
import socket
import sys
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dioramic.errors import DioramicError, UsageError
from dioramic.registry import Registry

log = logging.getLogger(__name__)

EventHandler = Callable[[object], None]
"""Receives `Started` when an attempt of a job begins, then whatever the job reports (`Task.events`)."""

THREAD_VARIABLES = ("LP_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""Environment variables that cap a job's threads: Mesa's llvmpipe rasteriser, OpenMP and BLAS."""


@dataclass(frozen=True)
class Task:
    """One job: ``fn(*args, **kwargs)`` run by an executor."""

    fn: Callable[..., Any]
    """A module-level function, importable where the job runs; its return value must pickle."""
    args: tuple[Any, ...] = ()
    """Positional arguments (picklable)."""
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments (picklable)."""
    name: str = ""
    """How logs and errors name the job (e.g. the photo's path)."""
    events: bool = False
    """True: `fn` is also given ``report=``, a callable that sends a picklable object to the
    submitter's event handler while the job runs (stages, progress)."""
    retries: int = 1
    """How many times a job whose worker died (killed, crashed, its machine lost) is run again. An error
    the job raises is never retried: it would fail the same way."""

    def payload(self) -> bytes:
        """The function and its arguments, pickled: unpickled where the job runs, after its thread limits
        are set (unpickling imports the function's module)."""
        return pickle.dumps((self.fn, tuple(self.args), dict(self.kwargs)), protocol=pickle.HIGHEST_PROTOCOL)


@dataclass(frozen=True)
class Started:
    """Sent to the event handler when an attempt of a job starts running."""

    pid: int
    """The process running it."""
    host: str
    """The machine's host name."""


@dataclass(frozen=True)
class Failure:
    """A job's error, as it travels back from where the job ran."""

    reason: str
    """One line: the error's own message for a `DioramicError`, else 'internal error: Type: message'."""
    kind: str
    """The exception's class name."""
    exit_code: int = 1
    """The exit status the CLI gives for it (2 for a usage error)."""
    traceback: str = ""
    """The formatted traceback, for --debug."""

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        """The failure record of `exc`.

        >>> Failure.of(ValueError("bad")).reason
        'internal error: ValueError: bad'
        >>> Failure.of(UsageError("--size: too big")).exit_code
        2
        """
        if isinstance(exc, DioramicError):
            reason = str(exc)
        elif isinstance(exc, MemoryError):
            reason = "the job ran out of memory"
        else:
            reason = f"internal error: {type(exc).__name__}: {exc}"
        text = "".join(traceback.format_exception(exc))
        return cls(reason, type(exc).__name__, getattr(exc, "exit_code", 1), text)


class JobError(DioramicError):
    """A job raised an error, or its worker died more often than it was retried. ``str()`` is the
    one-line reason; `original` is the exception itself when the job ran in this process."""

    def __init__(self, failure: Failure, *, died: bool = False, original: BaseException | None = None):
        super().__init__(failure.reason)
        self.failure = failure
        self.exit_code = failure.exit_code
        self.died = died
        """True when the worker died (every attempt), rather than the job raising an error."""
        self.original = original

    @classmethod
    def worker_died(cls, how: str, attempts: int) -> JobError:
        """The failure of a job whose worker died on each of its `attempts`; `how` says how it ended."""
        times = "" if attempts == 1 else f" on each of {attempts} attempts"
        reason = f"the worker process stopped unexpectedly ({how}){times}"
        return cls(Failure(reason, "WorkerDied"), died=True)


def run_payload(payload: bytes, events: bool, report: EventHandler, threads: int | None) -> Any:
    """Where a job lands: cap its threads, unpickle it, run it. Errors propagate (the caller turns them
    into a `Failure`)."""
    limit_threads(threads)
    fn, args, kwargs = pickle.loads(payload)  # made by Task.payload in the process that submitted it
    if events:
        kwargs = {**kwargs, "report": report}
    return fn(*args, **kwargs)


def limit_threads(threads: int | None) -> None:
    """Cap the threads of the renderer (llvmpipe), OpenMP and BLAS in this process at `threads`, unless
    the environment already sets them. Takes effect for libraries loaded (and GL contexts made) later."""
    if threads is None:
        return
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))


def started_here() -> Started:
    return Started(os.getpid(), socket.gethostname())


def cpu_count() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ExecutorSettings:
    """How to run jobs; each executor uses the fields that apply to it and refuses the others."""

    workers: int | None = None
    """Jobs run at once; None: the executor's default (local: from the cores; ray: as the cluster's
    resources allow)."""
    cpus_per_job: int | None = None
    """CPU cores one job uses: its renderer's threads are capped at this, and Ray reserves it per job;
    None: the executor's default."""
    address: str | None = None
    """A Ray cluster's address ('auto', 'HOST:PORT', 'ray://HOST:PORT'); None: start a local Ray."""


class Executor(ABC):
    """Runs `Task`s and hands back a `concurrent.futures.Future` per task.

    A future's result is the job's return value; a job that fails raises `JobError` from
    ``future.result()`` (one line, and the exit status the CLI should give). Use it as a context
    manager, or call `close`.
    """

    name: ClassVar[str]
    description: ClassVar[str]

    @classmethod  # noqa: B027  (an optional hook)
    def check(cls, settings: ExecutorSettings) -> None:
        """Raise UsageError for settings this executor cannot use, before anything starts."""

    @classmethod
    def runs_remotely(cls, settings: ExecutorSettings) -> bool:
        """Whether jobs may run on other machines with these settings (known before starting)."""
        return False

    @property
    @abstractmethod
    def capacity(self) -> int:
        """How many jobs are worth having submitted at once (those running, plus a few ready to start)."""

    @abstractmethod
    def submit(self, task: Task, on_event: EventHandler | None = None) -> Future[Any]:
        """Queue `task`; `on_event` (called on a thread of the executor) gets `Started` and the job's
        reports."""

    @abstractmethod
    def cancel(self, future: Future[Any]) -> None:
        """Stop the job of `future`: drop it if it waits, interrupt it if it runs (its atomic writes
        remove their temporary files). Its future then raises CancelledError."""

    @abstractmethod
    def close(self) -> None:
        """Stop every job still waiting or running and release the workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


EXECUTORS: Registry[type[Executor]] = Registry("executor")
"""Executors by name: serial, local, ray."""


def make_executor(name: str, settings: ExecutorSettings | None = None) -> Executor:
    """The executor registered as `name`, started with `settings` (UsageError for bad ones)."""
    cls = EXECUTORS.get(name)
    settings = settings or ExecutorSettings()
    cls.check(settings)
    return cls(settings)  # type: ignore[call-arg]


def have_module(name: str) -> bool:
    """Whether `name` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def check_count(value: int | None, what: str) -> None:
    if value is not None and value < 1:
        raise UsageError(f"{what} must be at least 1, got {value}")


def pickle_error(task: Task, exc: Exception) -> JobError:
    """A job that cannot be sent where it would run (its function or arguments do not pickle)."""
    reason = f"internal error: the job cannot be sent to a worker ({type(exc).__name__}: {exc})"
    return JobError(Failure(reason, type(exc).__name__))


def python_path() -> list[str]:
    """This process's module search path, handed to job processes so that they import the same code."""
    return list(sys.path)
