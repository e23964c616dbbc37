"""The surroundings the model does not hold: a sphere around the cameras, textured with what the views
show beyond the model (the sky, far buildings, the room around an object), so that no camera move
looks into empty space.

The sphere is centred on the model's centre (about which `spin` turns, at the cameras' mean distance),
just beyond the farthest camera and the model's bulk (`radius_factor`), with its poles on the model's
up axis and an equirectangular
texture: each texel's point on the sphere is looked up in every view where no part of the model hides
it, the views weighted towards their image centres; what no view saw is filled plainly from the seen
texels around it (push-pull: a smooth continuation of their colours, no streaks or invented detail).
What lies near the sphere comes out right; what lies much farther shifts a little between viewpoints
(parallax). Faces point inwards (counter-clockwise seen from inside).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dioramic.reconstruct.model import View
from dioramic.reconstruct.texture import TexturedMesh, ray_scene


@dataclass(frozen=True)
class BackgroundOptions:
    """Settings of the background sphere."""

    texture_width: int = 2048
    """Width of the equirectangular texture (its height is half)."""
    segments: int = 96
    """Segments of the sphere around its axis (half as many from pole to pole)."""
    radius_factor: float = 1.1
    """Radius over the distance from the cameras' centre to the farthest camera or (99th percentile)
    model point: the backdrop stands just behind the model, where what the model lacks most likely
    is, so that it shifts little between nearby viewpoints (parallax)."""
    sample_side: int = 1024
    """Long side of the view images sampled."""


def sphere(
    centre: np.ndarray, axis: np.ndarray, radius: float, segments: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 3) vertices, (N, 2) equirectangular texture coordinates (u = longitude / 360 degrees from
    -180, v = colatitude / 180 degrees from the pole `axis` points to) and (M, 3) faces, facing in.

    >>> v, uv, f = sphere(np.zeros(3), np.array([0.0, 0, 1]), 2.0, 8)
    >>> bool(np.allclose(np.linalg.norm(v, axis=1), 2.0)), len(f), float(uv[:, 1].max())
    (True, 48, 1.0)
    """
    e1, e2 = _basis(axis)
    rows = segments // 2
    lon = np.linspace(-math.pi, math.pi, segments + 1)
    lat = np.linspace(math.pi / 2, -math.pi / 2, rows + 1)
    lon_grid, lat_grid = np.meshgrid(lon, lat)
    directions = _directions(lon_grid, lat_grid, e1, e2, axis)
    vertices = centre + radius * directions.reshape(-1, 3)
    uvs = np.stack([(lon_grid + math.pi) / (2 * math.pi), (math.pi / 2 - lat_grid) / math.pi], -1).reshape(
        -1, 2
    )
    index = np.arange((rows + 1) * (segments + 1)).reshape(rows + 1, segments + 1)
    a, b = index[:-1, :-1].ravel(), index[:-1, 1:].ravel()
    c, d = index[1:, :-1].ravel(), index[1:, 1:].ravel()
    # a b (one row, longitude growing) over c d (the next row down): a-b-c and b-d-c face inwards
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([b, d, c], 1)])
    area = np.linalg.norm(
        np.cross(
            vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]]
        ),
        axis=1,
    )
    return vertices, uvs.astype(np.float32), faces[area > 1e-12 * radius * radius].astype(np.int64)


