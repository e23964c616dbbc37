"""Splat centres seen through a camera: a quick check of what a splat file holds, without a renderer.

`centre_image` projects every splat's centre into a pinhole image and keeps, per pixel, the colour of
the nearest splat that is at least half opaque. Seen from the photo's camera it should reproduce the
photo over the pixels it covers (`psnr`); the tests and ``bench/splats.py`` check that it does.
"""

from __future__ import annotations

import math

import numpy as np

from dioramic.splats import Splats
from dioramic.types import Camera

OPAQUE = 0.5
"""Splats at least this opaque hide what is behind them."""


def centre_image(
    splats: Splats, camera: Camera, world_from_camera: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest opaque splat centre's colour at every pixel of `camera`'s image.

    `world_from_camera` (4, 4) places the camera (OpenGL axes: +X right, +Y up, looking down -Z);
    None: at the origin, as the photo's camera of a single-photo scene.

    Returns (H, W, 3) float32 colours in 0..1 and an (H, W) bool mask of the pixels a centre fell in.
    """
    points = splats.means.astype(np.float64)
    keep = splats.opacities >= OPAQUE
    points, colours = points[keep], splats.colours[keep]
    if world_from_camera is not None:
        view = np.linalg.inv(np.asarray(world_from_camera, dtype=np.float64))
        points = points @ view[:3, :3].T + view[:3, 3]
    depth = -points[:, 2]
    front = depth > 1e-9
    points, colours, depth = points[front], colours[front], depth[front]
    u = np.floor(points[:, 0] / depth * camera.fx + camera.cx).astype(np.int64)
    v = np.floor(-points[:, 1] / depth * camera.fy + camera.cy).astype(np.int64)
    inside = (u >= 0) & (u < camera.width) & (v >= 0) & (v < camera.height)
    pixel, depth, colours = (v * camera.width + u)[inside], depth[inside], colours[inside]
    order = np.lexsort((depth, pixel))  # by pixel, nearest first
    pixels, first = np.unique(pixel[order], return_index=True)
    image = np.zeros((camera.height * camera.width, 3), np.float32)
    mask = np.zeros(camera.height * camera.width, bool)
    image[pixels] = colours[order[first]]
    mask[pixels] = True
    return image.reshape(camera.height, camera.width, 3), mask.reshape(camera.height, camera.width)


def psnr(image: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
    """PSNR in dB of `image` against `reference` (both (H, W, 3), 0..1) over the pixels of `mask`.

    >>> a = np.zeros((2, 2, 3)); b = a + 0.1
    >>> round(psnr(a, b, np.ones((2, 2), bool)), 3)
    20.0
    """
    if not mask.any():
        return 0.0
    error = float(np.mean((image[mask].astype(np.float64) - reference[mask].astype(np.float64)) ** 2))
    return math.inf if error == 0 else 10.0 * math.log10(1.0 / error)
