"""The local executor: N jobs at once, each in a fresh process on this machine.

Each job runs in a process of its own (``python -c ...child_main FD``), so that a crash, a leak or an
OpenGL context stays with that job, and a job can be stopped. `workers` threads take jobs in order from
a queue; each starts the job's process, hands it the pickled job on stdin, and reads back pickled
messages (the job's events, then its result or error) from the file descriptor FD. A process that
ends without a result died (killed, crashed): the job runs again, `Task.retries` times, and then fails
with the way it ended. Jobs cap their renderer's threads at `cpus_per_job`, so that N jobs share the
cores instead of each starting a thread per core.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from typing import Any

from dioramic.errors import UsageError
from dioramic.executors.base import (
    EXECUTORS,
    EventHandler,
    Executor,
    ExecutorSettings,
    Failure,
    JobError,
    Started,
    Task,
    check_count,
    cpu_count,
    pickle_error,
    python_path,
    run_payload,
    started_here,
)
from dioramic.notices import forward_logs

log = logging.getLogger(__name__)

DEFAULT_CPUS_PER_JOB = 1
"""Cores a job gets by default. On 2 cores, two single-threaded jobs at once beat one job rendering
on two threads (`bench/batch.py`): the other stages of a job use one core."""

_CHILD = "import sys; from dioramic.executors.local import child_main; sys.exit(child_main(int(sys.argv[1])))"
INTERRUPTED = 130
"""Exit status of a job process that was interrupted (SIGINT or SIGTERM) before it finished."""
_STOP_SECONDS = 10.0
"""How long a stopped job may take to remove its temporary files before it is killed."""


def default_workers(cpus_per_job: int = DEFAULT_CPUS_PER_JOB) -> int:
    """Jobs at once by default: the cores this process may use, divided by the cores a job uses."""
    return max(1, cpu_count() // cpus_per_job)


def describe_exit(code: int) -> str:
    """How a process ended, in words.

    >>> describe_exit(-9), describe_exit(3)
    ('killed by SIGKILL', 'exit code 3')
    """
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class _Entry:
    task: Task
    future: Future[Any]
    on_event: EventHandler | None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    cancelled: bool = False


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    """Runs jobs in fresh processes on this machine, `workers` at once."""

    name = "local"
    description = "N photos at once, each in its own process on this machine"

    @classmethod
    def check(cls, settings: ExecutorSettings) -> None:
        check_count(settings.workers, "--workers")
        check_count(settings.cpus_per_job, "--cpus-per-job")
        if settings.address is not None:
            raise UsageError("--ray-address is for --executor ray")

    def __init__(self, settings: ExecutorSettings | None = None) -> None:
        settings = settings or ExecutorSettings()
        self.cpus_per_job = settings.cpus_per_job or DEFAULT_CPUS_PER_JOB
        self.workers = settings.workers or default_workers(self.cpus_per_job)
        self._queue: queue.Queue[_Entry | None] = queue.Queue()
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}  # id(future) -> entry, for cancel
        self._closed = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"dioramic-local-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def capacity(self) -> int:
        return self.workers

    def submit(self, task: Task, on_event: EventHandler | None = None) -> Future[Any]:
        future: Future[Any] = Future()
        if self._closed.is_set():
            future.cancel()
            return future
        entry = _Entry(task, future, on_event)
        with self._lock:
            self._entries[id(future)] = entry
        future.add_done_callback(self._forget)
        self._queue.put(entry)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._entries.pop(id(future), None)

    def cancel(self, future: Future[Any]) -> None:
        with self._lock:
            entry = self._entries.get(id(future))
            if entry is None:
                return
            entry.cancelled = True
            process = entry.process
        if future.cancel():  # it was waiting
            return
        if process is not None:
            _stop(process)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            entries = list(self._entries.values())
        for entry in entries:
            self.cancel(entry.future)
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(_STOP_SECONDS + 5)

    # -- the worker threads ------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is None:
                return
            if entry.cancelled or not entry.future.set_running_or_notify_cancel():
                continue
            try:
                self._run(entry)
            except Exception as exc:  # never lose a worker thread, never leave a future unresolved
                log.exception("%s: the executor failed", entry.task.name)
                if not entry.future.done():
                    entry.future.set_exception(JobError(Failure.of(exc)))

    def _run(self, entry: _Entry) -> None:
        task = entry.task
        try:
            payload = task.payload()
        except Exception as exc:
            entry.future.set_exception(pickle_error(task, exc))
            return
        attempts = 0
        while True:
            attempts += 1
            message, code = self._attempt(entry, payload)
            if entry.cancelled or self._closed.is_set():
                entry.future.set_exception(CancelledError())
                return
            if message is not None:
                kind, value = message
                if kind == "ok":
                    entry.future.set_result(value)
                else:
                    entry.future.set_exception(JobError(value))
                return
            if code == INTERRUPTED:  # the job saw Ctrl-C or SIGTERM from someone else: not a crash
                entry.future.set_exception(JobError(Failure("the job was interrupted", "KeyboardInterrupt")))
                return
            how = describe_exit(code)
            if attempts > task.retries:
                entry.future.set_exception(JobError.worker_died(how, attempts))
                return
            log.warning("%s: the worker process stopped unexpectedly (%s): running it again", task.name, how)

    def _attempt(self, entry: _Entry, payload: bytes) -> tuple[tuple[str, Any] | None, int]:
        """Run one attempt in a fresh process: (("ok", value) or ("error", Failure), or None when the
        process ended without a result; its exit code)."""
        read_fd, write_fd = os.pipe()
        with self._lock:
            if entry.cancelled:
                os.close(read_fd)
                os.close(write_fd)
                return None, 0
            try:
                process = subprocess.Popen(
                    [sys.executable, "-c", _CHILD, str(write_fd)], stdin=subprocess.PIPE, pass_fds=(write_fd,)
                )
            finally:
                os.close(write_fd)
            entry.process = process
        if entry.on_event is not None:
            _call(entry.on_event, Started(process.pid, started_here().host))
        header = {
            "path": python_path(),
            "threads": self.cpus_per_job,
            "events": entry.task.events,
            "payload": payload,
        }
        result: tuple[str, Any] | None = None
        with os.fdopen(read_fd, "rb") as messages:
            try:
                assert process.stdin is not None
                pickle.dump(header, process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                process.stdin.close()
            except OSError:  # the process died at once; its exit code tells
                pass
            while True:
                try:
                    kind, value = pickle.load(messages)  # from the job process this thread started
                except (EOFError, OSError):
                    break
                except Exception as exc:  # a result this process cannot unpickle (a class it lacks)
                    result = ("error", Failure.of(exc))
                    break
                if kind == "event":
                    if entry.on_event is not None:
                        _call(entry.on_event, value)
                else:
                    result = (kind, value)
        code = process.wait()
        with self._lock:
            entry.process = None
        return result, code


def _call(handler: Callable[[object], None], event: object) -> None:
    try:
        handler(event)
    except Exception:  # a broken handler must not stop the job's bookkeeping
        log.exception("an event handler failed")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ask a job's process to stop (SIGTERM: it removes its temporary files), then kill it."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def child_main(fd: int) -> int:
    """A job's process: read the header (module path, thread cap, pickled job) on stdin, run the job,
    and send ("event", obj)... then ("ok", value) or ("error", Failure) to the file descriptor `fd`."""
    # SIGTERM (a stop) and SIGINT (Ctrl-C) unwind the job, so its atomic writes remove their temporaries
    signal.signal(signal.SIGTERM, _interrupt)
    header = pickle.load(sys.stdin.buffer)  # from the executor that started this process; only builtins
    sys.path[:] = [*header["path"], *(p for p in sys.path if p not in header["path"])]
    with os.fdopen(fd, "wb") as out:
        lock = threading.Lock()

        def send(kind: str, value: object) -> None:
            data = pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL)
            with lock:
                out.write(data)
                out.flush()

        def report(event: object) -> None:
            send("event", event)

        try:
            # the job's warnings travel back to the submitter, which shows them (or not: -q)
            with forward_logs(report):
                value = run_payload(header["payload"], header["events"], report, header["threads"])
        except KeyboardInterrupt:
            return INTERRUPTED  # stopped: no result
        except Exception as exc:
            send("error", Failure.of(exc))
        else:
            try:
                send("ok", value)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                send("error", Failure.of(exc))
    return 0
