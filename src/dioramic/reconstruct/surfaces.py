"""Each photo's own surface, for view-dependent rendering (`dioramic.render.blend`): the photo draped over
the depth it sees.

For every textured view:

1. Depth. Where the fused model lies in the view, its depth (consistent from photo to photo, so that
   neighbouring photos' surfaces agree and blend without ghosts); elsewhere the view's own stereo depth;
   both count as *measured*. The rest (the sky, plain walls stereo could not match) is filled with the
   farthest measured depth around it (`far_fill`): a hole is more often background seen past an edge
   than a surface standing in front, and a filled-in surface yields to any measured one.
2. Mesh. The depth is sampled on a lattice, cut where it jumps (the single-photo scene's cut test,
   `dioramic.scene.lattice.cut_edges`) and decimated by the same quadtree, to a tolerance of
   `max_error` pixels of parallax for a camera moved by the typical spacing of the photos. Narrow
   ramps that such a move would stretch (stereo's mixed pixels at an object's edge, between a column
   and what lies behind it) become steps first (`dioramic.scene.lattice.collapse_ramps`), so they are
   cut rather than hung as sheets, which other viewpoints see as drips.
3. Texture. The undistorted photo with alpha = measured (255) or filled in (0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dioramic.camera import unproject_pixels
from dioramic.reconstruct.model import View
from dioramic.reconstruct.placement import Placement
from dioramic.types import PhotoSurface


@dataclass(frozen=True)
class SurfaceOptions:
    """Settings of the photos' surfaces."""

    resolution: int = 320
    """Lattice cells on the long side of each photo's surface mesh (the photo's own pixels give the
    detail; the mesh gives where they go)."""
    max_error: float = 2.0
    """Most parallax (pixels of the depth map) the decimation may change for a camera moved by the
    typical spacing of the photos. On entry-P10, 480 cells and 1 pixel gave 0.15 dB more on held-out
    views for 2.7 times the triangles and 35 % more time per video frame."""
    max_triangles: int = 150_000
    """Most triangles per photo."""
    edge_threshold: float = 0.03
    """Relative depth jump (beyond what the slope explains) where the surface is cut."""


def far_fill(depth: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(H, W) `depth` with the unknown pixels (not `known`) filled smoothly from the farthest known
    depths around them: each halving keeps the largest known depth of every 2 x 2 block, and holes
    take the coarser level, interpolated (so the fill has no blocks).

    >>> far_fill(np.array([[1.0, 0.0, 0.0, 3.0]]), np.array([[True, False, False, True]])).round(2).tolist()
    [[1.0, 1.5, 2.5, 3.0]]
    """
    import cv2

    if known.all():
        return depth.astype(np.float64)
    if not known.any():
        return np.ones(depth.shape)
    h, w = depth.shape
    if h <= 1 and w <= 1:
        return np.where(known, depth, depth[known].max())
    hh, ww = (h + 1) // 2, (w + 1) // 2
    padded = np.zeros((2 * hh, 2 * ww))
    padded[:h, :w] = np.where(known, depth, 0.0)
    coarse = padded.reshape(hh, 2, ww, 2).max(axis=(1, 3))
    coarse = far_fill(coarse, coarse > 0)
    up = cv2.resize(coarse, (2 * ww, 2 * hh), interpolation=cv2.INTER_LINEAR)[:h, :w]
    return np.where(known, depth, up)


def model_depth(view: View, scene: object) -> np.ndarray:
    """(H, W) float64 depth of the model (an Open3D RaycastingScene, world coordinates) along the
    view's optical axis at its pixel centres; inf where no triangle is hit."""
    from dioramic.reconstruct.fusion import _open3d

    o3d = _open3d()
    cam = view.camera
    u, v = np.meshgrid(np.arange(cam.width) + 0.5, np.arange(cam.height) + 0.5)
    rays = np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones_like(u)], axis=-1) @ view.rotation
    origins = np.broadcast_to(view.centre, rays.shape)
    hits = scene.cast_rays(o3d.core.Tensor(np.concatenate([origins, rays], -1).astype(np.float32)))  # type: ignore[attr-defined]
    return hits["t_hit"].numpy().astype(np.float64)  # rays have z = 1: t is the depth


