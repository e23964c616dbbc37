"""Open a .blend and report what `blender -b FILE -a` would render: frames, rate, size, output, camera.

Parameters: blend. Result: a JSON object (see `dioramic.blender.BlendInfo`).
"""

from __future__ import annotations

from typing import Any

import bpy
from _common import camera_report, frame_rate, main


def inspect(params: dict[str, Any]) -> dict[str, Any]:
    bpy.ops.wm.open_mainfile(filepath=params["blend"])
    scene = bpy.context.scene
    render = scene.render
    if scene.camera is None:
        raise ValueError(f"{params['blend']} has no scene camera")
    return {
        "fps": frame_rate(scene),
        "frame_start": scene.frame_start,
        "frame_end": scene.frame_end,
        "width": render.resolution_x * render.resolution_percentage // 100,
        "height": render.resolution_y * render.resolution_percentage // 100,
        "engine": render.engine,
        "output": render.filepath,
        "output_absolute": bpy.path.abspath(render.filepath),
        "file_format": render.image_settings.file_format,
        "container": render.ffmpeg.format,
        "codec": render.ffmpeg.codec,
        "view_transform": scene.view_settings.view_transform,
        "packed_images": sum(1 for image in bpy.data.images if image.packed_file is not None),
        "camera": camera_report(scene.camera),
    }


if __name__ == "__main__":
    main(inspect)