def _basis(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(axis, e1)


def _directions(
    lon: np.ndarray, lat: np.ndarray, e1: np.ndarray, e2: np.ndarray, axis: np.ndarray
) -> np.ndarray:
    cos_lat = np.cos(lat)[..., None]
    return (
        cos_lat * (np.cos(lon)[..., None] * e1 + np.sin(lon)[..., None] * e2) + np.sin(lat)[..., None] * axis
    )


def push_pull(colour: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(H, W, C) float `colour` with the pixels of zero `weight` filled from their surroundings: each
    coarser level averages the known pixels, and holes take the upsampled coarser level.

    >>> out = push_pull(np.array([[[1.0], [0.0], [3.0]]]), np.array([[1.0, 0.0, 1.0]]))
    >>> out[0, :, 0].round(3).tolist()
    [1.0, 2.0, 3.0]
    """
    import cv2

    known = weight > 0
    height, width = weight.shape
    if known.all():
        return colour
    if not known.any():
        return np.full_like(colour, 128.0)
    if height <= 2 and width <= 2:
        mean = (colour * weight[..., None]).sum(axis=(0, 1)) / weight.sum()
        return np.where(known[..., None], colour, mean)
    size = (max(1, (width + 1) // 2), max(1, (height + 1) // 2))
    summed = cv2.resize(colour * weight[..., None], size, interpolation=cv2.INTER_AREA).reshape(
        size[1], size[0], -1
    )
    coarse_weight = cv2.resize(weight, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0])
    coarse = push_pull(summed / np.maximum(coarse_weight, 1e-12)[..., None], coarse_weight)
    up = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR).reshape(height, width, -1)
    return np.where(known[..., None], colour, up)


def background_sphere(
    views: Sequence[View],
    vertices: np.ndarray,
    faces: np.ndarray,
    centre: np.ndarray,
    axis: np.ndarray,
    options: BackgroundOptions = BackgroundOptions(),
    foreground: Sequence[np.ndarray | None] | None = None,
) -> TexturedMesh:
    """The textured background sphere around `centre` (the model's: the spin turns about it) holding
    the `views` (world coordinates) and the model (`vertices`, `faces`), its poles on `axis` (unit,
    world). `foreground`, per view, marks (any size, (H, W) bool) pixels known to show the model (where
    stereo measured depth) even where the mesh has a hole: they are not taken for the background
    either."""
    import cv2

    centres = np.array([v.centre for v in views])
    centre = np.asarray(centre, dtype=np.float64)
    reach = float(np.linalg.norm(centres - centre, axis=1).max())
    if len(vertices):
        reach = max(reach, float(np.percentile(np.linalg.norm(vertices - centre, axis=1), 99)))
    radius = options.radius_factor * max(reach, 1e-9)
    width, height = options.texture_width, options.texture_width // 2
    e1, e2 = _basis(axis)
    lon = (np.arange(width) + 0.5) / width * 2 * math.pi - math.pi
    lat = math.pi / 2 - (np.arange(height) + 0.5) / height * math.pi
    points = centre + radius * _directions(*np.meshgrid(lon, lat), e1, e2, axis).reshape(-1, 3)
    total = np.zeros((height, width, 3))
    weight = np.zeros((height, width))
    model = ray_scene(vertices, faces) if len(faces) else None
    for k, view in enumerate(views):
        scale = min(1.0, options.sample_side / max(view.camera.width, view.camera.height))
        size = (max(1, round(view.camera.width * scale)), max(1, round(view.camera.height * scale)))
        image = cv2.resize(view.image, size, interpolation=cv2.INTER_AREA) if scale < 1 else view.image
        free = cv2.resize(view.valid.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        taken = np.zeros((size[1], size[0]), bool)
        if model is not None:
            taken |= _covered(model, view, size)
        if foreground is not None and foreground[k] is not None:
            known = cv2.resize(np.asarray(foreground[k], np.uint8), size, interpolation=cv2.INTER_NEAREST)
            taken |= cv2.dilate(known, np.ones((5, 5), np.uint8)) > 0
        free &= ~enclosed(taken)
        pixels, z = view.project(points)
        x = (pixels[:, 0] * scale).reshape(height, width)
        y = (pixels[:, 1] * scale).reshape(height, width)
        inside = (z.reshape(height, width) > 0) & (x >= 0) & (x < size[0]) & (y >= 0) & (y < size[1])
        col = np.clip(x, 0, size[0] - 1).astype(np.int64)
        row = np.clip(y, 0, size[1] - 1).astype(np.int64)
        usable = inside & free[row, col]
        # weight: falls to zero at the image's corners (vignetting, lens falloff, seams)
        r2 = ((x / size[0] - 0.5) ** 2 + (y / size[1] - 0.5) ** 2) / 0.5
        w = np.where(usable, np.clip(1.0 - r2, 0.0, 1.0) ** 2 + 1e-3, 0.0)
        map_x, map_y = (x - 0.5).astype(np.float32), (y - 0.5).astype(np.float32)
        sampled = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        total += sampled * w[..., None]
        weight += w
    colour = total / np.maximum(weight, 1e-12)[..., None]
    texture = np.clip(np.round(push_pull(colour, weight)), 0, 255).astype(np.uint8)
    sphere_vertices, uvs, sphere_faces = sphere(centre, axis, radius, options.segments)
    return TexturedMesh(
        vertices=sphere_vertices,
        uvs=uvs,
        faces=sphere_faces,
        texture=texture,
        charts=1,
        unseen=float((weight == 0).mean()),
    )


def enclosed(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: `mask` with the holes it encloses (pixels no path outside it joins to the image's
    border) filled. Inside the model's outline in a view, a pixel neither the mesh nor stereo holds is
    far more often the model itself (a gap stereo could not match, a thin column) than the
    surroundings seen through it: taken for the backdrop, it paints a ghost of the model there.

    >>> ring = np.zeros((5, 5), bool); ring[1:4, 1:4] = True; ring[2, 2] = False
    >>> enclosed(ring)[2, 2], enclosed(ring)[0, 0]
    (np.True_, np.False_)
    """
    import cv2

    height, width = mask.shape
    flood = np.zeros((height + 2, width + 2), np.uint8)
    flood[1:-1, 1:-1] = mask
    cv2.floodFill(flood, None, (0, 0), 2)  # everything outside the mask that reaches the border
    return flood[1:-1, 1:-1] != 2


def _covered(model: object, view: View, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool at `size`: pixels of `view` where the model is (grown by 2 pixels)."""
    import cv2

    from dioramic.reconstruct.fusion import _open3d

    o3d = _open3d()
    cam = view.camera.resized(*size)
    u, v = np.meshgrid(np.arange(size[0]) + 0.5, np.arange(size[1]) + 0.5)
    rays = np.stack([(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, np.ones_like(u)], -1) @ view.rotation
    origins = np.broadcast_to(view.centre, rays.shape)
    hits = model.cast_rays(o3d.core.Tensor(np.concatenate([origins, rays], -1).astype(np.float32)))  # type: ignore[attr-defined]
    covered = np.isfinite(hits["t_hit"].numpy()).astype(np.uint8)
    return cv2.dilate(covered, np.ones((5, 5), np.uint8)) > 0
