"""The benchmarks' scorers from ../shared (eval_depth.py, nvs.py, ...), imported where they lie,
never copied into this repository."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_script(path: Path) -> ModuleType:
    """The Python file at `path` as a module named after it; exits with one line when it is missing."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None or not path.is_file():
        raise SystemExit(f"no {path.name} in {path.parent}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
