"""Report Blender's version (a smoke test of the environment). Parameters: none."""

from __future__ import annotations

from typing import Any

import bpy
from _common import main


def version(params: dict[str, Any]) -> dict[str, Any]:
    return {"version": bpy.app.version_string}


if __name__ == "__main__":
    main(version)
