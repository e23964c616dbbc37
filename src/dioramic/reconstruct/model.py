"""The data passed between the reconstruction's stages: lenses, posed images, the sparse model, views.

Inside the reconstruction, cameras use the computer-vision convention of COLMAP and OpenCV: a camera
looks down its +Z axis, +X right, +Y down, and ``x_cam = rotation @ x_world + translation``. Pixel
(u, v) has its origin at the top-left corner of the top-left pixel (pixel centres at +0.5), as in
`dioramic.types`. Only `dioramic.reconstruct.placement` turns this into the scene's convention
(metres, +Y up, the default camera looking down -Z).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dioramic.types import Camera

LENS_MODELS = {
    "SIMPLE_PINHOLE": ("f", "cx", "cy"),
    "PINHOLE": ("fx", "fy", "cx", "cy"),
    "SIMPLE_RADIAL": ("f", "cx", "cy", "k"),
    "RADIAL": ("f", "cx", "cy", "k1", "k2"),
    "OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"),
}
"""COLMAP camera models this package reads, with their parameters in COLMAP's order."""


@dataclass(frozen=True)
class Lens:
    """A camera as COLMAP models it: pinhole intrinsics plus radial/tangential distortion.

    >>> lens = Lens(640, 480, "SIMPLE_RADIAL", (500.0, 320.0, 240.0, 0.1))
    >>> xy = np.array([[0.2, -0.1]])
    >>> bool(np.allclose(lens.undistort(lens.distort(xy)), xy))
    True
    """

    width: int
    height: int
    model: str
    """A name from `LENS_MODELS`."""
    params: tuple[float, ...]
    """COLMAP's parameters of `model`, in COLMAP's order."""

    def __post_init__(self) -> None:
        if self.model not in LENS_MODELS:
            raise ValueError(f"unsupported camera model '{self.model}' ({', '.join(LENS_MODELS)})")
        if len(self.params) != len(LENS_MODELS[self.model]):
            raise ValueError(f"{self.model} takes {len(LENS_MODELS[self.model])} parameters")

    def _named(self) -> dict[str, float]:
        values = dict(zip(LENS_MODELS[self.model], self.params, strict=True))
        if "f" in values:
            values["fx"] = values["fy"] = values.pop("f")
        if "k" in values:
            values["k1"] = values.pop("k")
        return values

    @property
    def pinhole(self) -> Camera:
        """The undistorted camera: same focal lengths and principal point, no distortion."""
        v = self._named()
        return Camera(self.width, self.height, v["fx"], v["fy"], v["cx"], v["cy"])

    @property
    def distortion(self) -> tuple[float, float, float, float]:
        """(k1, k2, p1, p2) in OpenCV's convention (zeros where the model has none)."""
        v = self._named()
        return (v.get("k1", 0.0), v.get("k2", 0.0), v.get("p1", 0.0), v.get("p2", 0.0))

    def distort(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) normalised image coordinates (x/z, y/z) -> the same through the lens distortion."""
        k1, k2, p1, p2 = self.distortion
        x, y = xy[:, 0], xy[:, 1]
        r2 = x * x + y * y
        radial = 1.0 + k1 * r2 + k2 * r2 * r2
        dx = 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
        dy = p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
        return np.stack([x * radial + dx, y * radial + dy], axis=1)

    def undistort(self, xy: np.ndarray, iterations: int = 20) -> np.ndarray:
        """Inverse of `distort` by fixed-point iteration (exact for the mild distortion of photos)."""
        out = np.array(xy, dtype=np.float64)
        if not any(self.distortion):
            return out
        for _ in range(iterations):
            out = out + (xy - self.distort(out))
        return out

    def pixel_rays(self, width: int, height: int) -> np.ndarray:
        """(height, width, 3) float64 camera-space ray directions (z = 1) of the pixel centres of
        this camera's image resampled to `width` x `height`, distortion included. The distortion is
        inverted exactly on every 8th pixel (and the last) and interpolated between (it varies
        smoothly)."""
        step = 8 if any(self.distortion) else 1
        nodes_x = np.linspace(0, width - 1, max(2, -(-(width - 1) // step) + 1))
        nodes_y = np.linspace(0, height - 1, max(2, -(-(height - 1) // step) + 1))
        u, v = np.meshgrid((nodes_x + 0.5) * self.width / width, (nodes_y + 0.5) * self.height / height)
        cam = self.pinhole
        xy = np.stack([(u.ravel() - cam.cx) / cam.fx, (v.ravel() - cam.cy) / cam.fy], axis=1)
        xy = self.undistort(xy).reshape(len(nodes_y), len(nodes_x), 2)
        if xy.shape[:2] != (height, width):  # bilinear, in floating point (OpenCV's is 1/32-pixel)
            xy = _bilinear_rows(xy, np.arange(height) * ((len(nodes_y) - 1) / max(height - 1, 1)))
            xy = _bilinear_rows(
                xy.transpose(1, 0, 2), np.arange(width) * ((len(nodes_x) - 1) / max(width - 1, 1))
            )
            xy = xy.transpose(1, 0, 2)
        return np.concatenate([xy, np.ones((height, width, 1))], axis=2)


def _bilinear_rows(grid: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Rows of `grid` (R, ...) linearly interpolated at the fractional row positions `at`."""
    low = np.clip(np.floor(at).astype(np.int64), 0, len(grid) - 2)
    weight = (at - low).reshape(-1, *([1] * (grid.ndim - 1)))
    return grid[low] * (1.0 - weight) + grid[low + 1] * weight


