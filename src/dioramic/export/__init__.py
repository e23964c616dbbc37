"""Writing a `Scene` to files: glTF (.glb, .gltf), OBJ (+ MTL + texture), PLY mesh, PLY point cloud,
Gaussian splats (3DGS PLY, SPZ).

    >>> from dioramic.export import export_scene                  # doctest: +SKIP
    >>> export_scene(scene, "out/scene.glb")                      # doctest: +SKIP
    >>> export_scene(scene, "out/scene.obj", image_format="png")  # doctest: +SKIP
    >>> export_scene(scene, "out/scene.glb", motion=motion, fps=30, size=(1280, 720))  # doctest: +SKIP

Formats are registered by name in `EXPORTERS` (see `dioramic.export.base`); the name comes from the
file's extension unless ``format=`` is given. Every file is written atomically: a temporary file in
the same folder, renamed over the target once complete, so an error never leaves a half-written file.

==========  ===============================  =====================================================
format      extension                        options
==========  ===============================  =====================================================
glb         .glb (default)                   image_format, jpeg_quality, alpha_mode, motion, fps,
                                             size, duration, interpolation
gltf        .gltf (data embedded, one file)  as glb
obj         .obj (+ .mtl + texture)          image_format, jpeg_quality
ply         .ply                             texture_file, image_format, jpeg_quality
points      points.ply, NAME.points.ply      density, max_points, seed
splats      splats.ply, NAME.splat.ply,      max_splats
            .spz (compressed)
blend       .blend (needs 'make blender')    motion, fps, size, duration, engine, samples,
                                             background, motion_blur
==========  ===============================  =====================================================

With ``motion`` (any object with ``duration`` and ``pose(t)``, e.g. from `dioramic.motion.make_motion`)
glTF files carry the video's camera and object move as an animation sampled at the video's frame times
(`dioramic.export.animation`), and ``size`` gives the camera the video's aspect ratio.
"""

from __future__ import annotations

from pathlib import Path

from dioramic.export import blend, glb, obj, ply, splats  # noqa: F401 - register the built-in formats
from dioramic.export.base import EXPORTERS, Exporter, check_options, format_for_path
from dioramic.types import Scene

__all__ = ["EXPORTERS", "Exporter", "export_scene", "format_for_path"]

DEFAULT_FORMAT = "glb"


def export_scene(scene: Scene, path: str | Path, format: str | None = None, **options: object) -> Path:
    """Write `scene` to `path` in `format` (default: from the extension), returning the main file's path.

    Raises `UsageError` for an unknown format or option, `OutputError` when a file cannot be written.
    """
    path = Path(path)
    name = format if format is not None else format_for_path(path)
    exporter = EXPORTERS.get(name)
    check_options(exporter, options)
    return exporter.write(scene, path, **options)
