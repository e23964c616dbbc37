"""The splats of a reconstruction (``dioramic reconstruct --splats``), refined on a GPU on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dioramic.splats import splats_from_scene, write_splats
from dioramic.types import Scene


def write_reconstruction_splats(
    scene: Scene, folder: Path, max_splats: int, refine_iterations: int | None = None
) -> dict[str, Any]:
    """Write folder/splats.ply: the splats of the model and its backdrop, refined against the photos
    for `refine_iterations` steps when given (`dioramic.splats.refine`: reads folder/sparse and
    folder/images, so call it once they are written). Returns the report's 'splats' entry."""
    splats = splats_from_scene(scene, max_splats)
    summary: dict[str, Any] = {"file": "splats.ply", "splats": len(splats)}
    if refine_iterations:
        from dioramic.splats.refine import RefineSettings, refine_output

        splats, report = refine_output(folder, splats, RefineSettings(iterations=refine_iterations))
        summary["refined"] = report.as_dict()
    write_splats(splats, folder / "splats.ply")
    return summary
