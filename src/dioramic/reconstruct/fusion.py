"""Depth maps -> one surface: truncated signed distance fusion (Open3D's VoxelBlockGrid) and marching
cubes, then clean-up and decimation to a triangle budget.

Every depth map is integrated into a sparse voxel grid holding, per voxel, the running weighted mean
of the signed distance to the nearest surface along the camera rays (truncated to a few voxels) and
how many views saw it. The surface is the zero crossing, kept where at least `min_weight` views
contributed; small disconnected pieces (floaters from wrong matches) and geometry outside the region
the sparse points span are removed, and quadric decimation brings the mesh to its budget.

The voxel size follows the data: `voxel_factor` times the size of one depth-map pixel at the views'
median depth, so the surface keeps the detail the depth maps have (and no more), or larger when the
surface the depth maps cover would otherwise give more than `max_triangles`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dioramic.errors import InputError, MissingDependencyError
from dioramic.reconstruct.model import View

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FusionOptions:
    """Settings of the fusion stage."""

    voxel_factor: float = 2.0
    """Voxel edge over the footprint of one depth-map pixel at the median depth."""
    truncation: float = 4.0
    """Truncation distance of the signed distance, in voxels."""
    min_weight: float = 0.5
    """Depth maps that must see a voxel for the surface to pass through it. Each depth map already
    rests on two or more views, and after views are held out much is seen by one depth map only, so
    one is enough; floaters are removed as small pieces instead."""
    max_triangles: int = 1_000_000
    """About the most triangles marching cubes should make (the voxel grows to fit); decimation then
    brings them to the model's budget."""
    min_piece: float = 0.01
    """Pieces with fewer triangles than this fraction of the largest are dropped."""


def _open3d():
    try:
        import open3d
    except ImportError:
        raise MissingDependencyError("open3d", "reconstruct", "fusing depth maps") from None
    open3d.utility.set_verbosity_level(open3d.utility.VerbosityLevel.Error)
    return open3d


def region_of_interest(
    points: np.ndarray, centres: np.ndarray, margin: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) (3,) corners of the box around the bulk of the sparse (N, 3) `points` (2nd to 98th
    percentile per axis) and the (V, 3) camera `centres` (what lies between the cameras and the
    object, such as the ground, is part of the scene), grown by `margin` of its size on each side.

    >>> lo, hi = region_of_interest(np.array([[0.0, 0, 0], [1, 2, 4]]), np.array([[0.0, 0, -2]]), 0.5)
    >>> lo.round(2).tolist(), hi.round(2).tolist()
    ([-0.49, -0.98, -4.96], [1.47, 2.94, 6.88])
    """
    lo, hi = np.percentile(points, [2, 98], axis=0)
    lo, hi = np.minimum(lo, centres.min(axis=0)), np.maximum(hi, centres.max(axis=0))
    size = hi - lo
    return lo - margin * size, hi + margin * size


def fuse(
    views: Sequence[View],
    depths: Mapping[int, np.ndarray],
    box: tuple[np.ndarray, np.ndarray],
    options: FusionOptions = FusionOptions(),
) -> tuple[np.ndarray, np.ndarray, float]:
    """Fuse the (H, W) float32 `depths` (0 = unknown) of `views` into a surface inside `box`.

    Returns (N, 3) float64 vertices, (M, 3) int64 faces, and the voxel size used (world units).
    Raises InputError when no surface comes out (the depth maps agree nowhere).
    """
    o3d = _open3d()
    medians = [float(np.median(d[d > 0])) for d in depths.values() if (d > 0).any()]
    if not medians:
        raise InputError("no depth could be measured in any view (too little texture or overlap)")
    focal = float(np.median([views[i].camera.fx for i in depths]))
    voxel = options.voxel_factor * float(np.median(medians)) / focal
    # marching cubes makes about 2 triangles per voxel-sized square of surface: keep the mesh near
    # `max_triangles` by estimating the surface from the depth maps (each point seen about 3 times)
    area = sum(float(((d[d > 0] / views[i].camera.fx) ** 2).sum()) for i, d in depths.items())
    area /= min(len(depths), 3)
    voxel = max(voxel, math.sqrt(2.0 * area / options.max_triangles))
    lo, hi = box
    grid = o3d.t.geometry.VoxelBlockGrid(
        attr_names=("tsdf", "weight"),
        attr_dtypes=(o3d.core.float32, o3d.core.float32),
        attr_channels=((1), (1)),
        voxel_size=voxel,
        block_resolution=16,
        block_count=50_000,
    )
    depth_max = float(np.linalg.norm(hi - lo)) + max(
        float(np.linalg.norm(views[i].centre - lo)) for i in depths
    )
    for i, depth in depths.items():
        view = views[i]
        clipped = np.where(_inside(view, depth, lo, hi), depth, 0.0).astype(np.float32)
        if not (clipped > 0).any():
            continue
        image = o3d.t.geometry.Image(o3d.core.Tensor(clipped))
        intrinsic = o3d.core.Tensor(view.camera.K, o3d.core.float64)
        extrinsic = np.eye(4)
        extrinsic[:3, :3] = view.rotation
        extrinsic[:3, 3] = view.translation
        extrinsic = o3d.core.Tensor(extrinsic, o3d.core.float64)
        blocks = grid.compute_unique_block_coordinates(
            image, intrinsic, extrinsic, 1.0, depth_max, options.truncation
        )
        grid.integrate(blocks, image, intrinsic, extrinsic, 1.0, depth_max, options.truncation)
    mesh = grid.extract_triangle_mesh(weight_threshold=options.min_weight)
    vertices = mesh.vertex.positions.numpy().astype(np.float64)
    faces = mesh.triangle.indices.numpy().astype(np.int64) if "indices" in mesh.triangle else np.zeros((0, 3))
    faces = faces.reshape(-1, 3).astype(np.int64)
    if len(faces) == 0:
        raise InputError("the depth maps of the views agree on no surface (too little texture or overlap)")
    vertices, faces = _crop(vertices, faces, lo, hi)
    vertices, faces = drop_small_pieces(vertices, faces, options.min_piece)
    log.debug("fused %d triangles at voxel %.4g", len(faces), voxel)
    return vertices, faces, voxel


def _inside(view: View, depth: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels whose depth puts them inside the box (lo, hi)."""
    cam = view.camera
    u, v = np.meshgrid(np.arange(cam.width) + 0.5, np.arange(cam.height) + 0.5)
    local = np.stack([(u - cam.cx) / cam.fx * depth, (v - cam.cy) / cam.fy * depth, depth], axis=-1)
    world = local.reshape(-1, 3) @ view.rotation + view.centre  # R^T (x - t) == R^T x + C
    inside = ((world >= lo) & (world <= hi)).all(axis=1).reshape(depth.shape)
    return inside & (depth > 0)


