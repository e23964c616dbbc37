"""Gaussian splats of the scene ('splats'): the 3DGS PLY (NAME.splat.ply, splats.ply) or SPZ (.spz).

One flat splat per texel-sized piece of every layer, in the scene's coordinates (those of scene.glb);
see `dioramic.splats`. ``max_splats`` caps the count (the pieces grow to fit).
"""

from __future__ import annotations

from pathlib import Path

from dioramic.export.base import EXPORTERS, Exporter
from dioramic.splats import DEFAULT_MAX_SPLATS, splats_from_scene, write_splats
from dioramic.types import Scene


def write_splat_file(scene: Scene, path: Path, *, max_splats: int = DEFAULT_MAX_SPLATS) -> Path:
    """Write the splats of `scene` to `path`: SPZ for a .spz name, else the 3DGS PLY."""
    return Path(str(write_splats(splats_from_scene(scene, max_splats), path)))


EXPORTERS.add(
    "splats",
    Exporter(
        "splats",
        (".splat.ply", ".splats.ply", ".spz"),
        "3D Gaussian splats: the 3DGS PLY (splats.ply, NAME.splat.ply) or compressed SPZ (.spz)",
        write_splat_file,
    ),
)
