"""The photo's pinhole camera: intrinsics from EXIF or a field of view, unprojection and projection.

Conventions are those of `dioramic.types`: metres, camera at the origin looking down -Z, +Y up, pixel
coordinates (u, v) with the origin at the top-left corner of the image (pixel centres at +0.5), depth
measured along the optical axis. A pixel (u, v) at depth d is the point
``((u - cx) / fx * d, -(v - cy) / fy * d, -d)`` and `project` is its exact inverse.

The field of view a user gives (``--fov``) is the **horizontal** one of the photo, in degrees: the
angle between the left and right edges of the frame, whatever its orientation. (glTF's ``yfov``,
`Camera.fov_y` and `Pose.fov_y` are vertical; `Camera.fov_x` gives the horizontal one back.)

>>> cam = Camera.from_fov(4, 2, 90.0)
>>> points = unproject(np.full((2, 4), 2.0, np.float32), cam)
>>> points[0, 0].tolist()
[-3.0, 1.0, -2.0]
>>> project(points[0, 0], cam).round(9).tolist()
[0.5, 0.5]
"""

from __future__ import annotations

import math

import numpy as np

from dioramic.errors import UsageError
from dioramic.types import DEFAULT_FOCAL_35MM, Camera, Photo

__all__ = [
    "DEFAULT_FOCAL_35MM",
    "camera_for_photo",
    "pixel_centres",
    "project",
    "texture_coords",
    "unproject",
    "unproject_pixels",
]

MIN_FOV_DEG, MAX_FOV_DEG = 1.0, 170.0


def camera_for_photo(photo: Photo, fov_deg: float | None = None) -> Camera:
    """The pinhole camera of `photo` (square pixels, principal point at the image centre).

    Parameters
    ----------
    photo
        The photo; its size gives the camera's size in pixels.
    fov_deg
        Horizontal field of view in degrees (1..170), left edge to right edge. When None, the focal
        length comes from the photo's EXIF 35 mm-equivalent focal length (`Photo.focal_length_35mm`,
        diagonal convention), or from `DEFAULT_FOCAL_35MM` (28 mm, a phone's main camera) when the
        photo states none.

    >>> photo = Photo(np.zeros((300, 400, 3), np.uint8), focal_length_35mm=43.27)
    >>> round(camera_for_photo(photo).fx, 1)        # 43.27 mm on a 43.27 mm diagonal: f = diagonal
    500.0
    >>> round(math.degrees(camera_for_photo(photo, fov_deg=60.0).fov_x), 6)
    60.0
    """
    if fov_deg is not None:
        if not MIN_FOV_DEG <= fov_deg <= MAX_FOV_DEG:
            raise UsageError(
                f"the field of view must be between {MIN_FOV_DEG:g} and {MAX_FOV_DEG:g} degrees "
                f"(horizontal), got {fov_deg:g}"
            )
        f = 0.5 * photo.width / math.tan(math.radians(float(fov_deg)) / 2.0)
        return Camera(photo.width, photo.height, f, f, photo.width / 2.0, photo.height / 2.0)
    return Camera.from_focal_35mm(photo.width, photo.height, photo.focal_length_35mm)


def cover(camera: Camera, aspect: float) -> Camera:
    """The largest centred crop of `camera`'s image with width / height = `aspect`: the view a video of
    that aspect shows without looking past the photo's edges (like CSS ``object-fit: cover``).

    >>> c = cover(Camera(400, 400, 500.0, 500.0, 200.0, 200.0), 2.0)
    >>> (c.width, c.height, c.cy)
    (400, 200, 100.0)
    """
    if aspect <= 0:
        raise UsageError(f"the aspect ratio must be positive, got {aspect}")
    if aspect >= camera.aspect:  # wider than the photo: keep its width, crop top and bottom
        height = max(1, round(camera.width / aspect))
        return Camera(
            camera.width, height, camera.fx, camera.fy, camera.cx, camera.cy - (camera.height - height) / 2
        )
    width = max(1, round(camera.height * aspect))
    return Camera(
        width, camera.height, camera.fx, camera.fy, camera.cx - (camera.width - width) / 2, camera.cy
    )


def _check_camera_size(shape: tuple[int, ...], camera: Camera) -> Camera:
    """`camera` rescaled to an image of `shape` (H, W), if it was given for another size."""
    height, width = int(shape[0]), int(shape[1])
    if (width, height) == (camera.width, camera.height):
        return camera
    return camera.resized(width, height)


def pixel_centres(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(W,) and (H,) float64 pixel-centre coordinates u = j + 0.5 and v = i + 0.5."""
    return np.arange(width, dtype=np.float64) + 0.5, np.arange(height, dtype=np.float64) + 0.5


def unproject_pixels(u: np.ndarray, v: np.ndarray, depth: np.ndarray, camera: Camera) -> np.ndarray:
    """Points at image positions (u, v) (pixels, broadcastable arrays) and depth (metres, along -Z).

    Returns an (..., 3) float64 array in world coordinates (the broadcast shape of the inputs).
    """
    depth = np.asarray(depth, dtype=np.float64)
    x = (np.asarray(u, dtype=np.float64) - camera.cx) / camera.fx * depth
    y = -(np.asarray(v, dtype=np.float64) - camera.cy) / camera.fy * depth
    x, y, d = np.broadcast_arrays(x, y, depth)
    return np.stack([x, y, -d], axis=-1)


def unproject(depth: np.ndarray, camera: Camera) -> np.ndarray:
    """The 3D point of every pixel centre of a depth map.

    Parameters
    ----------
    depth
        (H, W) float, metres along the optical axis (> 0). When (H, W) differs from the camera's
        size, the camera is rescaled to it (`Camera.resized`), so a depth map at another resolution
        than the photo unprojects to the same scene.
    camera
        The photo's camera.

    Returns
    -------
    (H, W, 3) float32 points in world coordinates, metres.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"depth must be (H, W), got shape {depth.shape}")
    cam = _check_camera_size(depth.shape, camera)
    u, v = pixel_centres(cam.width, cam.height)
    d = depth.astype(np.float32, copy=False)
    x = ((u - cam.cx) / cam.fx).astype(np.float32)[None, :] * d
    y = (-(v - cam.cy) / cam.fy).astype(np.float32)[:, None] * d
    return np.stack([x, y, -d], axis=-1)


def project(points: np.ndarray, camera: Camera) -> np.ndarray:
    """Pixel coordinates (u, v) of world points seen by `camera` (the inverse of `unproject`).

    Parameters
    ----------
    points
        (..., 3) float positions in metres; they must lie in front of the camera (z < 0).

    Returns
    -------
    (..., 2) float64 pixel coordinates, origin at the top-left corner of the image.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.shape[-1] != 3:
        raise ValueError(f"points must be (..., 3), got shape {p.shape}")
    depth = -p[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = p[..., 0] / depth * camera.fx + camera.cx
        v = -p[..., 1] / depth * camera.fy + camera.cy
    return np.stack([u, v], axis=-1)


def texture_coords(points: np.ndarray, camera: Camera) -> np.ndarray:
    """glTF texture coordinates of world points in the photo: `project` divided by (W, H).

    Returns (..., 2) float64, origin at the image's top-left, v downwards, [0, 1] inside the frame.
    """
    return project(points, camera) / np.array([camera.width, camera.height], dtype=np.float64)
