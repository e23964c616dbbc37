"""Rendering the model from a held-out photo's own camera, lens distortion included, for comparison
with that photo: through the same renderer as the video (`dioramic.render.make_renderer`: the photos
blended view-dependently where the scene carries them, else the textured meshes), as a pinhole image
with the photo's focal length and principal point, 2 x 2 supersampled, on a canvas large enough for
every ray of the lens; the lens distortion is then applied by resampling. Alpha = coverage.
"""

from __future__ import annotations

import numpy as np

from dioramic.reconstruct.model import Lens
from dioramic.types import Camera, Pose, Scene

SUPERSAMPLE = 2
"""Samples per pixel along each axis."""


def render_photo_view(
    scene: Scene,
    lens: Lens,
    position: np.ndarray,
    world_from_camera: np.ndarray,
    width: int,
    height: int,
) -> np.ndarray:
    """(height, width, 4) uint8 RGBA: `scene` seen through `lens` (the photo's full-size camera,
    rendered at `width` x `height`) from `position` (3,), with `world_from_camera` (3, 3) mapping the
    lens' camera axes (x right, y down, z ahead) to the scene's coordinates; alpha = coverage."""
    import cv2

    from dioramic.render import make_renderer

    rays = lens.pixel_rays(width, height)[..., :2]  # undistorted x / z, y / z of every output pixel
    pinhole = lens.pinhole.resized(width, height)
    lo = rays.reshape(-1, 2).min(axis=0)
    hi = rays.reshape(-1, 2).max(axis=0)
    focal = np.array([pinhole.fx, pinhole.fy])
    corner = np.floor(lo * focal) - 2.0  # canvas pixel 0 in pinhole pixels (relative to the axis)
    size = (np.ceil(hi * focal) + 2.0 - corner).astype(int)
    canvas = Camera(int(size[0]), int(size[1]), pinhole.fx, pinhole.fy, -corner[0], -corner[1])
    rotation = np.asarray(world_from_camera, dtype=np.float64) @ np.diag([1.0, -1.0, -1.0])
    pose = Pose(np.asarray(position, dtype=np.float64), rotation, canvas.fov_y)
    with make_renderer(scene, canvas.width, canvas.height, supersample=SUPERSAMPLE) as renderer:
        image = renderer.render_camera(pose, canvas)
    map_x = (rays[..., 0] * canvas.fx + canvas.cx - 0.5).astype(np.float32)
    map_y = (rays[..., 1] * canvas.fy + canvas.cy - 0.5).astype(np.float32)
    rgba = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
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
