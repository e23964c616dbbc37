"""The serial and local executors on tiny jobs (`executor_jobs.py`), and the batch runner."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import CancelledError
from pathlib import Path
from types import ModuleType

import pytest

from dioramic.errors import UsageError
from dioramic.executors import (
    EXECUTORS,
    ExecutorSettings,
    JobError,
    Started,
    Task,
    make_executor,
    run_tasks,
)
from dioramic.executors.local import describe_exit


def test_the_executors_are_registered_by_name() -> None:
    assert EXECUTORS.names() == ["serial", "local", "ray"]
    with pytest.raises(UsageError, match=r"unknown executor 'slurm' \(choose from: serial, local, ray\)"):
        make_executor("slurm")


@pytest.mark.parametrize(
    ("name", "settings", "message"),
    [
        ("serial", ExecutorSettings(workers=2), "one job at a time"),
        ("serial", ExecutorSettings(address="auto"), "--ray-address is for --executor ray"),
        ("local", ExecutorSettings(workers=0), "--workers must be at least 1"),
        ("local", ExecutorSettings(address="auto"), "--ray-address is for --executor ray"),
    ],
)
def test_settings_an_executor_cannot_use_are_refused(
    name: str, settings: ExecutorSettings, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        make_executor(name, settings)


@pytest.mark.parametrize("name", ["serial", "local"])
def test_results_and_one_line_errors(name: str, jobs: ModuleType) -> None:
    with make_executor(name, ExecutorSettings(workers=None if name == "serial" else 2)) as executor:
        futures = [
            executor.submit(Task(jobs.add, (2, 3))),
            executor.submit(Task(jobs.bad_input, ("a.jpg",))),
            executor.submit(Task(jobs.bad_option)),
            executor.submit(Task(jobs.bug)),
        ]
        assert futures[0].result(60) == 5
        errors = [f.exception(60) for f in futures[1:]]
    assert all(isinstance(e, JobError) for e in errors)
    assert [str(e) for e in errors] == [
        "a.jpg: not an image",
        "--size: too big",
        "internal error: ValueError: boom",
    ]
    assert [e.exit_code for e in errors] == [1, 2, 1]  # type: ignore[union-attr]
    assert "Traceback" in errors[2].failure.traceback and "boom" in errors[2].failure.traceback  # type: ignore[union-attr]
    if name == "serial":  # in this process the error itself is kept, with its traceback
        assert isinstance(errors[2].original, ValueError)  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["serial", "local"])
def test_events_reach_the_submitter(name: str, jobs: ModuleType) -> None:
    events: list[object] = []
    with make_executor(name) as executor:
        future = executor.submit(Task(jobs.count, (3,), events=True), events.append)
        assert future.result(60) == 3
    assert isinstance(events[0], Started) and events[0].pid > 0
    assert events[1:] == ["step 0", "step 1", "step 2"]
    if name == "local":
        assert events[0].pid != os.getpid()


def test_a_worker_that_dies_is_retried_once(jobs: ModuleType, tmp_path: Path) -> None:
    marker = tmp_path / "first attempt"
    with make_executor("local", ExecutorSettings(workers=1)) as executor:
        assert executor.submit(Task(jobs.die_once, (str(marker),))).result(60).startswith("second attempt")
        dead = executor.submit(Task(jobs.die)).exception(60)
        no_retry = executor.submit(Task(jobs.die, retries=0)).exception(60)
    assert marker.is_file()
    assert isinstance(dead, JobError) and dead.died
    assert str(dead) == "the worker process stopped unexpectedly (killed by SIGKILL) on each of 2 attempts"
    assert str(no_retry) == "the worker process stopped unexpectedly (killed by SIGKILL)"


def test_jobs_run_side_by_side_with_their_threads_capped(
    jobs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LP_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    started: list[int] = []
    lock = threading.Lock()

    def on_event(event: object) -> None:
        if isinstance(event, Started):
            with lock:
                started.append(event.pid)

    with make_executor("local", ExecutorSettings(workers=2, cpus_per_job=1)) as executor:
        slow = [executor.submit(Task(jobs.wait, (30,)), on_event) for _ in range(3)]
        deadline = time.monotonic() + 60
        while len(started) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert len(started) == 2 and len(set(started)) == 2  # two at once, the third waits
        for future in slow:
            executor.cancel(future)
        assert all(isinstance(f.exception(30), CancelledError) for f in slow)
        limits = executor.submit(Task(jobs.thread_limits)).result(60)
    assert limits == {"LP_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in started)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_job_that_cannot_travel_fails_with_a_reason(jobs: ModuleType) -> None:
    with make_executor("local", ExecutorSettings(workers=1)) as executor:
        local_fn = executor.submit(Task(lambda: 1)).exception(60)
        result = executor.submit(Task(jobs.unpicklable)).exception(60)
    assert "cannot be sent to a worker" in str(local_fn)
    assert str(result).startswith("internal error:")


def test_run_tasks_keeps_going_and_reports_each_outcome(jobs: ModuleType) -> None:
    tasks = [Task(jobs.add, (i, 1), name=f"job {i}") for i in range(5)]
    tasks[2] = Task(jobs.bad_input, ("c.jpg",), name="job 2")
    seen: list[int] = []
    events: list[tuple[int, object]] = []
    with make_executor("local", ExecutorSettings(workers=2)) as executor:
        outcomes = run_tasks(
            executor,
            tasks,
            on_done=lambda o: seen.append(o.index),
            on_event=lambda i, e: events.append((i, e)),
        )
    assert [o.index for o in outcomes] == [0, 1, 2, 3, 4] and sorted(seen) == [0, 1, 2, 3, 4]
    assert [o.value for o in outcomes if o.ok] == [1, 2, 4, 5]
    assert [str(o.error) for o in outcomes if not o.ok] == ["c.jpg: not an image"]
    assert sorted(i for i, e in events if isinstance(e, Started)) == [0, 1, 2, 3, 4]


def test_exit_descriptions() -> None:
    assert describe_exit(-15) == "killed by SIGTERM"
    assert describe_exit(1) == "exit code 1"
