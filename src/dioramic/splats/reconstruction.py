"""The splats of a reconstruction (``dioramic reconstruct --splats``), refined on a GPU on request.

Three parts, the most important first:

* the fused model, one splat per texel of its atlas (`dioramic.splats.build`);
* where stereo measured a surface in the reference photo (the scene's own camera) that the fused model
  does not hold (thin gaps, columns, edges the fusion dropped), that photo's own surface
  (`dioramic.types.PhotoSurface`, as the view-dependent renderer shows it), one splat per photo
  pixel: from the scene's camera the splats then show what the photo shows, not the backdrop
  through the model's holes;
* the backdrop sphere, which gives up splats first when everything does not fit the budget
  (`dioramic.splats.build.splats_from_scene`: so does `dioramic export` of the reconstruction's
  scene.glb, which has the model and the backdrop but not the photos).

Their colours then change with the view: spherical harmonics fitted to every photo that sees each
splat (`dioramic.splats.harmonics`), so that from each photo's viewpoint the splats show that photo.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dioramic.splats import Splats, splats_from_scene, write_splats
from dioramic.types import Mesh, Scene

if TYPE_CHECKING:
    from dioramic.splats.harmonics import PhotoView

log = logging.getLogger(__name__)

MODEL = "model"
"""The name `dioramic.reconstruct.run` gives the fused model's mesh."""
FILL_SHARE = 0.5
"""The reference photo's fill takes at most this share of the splat budget (its photo is
area-averaged down beyond that)."""
GRAZING = 4.0
"""The photo's splats at most this many times longer than wide are kept (a surface seen at most
75 degrees from face-on): longer ones hung as streaks below templeSparseRing's colonnade in every
other view."""
BEHIND = 0.02
"""A photo splat counts as held by the model when the model lies at most this much (relative
distance) beyond it along the photo's ray: the photo's surface follows the model's depth where the
model is, to the accuracy of its decimation."""


def reference_fill(scene: Scene, reference: str | None, budget: int) -> Splats | None:
    """Splats of the `reference` photo's measured surface (its `PhotoSurface`) where the scene's fused
    model lies farther along the photo's rays, or nowhere; None without that photo's surface."""
    from dioramic.splats.build import downsampled, mesh_splats

    photo = next((p for p in scene.photos if p.name == reference), None)
    if photo is None or not len(photo.faces):
        return None
    measured = int(np.count_nonzero(photo.image[:, :, 3]))
    factor = max(1.0, math.sqrt(measured / max(1.0, FILL_SHARE * budget)))
    surface = Mesh("photo", photo.vertices, photo.uvs, photo.faces, photo.image)
    splats = mesh_splats(surface, downsampled(photo.image, factor))  # alpha 0 (filled in): no splat
    # a pixel whose surface the photo sees at a grazing angle is a long splat: a ramp between depths
    # (a column's edge and what lies behind it) rather than a surface, which other views see as a streak
    across = splats.scales[:, :2]
    splats = splats.subset(across.max(axis=1) <= GRAZING * across.min(axis=1))
    model = next((m for m in scene.meshes if m.name == MODEL and len(m.faces)), None)
    if model is not None and len(splats):
        splats = splats.subset(_in_front_of(model, photo.position, splats.means))
    return splats


def _in_front_of(model: Mesh, origin: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N,) bool: the `points` the `model` does not hide or hold, seen from `origin`: the ray from
    `origin` through each meets the model nowhere, or more than `BEHIND` beyond it."""
    from dioramic.reconstruct.fusion import _open3d
    from dioramic.reconstruct.texture import ray_scene

    o3d = _open3d()
    offsets = points.astype(np.float64) - origin
    distance = np.linalg.norm(offsets, axis=1)
    directions = offsets / np.maximum(distance, 1e-12)[:, None]
    rays = np.concatenate([np.broadcast_to(origin, directions.shape), directions], axis=1)
    hits = ray_scene(model.vertices, model.faces).cast_rays(o3d.core.Tensor(rays.astype(np.float32)))  # type: ignore[attr-defined]
    return hits["t_hit"].numpy() > distance * (1.0 + BEHIND)


def reconstruction_splats(scene: Scene, max_splats: int, reference: str | None = None) -> Splats:
    """The splats of a reconstruction's `scene` within `max_splats` (see the module docstring):
    the model, the `reference` photo's surface where the model has none, and the backdrop."""
    fill = reference_fill(scene, reference, max_splats)
    share = int(FILL_SHARE * max_splats)
    if fill is not None and len(fill) > share:  # the photo's rounding overshot: drop a few evenly
        fill = fill.subset(np.linspace(0, len(fill) - 1, share).astype(np.int64))
    left = max(1, max_splats - (len(fill) if fill is not None else 0))
    parts = [splats_from_scene(scene, left)]  # the backdrop gives up splats first
    if fill is not None and len(fill):
        log.info("splats: %d of the reference photo's surface where the model has none", len(fill))
        parts.append(fill)
    return Splats.concatenate(parts)


def write_reconstruction_splats(
    scene: Scene,
    folder: Path,
    max_splats: int,
    refine_iterations: int | None = None,
    reference: str | None = None,
    photos: Sequence[PhotoView] = (),
) -> dict[str, Any]:
    """Write folder/splats.ply: the splats of the model, the `reference` photo's surface where the
    model has none, and the backdrop (`reconstruction_splats`), refined against the photos for
    `refine_iterations` steps when given (`dioramic.splats.refine`: reads folder/sparse and
    folder/images, so call it once they are written), then coloured view-dependently from the
    `photos` (`dioramic.splats.harmonics`; none: one colour per splat). Returns the report's 'splats'
    entry."""
    splats = reconstruction_splats(scene, max_splats, reference)
    summary: dict[str, Any] = {"file": "splats.ply", "splats": len(splats)}
    if refine_iterations:
        from dioramic.splats.refine import RefineSettings, refine_output

        splats, report = refine_output(folder, splats, RefineSettings(iterations=refine_iterations))
        summary["refined"] = report.as_dict()
    if photos:
        from dioramic.splats.harmonics import fit_harmonics

        splats = fit_harmonics(splats, photos)
        summary["sh_degree"] = splats.degree
    write_splats(splats, folder / "splats.ply")
    return summary