@dataclass(frozen=True)
class PosedImage:
    """One registered input image: its name, lens and pose (camera-from-world, see module doc)."""

    name: str
    """The image's file name, as in COLMAP's images.txt."""
    lens: Lens
    rotation: np.ndarray
    """(3, 3) float64 camera-from-world rotation."""
    translation: np.ndarray
    """(3,) float64 camera-from-world translation."""

    @property
    def centre(self) -> np.ndarray:
        """(3,) float64 the camera centre in world coordinates."""
        return -self.rotation.T @ self.translation


@dataclass(frozen=True)
class SparseModel:
    """What structure from motion found: the registered images and the 3D points they observe."""

    images: tuple[PosedImage, ...]
    """Registered images, sorted by name."""
    points: np.ndarray
    """(N, 3) float64 triangulated points, world coordinates."""
    colors: np.ndarray
    """(N, 3) uint8 their colours."""
    observations: np.ndarray
    """(M, 2) int64 rows (point index, image index): which image sees which point."""
    reprojection_error: float
    """Mean reprojection error of the points, pixels."""

    def shared_points(self, i: int, j: int) -> np.ndarray:
        """(K,) int64 indices of the points that images `i` and `j` both observe."""
        seen_i = self.observations[self.observations[:, 1] == i, 0]
        seen_j = self.observations[self.observations[:, 1] == j, 0]
        return np.intersect1d(seen_i, seen_j)


@dataclass(frozen=True)
class View:
    """A registered image prepared for dense work: undistorted and resampled to a working size."""

    name: str
    image: np.ndarray
    """(H, W, 3) uint8 RGB, undistorted (a pinhole image), black where the photo has no pixels."""
    valid: np.ndarray
    """(H, W) bool, True where `image` holds photo pixels."""
    camera: Camera
    """Pinhole intrinsics of `image`."""
    rotation: np.ndarray
    """(3, 3) float64 camera-from-world rotation (the posed image's)."""
    translation: np.ndarray
    """(3,) float64 camera-from-world translation."""

    @property
    def centre(self) -> np.ndarray:
        """(3,) float64 camera centre, world coordinates."""
        return -self.rotation.T @ self.translation

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2) pixel coordinates and (N,) depths (along the optical axis) of (N, 3) world points."""
        cam = self.rotation @ np.asarray(points, dtype=np.float64).T + self.translation[:, None]
        z = cam[2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.camera.fx * cam[0] / z + self.camera.cx
            v = self.camera.fy * cam[1] / z + self.camera.cy
        return np.stack([u, v], axis=1), z


def view_of(image: PosedImage, rgb: np.ndarray, long_side: int) -> View:
    """`image`'s photo `rgb` (its full size) undistorted and resampled so its long side is at most
    `long_side` pixels (never enlarged); the pinhole keeps the lens' focal length and principal point.
    """
    import cv2

    lens = image.lens
    if rgb.shape[:2] != (lens.height, lens.width):
        raise ValueError(f"{image.name}: the image is {rgb.shape[1]}x{rgb.shape[0]}, its camera says "
                         f"{lens.width}x{lens.height}")  # fmt: skip
    scale = min(1.0, long_side / max(lens.width, lens.height))
    width, height = max(1, round(lens.width * scale)), max(1, round(lens.height * scale))
    camera = lens.pinhole.resized(width, height)
    # prefilter once when shrinking, then look every undistorted pixel up in the (smaller) photo
    source = rgb
    if scale < 0.75:
        source = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    sx, sy = source.shape[1] / lens.width, source.shape[0] / lens.height
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    xy = np.stack([((u - camera.cx) / camera.fx).ravel(), ((v - camera.cy) / camera.fy).ravel()], axis=1)
    if any(lens.distortion):
        xy = lens.distort(xy)
    full = lens.pinhole
    map_x = ((xy[:, 0] * full.fx + full.cx) * sx - 0.5).reshape(height, width).astype(np.float32)
    map_y = ((xy[:, 1] * full.fy + full.cy) * sy - 0.5).reshape(height, width).astype(np.float32)
    undistorted = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    inside = (map_x >= -0.5) & (map_x <= source.shape[1] - 0.5)
    inside &= (map_y >= -0.5) & (map_y <= source.shape[0] - 0.5)
    return View(
        name=image.name,
        image=np.ascontiguousarray(undistorted),
        valid=inside,
        camera=camera,
        rotation=image.rotation,
        translation=image.translation,
    )


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles in degrees between the rows of (N, 3) `a` and `b` (or one (3,) vector and rows).

    >>> angle_between(np.array([1.0, 0, 0]), np.array([[0.0, 1, 0], [1.0, 1, 0]])).round(1).tolist()
    [90.0, 45.0]
    """
    a = np.atleast_2d(a)
    b = np.atleast_2d(b)
    cos = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-300)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def median_depth(view: View, points: np.ndarray) -> float:
    """Median depth of the (N, 3) world points in front of `view` (nan when none is)."""
    _, z = view.project(points)
    z = z[z > 0]
    return float(np.median(z)) if z.size else math.nan
