"""Import our GLB and save a .blend that renders the video: ``blender -b scene.blend -a``.

Parameters: glb, blend (where to save), fps, width, height, frame_count, first_frame, engine, samples,
background, motion_blur, video (the movie's path relative to the .blend, e.g. 'scene.mp4'), crf.
Result: the scene's settings as saved (see `_common.camera_report`).
"""

from __future__ import annotations

from typing import Any

import bpy
from _common import camera_report, frame_rate, import_glb, main, set_up_scene

_QUALITY = {"high": "HIGH", "medium": "MEDIUM", "low": "LOW"}


def make_blend(params: dict[str, Any]) -> dict[str, Any]:
    camera = import_glb(params["glb"], float(params["fps"]), int(params["first_frame"]))
    scene = set_up_scene(params)
    settings = scene.render.image_settings
    settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    ffmpeg = scene.render.ffmpeg
    ffmpeg.format, ffmpeg.codec = "MPEG4", "H264"
    ffmpeg.constant_rate_factor = _QUALITY[params.get("quality", "high")]
    ffmpeg.ffmpeg_preset = "GOOD"
    ffmpeg.audio_codec = "NONE"
    scene.render.filepath = "//" + params["video"]
    scene.render.use_file_extension = True
    for image in bpy.data.images:  # the .blend carries its textures
        if image.source == "FILE" and image.packed_file is None:
            image.pack()
    bpy.context.preferences.filepaths.save_version = 0  # no .blend1 backup of the empty temporary file
    bpy.ops.wm.save_as_mainfile(filepath=params["blend"], compress=True, relative_remap=True)
    return {
        "fps": frame_rate(scene),
        "frame_start": scene.frame_start,
        "frame_end": scene.frame_end,
        "camera": camera_report(camera),
    }


if __name__ == "__main__":
    main(make_blend)
