"""Executors: run jobs (any picklable module-level function and its arguments) one after another in
this process, N at once in processes on this machine, or as tasks on a Ray cluster, behind one
interface. `dioramic run` runs its photos through one, and so does the web app::

    from dioramic.executors import ExecutorSettings, Task, make_executor, run_tasks

    with make_executor("local", ExecutorSettings(workers=2)) as executor:
        future = executor.submit(Task(function, (argument,), name="a.jpg"))
        future.result()          # function's return value, or JobError (one line, an exit status)
        outcomes = run_tasks(executor, tasks, on_done=print)   # a whole batch, in order of the tasks

`serial` (this process), `local` (processes here) and `ray` (Ray tasks; the `ray` extra) are registered
in `EXECUTORS` by name, as an outside executor would be. Importing this package imports no Ray.
"""

# registered in the order the CLI lists them: serial (the default), local, ray
from dioramic.executors import serial  # isort: skip
from dioramic.executors import local  # isort: skip
from dioramic.executors import ray  # isort: skip
from dioramic.executors.base import (
    EXECUTORS,
    Executor,
    ExecutorSettings,
    Failure,
    JobError,
    Started,
    Task,
    make_executor,
)
from dioramic.executors.batch import BatchProgress, Outcome, run_tasks

__all__ = [
    "EXECUTORS",
    "BatchProgress",
    "Executor",
    "ExecutorSettings",
    "Failure",
    "JobError",
    "Outcome",
    "Started",
    "Task",
    "local",
    "make_executor",
    "ray",
    "run_tasks",
    "serial",
]
