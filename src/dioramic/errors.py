"""The project's error types.

Every failure a user can cause is raised as one of these with a one-line message that says what went
wrong, which file, and what to do. The CLI turns them into a line on stderr and an exit status:
`UsageError` -> 2 (a bad option or name), every other `DioramicError` -> 1 (bad input, missing extra).
"""

from __future__ import annotations


class DioramicError(Exception):
    """Base class of every error the library raises on purpose."""

    exit_code = 1


class UsageError(DioramicError):
    """An option value, name or combination the user gave is not valid (exit status 2)."""

    exit_code = 2


class InputError(DioramicError):
    """An input file (photo, depth map, timeline, scene) cannot be read or is not valid."""


class OutputError(DioramicError):
    """An output cannot be written (permissions, full disk, ...)."""


class MissingDependencyError(DioramicError):
    """An optional package is not installed; the message names the extra that brings it."""

    def __init__(self, package: str, extra: str, purpose: str = "") -> None:
        what = f" for {purpose}" if purpose else ""
        super().__init__(
            f"the Python package '{package}' is needed{what}: install it with pip install 'dioramic[{extra}]'"
        )


class ModelUnavailableError(DioramicError):
    """Learned-model weights are neither on disk nor downloadable (offline, no such file)."""
