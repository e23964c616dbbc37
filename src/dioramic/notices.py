"""Notices and warnings on their way to the user: said once per run, also from jobs in other processes.

The library only logs (to loggers under ``dioramic``); whoever shows the records decides how. A
*notice* is a record with a key (`notice`): however many photos of a run meet it, the CLI says it once
(`OncePerRun`). A job that runs in another process (the local and Ray executors) sends its records of
level WARNING and above back as `Logged` events (`forward_logs`) instead of printing them itself; the
process that shows them logs them again (`relog`), under its own level (``-q``: errors only) and its
own once-per-run filter, and the web app lists them on the page.

    >>> import logging
    >>> records = []
    >>> with forward_logs(records.append):
    ...     notice(logging.getLogger("dioramic.test"), "demo", "notice: said %s", "once")
    >>> records
    [Logged(level=30, logger='dioramic.test', message='notice: said once', notice='demo')]
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ROOT = "dioramic"
"""The library's loggers are this one and those below it."""
KEY = "dioramic_notice"
"""Attribute of a log record holding its notice key (set by `notice`)."""


def notice(logger: logging.Logger, key: str, message: str, *args: object) -> None:
    """Log `message % args` at WARNING as the notice `key`: shown once per run, whatever the photos."""
    logger.warning(message, *args, extra={KEY: key})


class OncePerRun(logging.Filter):
    """A filter that lets each notice key pass once; records without a key always pass."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = getattr(record, KEY, None)
        if key is None:
            return True
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            return True


@dataclass(frozen=True)
class Logged:
    """A log record of a job that ran elsewhere, as it travels back (picklable)."""

    level: int
    """logging.WARNING, logging.ERROR, ..."""
    logger: str
    """The logger's name, e.g. 'dioramic.pipeline'."""
    message: str
    """The formatted message, one line."""
    notice: str | None = None
    """The notice key, when the record is a notice (see `notice`)."""


class _Forward(logging.Handler):
    def __init__(self, report: Callable[[object], None], level: int) -> None:
        super().__init__(level)
        self._report = report

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event = Logged(record.levelno, record.name, record.getMessage(), getattr(record, KEY, None))
            self._report(event)
        except Exception:  # a record that cannot travel must not fail the job
            return


@contextmanager
def forward_logs(report: Callable[[object], None], level: int = logging.WARNING) -> Iterator[None]:
    """While the block runs, send the library's records of `level` and above to `report` as `Logged`
    events, and print nothing: the process that receives them shows them (or not)."""
    logger = logging.getLogger(ROOT)
    saved = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers[:] = [_Forward(report, level)]
    logger.propagate = False
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    try:
        yield
    finally:
        logger.handlers[:], logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])


def relog(event: Logged, prefix: str = "") -> None:
    """Log `event` (a record from a job elsewhere) in this process; `prefix` (e.g. the photo's name)
    goes before a plain record's message, not before a notice's, which is the same for every photo."""
    text = event.message if event.notice is not None or not prefix else f"{prefix}: {event.message}"
    extra = {KEY: event.notice} if event.notice is not None else None
    logging.getLogger(event.logger).log(event.level, "%s", text, extra=extra)
