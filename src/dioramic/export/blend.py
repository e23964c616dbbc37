"""Blender .blend export: the scene, its camera move and the render settings of the video.

The scene is written as an animated GLB (`dioramic.export.glb`) into a temporary folder, then Blender
(`dioramic.blender`, its own environment: ``make blender``) imports it and saves a .blend with the
frame range, frame rate, resolution, render engine and an FFmpeg H.264 output NAME.mp4 beside it, so
that ``blender -b NAME.blend -a`` renders the video. Without a motion the .blend holds one frame seen
from the photo's camera.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from dioramic.export.animation import MotionLike
from dioramic.export.base import EXPORTERS, Exporter
from dioramic.export.glb import write_glb
from dioramic.types import Scene


def write_blend(
    scene: Scene,
    path: Path,
    *,
    motion: MotionLike | None = None,
    fps: float = 30.0,
    size: tuple[int, int] | None = None,
    duration: float | None = None,
    engine: str = "workbench",
    samples: int | None = None,
    background: tuple[int, int, int] = (0, 0, 0),
    motion_blur: bool = False,
) -> Path:
    """Write `scene` (animated by `motion` at `fps`, `size` and `duration`) as a .blend; see the module
    docstring and `dioramic.blender.export_blend` for the render options."""
    from dioramic.blender import export_blend, find_blender_python

    find_blender_python()  # fail early, before any work, when Blender is not set up
    size = size if size is not None else (scene.camera.width, scene.camera.height)
    with tempfile.TemporaryDirectory(prefix="dioramic-blend-") as tmp:
        glb = write_glb(
            scene,
            Path(tmp) / "scene.glb",
            image_format="png",
            motion=motion,
            fps=fps,
            size=size,
            duration=duration,
        )
        return export_blend(
            glb,
            path,
            fps=fps,
            size=size,
            frames=None if motion is not None else 1,
            engine=engine,
            samples=samples,
            background=background,
            motion_blur=motion_blur,
        )


EXPORTERS.add(
    "blend",
    Exporter(
        "blend", (".blend",), "Blender scene that renders the video (needs 'make blender')", write_blend
    ),
)
