"""Render video frames of our GLB (or of a .blend) to PNG files.

Parameters: glb or blend, out (a folder), frames (video frame indices, or null for all), fps, width,
height, frame_count, first_frame, engine, samples, background, motion_blur. A .blend is rendered with
its own settings (only `out` and `frames` apply). Result: {"files": [...], "device": ...} with one
PNG per frame, named frame_00000.png by video frame index.
"""

from __future__ import annotations

import os
import time
from typing import Any

import bpy
from _common import import_glb, main, progress, set_up_scene


def render(params: dict[str, Any]) -> dict[str, Any]:
    if params.get("blend"):
        bpy.ops.wm.open_mainfile(filepath=params["blend"])
        scene = bpy.context.scene
    else:
        import_glb(params["glb"], float(params["fps"]), int(params["first_frame"]))
        scene = set_up_scene(params)
    first = scene.frame_start
    settings = scene.render.image_settings
    settings.media_type = "IMAGE"
    settings.file_format = "PNG"
    settings.color_mode = "RGB"
    settings.color_depth = "8"
    frames = params.get("frames")
    indices = list(range(scene.frame_end - first + 1)) if frames is None else [int(i) for i in frames]
    files, seconds = [], []
    progress(0, len(indices))  # the scene is ready: the frames' clock starts here
    for index in indices:
        scene.frame_set(first + index)
        path = os.path.join(params["out"], f"frame_{index:05d}.png")
        scene.render.filepath = path
        tick = time.perf_counter()
        bpy.ops.render.render(write_still=True)
        seconds.append(time.perf_counter() - tick)
        files.append(path)
        progress(len(files), len(indices))
    return {"files": files, "seconds": seconds, "engine": scene.render.engine}


if __name__ == "__main__":
    main(render)
