"""Blender's own Python: finding it, creating it, and running our scripts in it.

Blender as a Python module (`bpy` on PyPI) pins numpy < 2, so it lives in its own virtual environment,
``.venv-blender`` at the repository root (git-ignored), never in dioramic's. It is created explicitly,
by ``make blender`` or ``python -m dioramic.blender setup``; the library never installs anything on its
own. dioramic talks to it only through a subprocess that runs a script shipped in
``dioramic/blender/scripts`` with one JSON file of parameters, and reads back the JSON result the
script writes.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import venv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dioramic.errors import DioramicError

logger = logging.getLogger(__name__)

BPY_REQUIREMENT = "bpy==5.0.1"
"""The Blender release dioramic is tested with (the newest 5.0.x with a CPython 3.11 Linux wheel)."""

VENV_NAME = ".venv-blender"
"""Folder name of Blender's virtual environment (at the repository root, or the working directory)."""

PYTHON_ENV = "DIORAMIC_BLENDER_PYTHON"
"""Environment variable that may name the Python interpreter that has `bpy` (overrides the search)."""

SCRIPTS = Path(__file__).resolve().parent / "scripts"
"""The scripts run inside Blender's Python."""

_REPO_ROOT = Path(__file__).resolve().parents[3]
_RESULT_MARK = "DIORAMIC-RESULT:"
_PROGRESS_MARK = "DIORAMIC-PROGRESS:"


class BlenderUnavailableError(DioramicError):
    """No Python with Blender's `bpy` module was found (the message says how to set it up)."""


class BlenderError(DioramicError):
    """A Blender script failed; the message is the script's own last error line."""


def _candidates() -> list[Path]:
    folders = [Path.cwd() / VENV_NAME, _REPO_ROOT / VENV_NAME]
    return [folder / "bin" / "python" for folder in dict.fromkeys(folders)]


def default_venv() -> Path:
    """Where `setup_blender` creates the environment: .venv-blender at the repository root when
    dioramic runs from a source checkout, else in the current directory."""
    root = _REPO_ROOT if (_REPO_ROOT / "pyproject.toml").is_file() else Path.cwd()
    return root / VENV_NAME


def find_blender_python(python: str | os.PathLike[str] | None = None) -> Path:
    """The Python interpreter that has Blender's `bpy` module.

    Looked up in order: `python` if given, the ``DIORAMIC_BLENDER_PYTHON`` environment variable,
    ``./.venv-blender`` and ``.venv-blender`` at the repository root. Only the existence of the
    interpreter is checked here; a broken install fails when a script runs.

    Raises BlenderUnavailableError naming the fix ('make blender') when none exists.
    """
    given = python if python is not None else os.environ.get(PYTHON_ENV)
    if given:
        path = Path(given)
        if not path.is_file():
            raise BlenderUnavailableError(f"{path}: no such Python interpreter for Blender")
        return path
    for candidate in _candidates():
        if candidate.is_file():
            return candidate
    raise BlenderUnavailableError(
        f"Blender is not set up: run 'make blender' (or 'python -m dioramic.blender setup'), which "
        f"installs {BPY_REQUIREMENT} into {VENV_NAME}"
    )


def blender_available(python: str | os.PathLike[str] | None = None) -> bool:
    """Whether `find_blender_python` finds an interpreter (without running it)."""
    try:
        find_blender_python(python)
    except BlenderUnavailableError:
        return False
    return True