def photo_spacing(views: Sequence[View]) -> float:
    """Median distance from each view to its nearest other view (world units)."""
    centres = np.array([v.centre for v in views])
    if len(centres) < 2:
        return 1.0
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=2)
    np.fill_diagonal(gaps, np.inf)
    return float(np.median(gaps.min(axis=1)))


def surface_mesh(
    depth: np.ndarray, focal: float, spacing: float, options: SurfaceOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The mesh of an (H, W) depth map (> 0 everywhere) seen with focal length `focal` (pixels):
    lattice positions u (N,), v (N,) in pixels, depths (N,), and faces (M, 3) (see the module doc)."""
    from dioramic.scene.lattice import cut_edges, lattice_layout, sample_lattice
    from dioramic.scene.quadtree import Quadtree, plan_within_budget
    from dioramic.scene.triangulate import triangulate

    height, width = depth.shape
    cells_x, cells_y, levels = lattice_layout(width, height, options.resolution)
    stretch = focal * spacing  # parallax (pixels) per unit of inverse depth, a photo's spacing away
    lattice = sample_lattice(depth, cells_x, cells_y, options.edge_threshold, stretch)
    cut_x, cut_y = cut_edges(lattice.z, lattice.u, lattice.v, options.edge_threshold)
    tree = Quadtree(lattice.z, lattice.u, lattice.v, cut_x, cut_y, levels)
    tolerance = options.max_error / max(stretch, 1e-12)  # inverse depth, 1 / world units
    plan = plan_within_budget(tree, tolerance, options.max_triangles)
    if plan is None:  # pragma: no cover - the coarsest plan of a 480-cell lattice fits 150k triangles
        raise RuntimeError("cannot meet the photo surface's triangle budget")
    tris = triangulate(tree, plan, lattice.z, cut_x, cut_y)
    used, faces = np.unique(tris.faces, return_inverse=True)
    size = lattice.z.size
    is_copy = used >= size
    copy = np.where(is_copy, used - size, 0)
    lattice_id = np.where(is_copy, tris.copy_source[copy] if len(tris.copy_source) else 0, used)
    row, col = np.divmod(lattice_id, lattice.shape[1])
    z = np.where(is_copy, tris.copy_z[copy] if len(tris.copy_z) else 1.0, lattice.z[row, col])
    return lattice.u[col], lattice.v[row], 1.0 / z, faces.reshape(-1, 3)


def photo_surfaces(
    views: Sequence[View],
    depths: Mapping[int, np.ndarray],
    textured: Sequence[int],
    texture_views: Sequence[View],
    model: object | None,
    placement: Placement,
    options: SurfaceOptions = SurfaceOptions(),
) -> tuple[PhotoSurface, ...]:
    """The `PhotoSurface` of each view in `textured` (indices into `views`, the depth-resolution views;
    `texture_views` are the same views at texture resolution, in the same order), from its stereo
    `depths` and the fused `model` (an Open3D RaycastingScene in world coordinates, or None), in the
    scene's coordinates (`placement`)."""
    import cv2

    spacing = photo_spacing([views[i] for i in textured])
    out = []
    for i, texture_view in zip(textured, texture_views, strict=True):
        view = views[i]
        cam = view.camera
        own = depths.get(i)
        depth = np.zeros((cam.height, cam.width)) if own is None else own.astype(np.float64)
        if model is not None:
            fused = model_depth(view, model)
            depth = np.where(np.isfinite(fused), fused, depth)
        known = depth > 0
        depth = far_fill(depth, known)
        u, v, z, faces = surface_mesh(depth, cam.fx, spacing, options)
        pose = placement.pose(view)
        local = unproject_pixels(u, v, z * placement.scale, cam)  # the camera's axes: y up, looking down -Z
        positions = local @ pose.camera_rotation.T + pose.camera_position
        size = (texture_view.camera.width, texture_view.camera.height)
        measured = cv2.resize(known.astype(np.uint8) * 255, size, interpolation=cv2.INTER_NEAREST)
        image = np.dstack([texture_view.image, np.where(texture_view.valid, measured, 0)]).astype(np.uint8)
        out.append(
            PhotoSurface(
                name=view.name,
                image=image,
                vertices=positions.astype(np.float32),
                uvs=np.stack([u / cam.width, v / cam.height], axis=1).astype(np.float32),
                faces=faces.astype(np.uint32),
                position=pose.camera_position,
            )
        )
    return tuple(out)