def _crop(
    vertices: np.ndarray, faces: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    inside = ((vertices >= lo) & (vertices <= hi)).all(axis=1)
    return compact(vertices, faces[inside[faces].all(axis=1)])


def compact(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mesh without vertices that no face uses (faces renumbered).

    >>> v, f = compact(np.arange(12.0).reshape(4, 3), np.array([[3, 1, 3]]))
    >>> v[:, 0].tolist(), f.tolist()
    ([3.0, 9.0], [[1, 0, 1]])
    """
    used, inverse = np.unique(faces.reshape(-1), return_inverse=True)
    return vertices[used], inverse.reshape(-1, 3).astype(np.int64)


def face_adjacency(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K,) and (K,) indices of the face pairs that share an edge.

    >>> a, b = face_adjacency(np.array([[0, 1, 2], [2, 1, 3], [4, 5, 6]]))
    >>> sorted(zip(a.tolist(), b.tolist()))
    [(1, 0)]
    """
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges.sort(axis=1)
    owner = np.tile(np.arange(len(faces)), 3)
    key = edges[:, 0] * (int(faces.max(initial=0)) + 1) + edges[:, 1]
    order = np.argsort(key, kind="stable")
    key, owner = key[order], owner[order]
    same = key[1:] == key[:-1]
    return owner[:-1][same], owner[1:][same]


def drop_small_pieces(
    vertices: np.ndarray, faces: np.ndarray, fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """The mesh without its edge-connected pieces smaller than `fraction` of the largest one."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if len(faces) == 0:
        return vertices, faces
    a, b = face_adjacency(faces)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(faces), len(faces)))
    _, piece = connected_components(graph, directed=False)
    sizes = np.bincount(piece)
    keep = sizes[piece] >= fraction * sizes.max()
    return compact(vertices, faces[keep])


def decimate(vertices: np.ndarray, faces: np.ndarray, max_triangles: int) -> tuple[np.ndarray, np.ndarray]:
    """The mesh simplified to at most `max_triangles` by quadric error decimation (the
    Fast-Quadric-Mesh-Simplification library through `fast_simplification`: about ten times faster
    than Open3D's on a million triangles)."""
    if len(faces) <= max_triangles:
        return vertices, faces
    try:
        import fast_simplification
    except ImportError:
        raise MissingDependencyError("fast-simplification", "reconstruct", "simplifying the model") from None
    out_vertices, out_faces = fast_simplification.simplify(
        np.ascontiguousarray(vertices, dtype=np.float32),
        np.ascontiguousarray(faces, dtype=np.int32),
        target_reduction=1.0 - max_triangles / len(faces),
    )
    out_faces = np.asarray(out_faces, dtype=np.int64).reshape(-1, 3)
    corners = out_vertices[out_faces]
    area = np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    keep = (area > 0) & (out_faces[:, 0] != out_faces[:, 1]) & (out_faces[:, 1] != out_faces[:, 2])
    keep &= out_faces[:, 0] != out_faces[:, 2]
    return compact(np.asarray(out_vertices, dtype=np.float64), out_faces[keep][:max_triangles])
