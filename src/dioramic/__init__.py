"""Dioramic: turn one photo into a 3D scene and film it.

The public API, one function per stage (imported lazily: `import dioramic` loads no GL, ONNX Runtime
or video library)::

    import dioramic

    photo = dioramic.load_photo("cup.jpg")                      # Photo: upright sRGB pixels + EXIF focal
    depth = dioramic.estimate_depth(photo, backend="auto")      # DepthMap: (H, W) float32, larger = farther
    scene = dioramic.build_scene(photo, depth)                  # Scene: textured mesh layers + camera
    dioramic.export_scene(scene, "scene.glb")                   # GLB / glTF / OBJ / PLY by extension
    motion = dioramic.make_motion("circle", scene, duration=5)  # pose(t) for t in seconds
    dioramic.render_video(scene, motion, "video.mp4", dioramic.RenderSettings(1200, 800))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_photo": "dioramic.photo",
    "photo_from_array": "dioramic.photo",
    "estimate_depth": ("dioramic.depth", "estimate"),
    "DepthOptions": "dioramic.depth",
    "build_scene": "dioramic.scene",
    "SceneOptions": "dioramic.scene",
    "export_scene": "dioramic.export",
    "make_motion": "dioramic.motion",
    "render_video": "dioramic.render",
    "render_frames": "dioramic.render",
    "RenderSettings": "dioramic.render",
    "RunOptions": "dioramic.config",
    "run_photo": "dioramic.pipeline",
    "Photo": "dioramic.types",
    "DepthMap": "dioramic.types",
    "Camera": "dioramic.types",
    "Mesh": "dioramic.types",
    "Scene": "dioramic.types",
    "Pose": "dioramic.types",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'dioramic' has no attribute '{name}'")
    module, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
