"""Rendering the model from a held-out photo's own camera, lens distortion included, for comparison
with that photo: ray casting (Open3D) through every pixel, each mesh's texture sampled bilinearly where
its triangles are hit first, 2 x 2 rays per pixel averaged, alpha = the fraction of a pixel's rays that
hit a mesh.

Ray casting rather than the OpenGL renderer, because a photo's principal point is rarely at the centre
and its lens bends straight lines; both matter at the pixel level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dioramic.reconstruct.model import Lens
from dioramic.types import Mesh

SUPERSAMPLE = 2
"""Rays per pixel along each axis."""


def render_photo_view(
    meshes: Sequence[Mesh],
    lens: Lens,
    position: np.ndarray,
    world_from_camera: np.ndarray,
    width: int,
    height: int,
) -> np.ndarray:
    """(height, width, 4) uint8 RGBA: the `meshes` seen through `lens` (the photo's full-size camera,
    rendered at `width` x `height`) from `position` (3,), with `world_from_camera` (3, 3) mapping the
    lens' camera axes (x right, y down, z ahead) to the meshes' coordinates; alpha = coverage."""
    import cv2

    from dioramic.reconstruct.fusion import _open3d

    o3d = _open3d()
    scene = o3d.t.geometry.RaycastingScene()
    ids = []
    for mesh in meshes:
        geometry = o3d.t.geometry.TriangleMesh()
        geometry.vertex.positions = o3d.core.Tensor(np.ascontiguousarray(mesh.vertices, dtype=np.float32))
        geometry.triangle.indices = o3d.core.Tensor(np.ascontiguousarray(mesh.faces, dtype=np.int32))
        ids.append(scene.add_triangles(geometry))
    rays = lens.pixel_rays(width * SUPERSAMPLE, height * SUPERSAMPLE)
    directions = rays @ np.asarray(world_from_camera, dtype=np.float64).T
    origins = np.broadcast_to(np.asarray(position, dtype=np.float64), directions.shape)
    hits = scene.cast_rays(o3d.core.Tensor(np.concatenate([origins, directions], -1).astype(np.float32)))
    hit = np.isfinite(hits["t_hit"].numpy())
    geometry_ids = hits["geometry_ids"].numpy()
    triangles = hits["primitive_ids"].numpy().astype(np.int64)
    barycentric = hits["primitive_uvs"].numpy().astype(np.float64)
    colour = np.zeros((*hit.shape, 3))
    for mesh, geometry_id in zip(meshes, ids, strict=True):
        mine = hit & (geometry_ids == geometry_id)
        if not mine.any():
            continue
        corners = mesh.faces[triangles[mine]].astype(np.int64)
        w1, w2 = barycentric[mine][:, 0:1], barycentric[mine][:, 1:2]
        uv = (
            (1.0 - w1 - w2) * mesh.uvs[corners[:, 0]]
            + w1 * mesh.uvs[corners[:, 1]]
            + w2 * mesh.uvs[corners[:, 2]]
        )
        texture = np.ascontiguousarray(mesh.texture[..., :3])
        th, tw = texture.shape[:2]
        colour[mine] = sample(texture, uv[:, 0] * tw, uv[:, 1] * th)
    weight = hit.astype(np.float64)
    colour = cv2.resize(colour, (width, height), interpolation=cv2.INTER_AREA)
    coverage = cv2.resize(weight, (width, height), interpolation=cv2.INTER_AREA)
    rgb = colour / np.maximum(coverage, 1e-9)[..., None]
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[..., :3] = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    rgba[..., 3] = np.clip(np.round(coverage * 255.0), 0, 255).astype(np.uint8)
    rgba[rgba[..., 3] == 0, :3] = 0
    return rgba


def sample(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N, C) float64 bilinear samples of (H, W, C) `image` at continuous pixel coordinates (N,)
    `x`, `y` (pixel centres at +0.5), edges repeated.

    >>> sample(np.array([[[0.0], [10.0]]], np.float32), np.array([1.0]), np.array([0.5])).tolist()
    [[5.0]]
    """
    import cv2

    count = len(x)
    columns = 4096  # OpenCV's maps must stay under 32767 on each side
    rows = max(1, -(-count // columns))
    map_x = np.zeros(rows * columns, np.float32)
    map_y = np.zeros(rows * columns, np.float32)
    map_x[:count], map_y[:count] = x - 0.5, y - 0.5
    out = cv2.remap(image, map_x.reshape(rows, columns), map_y.reshape(rows, columns), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return out.reshape(rows * columns, -1)[:count].astype(np.float64)