def setup_blender(
    target: str | os.PathLike[str] | None = None,
    *,
    requirement: str = BPY_REQUIREMENT,
    base_python: str | os.PathLike[str] | None = None,
) -> Path:
    """Create Blender's virtual environment at `target` (default: `default_venv()`) and install bpy.

    `base_python` (default: this interpreter) must be a CPython 3.11, the only version bpy 5.0 is
    built for. An existing environment that already imports bpy is left alone. Returns the path of
    its Python interpreter. Takes about half a minute and 1 GB of disk (a 374 MB download).
    """
    folder = Path(target) if target is not None else default_venv()
    python = folder / "bin" / "python"
    if python.is_file() and _imports_bpy(python):
        logger.info("Blender is already set up in %s", folder)
        return python
    base = Path(base_python) if base_python is not None else Path(sys.executable)
    if base == Path(sys.executable):
        if sys.version_info[:2] != (3, 11):
            raise BlenderUnavailableError(
                f"bpy 5.0 needs Python 3.11, this is {sys.version.split()[0]}: pass base_python"
            )
        venv.EnvBuilder(with_pip=True, clear=python.exists()).create(folder)
    else:
        subprocess.run([str(base), "-m", "venv", "--clear", str(folder)], check=True)
    logger.info("installing %s into %s", requirement, folder)
    result = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BlenderUnavailableError(f"pip could not install {requirement}: {_last_line(result.stderr)}")
    if not _imports_bpy(python):
        raise BlenderUnavailableError(f"{requirement} was installed into {folder} but 'import bpy' fails")
    return python


def _imports_bpy(python: Path) -> bool:
    result = subprocess.run([str(python), "-c", "import bpy"], capture_output=True, timeout=120)
    return result.returncode == 0


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def run_script(
    name: str,
    params: dict[str, Any],
    *,
    python: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run ``scripts/NAME.py`` in Blender's Python with `params` (JSON-able) and return its result.

    A script reads its parameters from the JSON file named by its one argument, may report progress
    on stdout lines ``DIORAMIC-PROGRESS:DONE/TOTAL`` (passed to `on_progress` as they come) and
    reports a JSON object on a stdout line starting with ``DIORAMIC-RESULT:``. Blender's own log goes
    to the debug log. Raises BlenderUnavailableError when there is no Blender, BlenderError when the
    script fails or runs past `timeout` seconds; Ctrl-C stops Blender too.
    """
    interpreter = find_blender_python(python)
    script = SCRIPTS / f"{name}.py"
    if not script.is_file():
        raise ValueError(f"no Blender script '{name}' in {SCRIPTS}")
    env = {**os.environ, "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)  # dioramic's packages (numpy 2) must not shadow Blender's
    result: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="dioramic-blender-") as tmp:
        params_file = Path(tmp) / "params.json"
        params_file.write_text(json.dumps(params))
        with open(Path(tmp) / "stderr.txt", "w+", encoding="utf-8", errors="replace") as stderr:
            process = subprocess.Popen(
                [str(interpreter), str(script), str(params_file)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                errors="replace",
                env=env,
                cwd=tmp,
            )
            timed_out = threading.Event()

            def stop() -> None:
                timed_out.set()
                process.kill()

            timer = threading.Timer(timeout, stop) if timeout is not None else None
            try:
                if timer is not None:
                    timer.start()
                assert process.stdout is not None
                for line in process.stdout:
                    line = line.rstrip("\n")
                    if line.startswith(_RESULT_MARK):
                        result = json.loads(line[len(_RESULT_MARK) :])
                    elif line.startswith(_PROGRESS_MARK) and on_progress is not None:
                        done, total = line[len(_PROGRESS_MARK) :].split("/")
                        on_progress(int(done), int(total))
                    elif line.strip():
                        logger.debug("blender: %s", line)
                returncode = process.wait()
            finally:
                if timer is not None:
                    timer.cancel()
                if process.poll() is None:
                    process.kill()
                    process.wait()
            stderr.seek(0)
            errors = stderr.read()
    for line in errors.splitlines():
        logger.debug("blender: %s", line)
    if timed_out.is_set():
        raise BlenderError(f"Blender ({name}) ran past {timeout:.0f} s and was stopped")
    if returncode != 0 or result is None:
        error = _script_error(errors) or f"exit status {returncode}"
        raise BlenderError(f"Blender ({name}) failed: {error}")
    return result


def _script_error(stderr: str) -> str:
    """The script's error line: its ``ERROR:`` line, else the traceback's last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("ERROR:"):
            return line.removeprefix("ERROR:").strip()
    for line in reversed(lines):
        if "Error" in line.split(":")[0]:
            return line
    return lines[-1] if lines else ""
