"""Render a .blend's animation with its own settings, as ``blender -b FILE -a`` does.

Parameters: blend. Result: {"output": the file written, "frames": the frame range rendered}.
"""

from __future__ import annotations

from typing import Any

import bpy
from _common import main


def render_blend(params: dict[str, Any]) -> dict[str, Any]:
    bpy.ops.wm.open_mainfile(filepath=params["blend"])
    scene = bpy.context.scene
    bpy.ops.render.render(animation=True)
    output = scene.render.frame_path(frame=scene.frame_start)
    return {"output": output, "frames": [scene.frame_start, scene.frame_end]}


if __name__ == "__main__":
    main(render_blend)
