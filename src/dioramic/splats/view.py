"""Splat centres seen through a camera: a quick check of what a splat file holds, without a renderer.

`centre_image` projects every splat's centre into a pinhole image and keeps, per pixel, the mean colour
of the splats there that are at least half opaque and not hidden behind a nearer splat's footprint
(where texels are smaller than pixels, several centres share a pixel: their mean is what a renderer
draws there). Seen from the photo's camera it should reproduce the
photo over the pixels it covers (`psnr`); the tests and ``bench/splats.py`` check that it does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dioramic.splats import Splats
from dioramic.splats.harmonics import PhotoView, view_colours
from dioramic.types import Camera

OPAQUE = 0.5
"""Splats at least this opaque hide what is behind them."""
FOOTPRINT = 1.17
"""A splat hides what lies behind it within this many standard deviations of its centre: where an
opaque splat (peak opacity 0.99) is at least half opaque, sqrt(2 ln 1.98)."""
DEPTH_TOLERANCE = 0.002
"""Centres this much farther (relative), beyond the slant of the nearer splat's surface, than the
nearest splat over their pixel count as hidden."""
_MAX_RADIUS = 12


def centre_image(
    splats: Splats, camera: Camera, world_from_camera: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The mean colour of the visible opaque splat centres in every pixel of `camera`'s image.

    `world_from_camera` (4, 4) places the camera (OpenGL axes: +X right, +Y up, looking down -Z);
    None: at the origin, as the photo's camera of a single-photo scene. Which centres are visible is
    `visible_centres`'s rule. Colours are seen from the camera's position (the view-dependent
    harmonics, where the splats have them).

    Returns (H, W, 3) float32 colours in 0..1 and an (H, W) bool mask of the pixels that show one.
    """
    seen = visible_centres(splats, camera, world_from_camera)
    position = np.zeros(3) if world_from_camera is None else np.asarray(world_from_camera)[:3, 3]
    colours = view_colours(splats.subset(seen.index), position).astype(np.float64)
    pixel = np.floor(seen.y).astype(np.int64) * camera.width + np.floor(seen.x).astype(np.int64)
    # per pixel, the mean colour of the visible centres of its nearest surface (those within a pixel's
    # recession of the nearest, on their own planes)
    size = camera.height * camera.width
    nearest = np.full(size, np.inf)
    np.minimum.at(nearest, pixel, seen.depth)
    front_surface = seen.depth <= nearest[pixel] * (1.0 + DEPTH_TOLERANCE) + seen.recession
    pixel, colours = pixel[front_surface], colours[front_surface]
    count = np.bincount(pixel, minlength=size)
    image = np.stack([np.bincount(pixel, colours[:, k], minlength=size) for k in range(3)], axis=1)
    image /= np.maximum(count, 1)[:, None]
    shape = (camera.height, camera.width)
    return image.reshape(camera.height, camera.width, 3).astype(np.float32), (count > 0).reshape(shape)


@dataclass(frozen=True)
class Visible:
    """The splat centres a camera sees (`visible_centres`), in the order of the splats."""

    index: np.ndarray
    """(M,) int64 the visible splats' indices."""
    x: np.ndarray
    """(M,) float64 where their centres project in the image, pixels (pixel centres at +0.5)."""
    y: np.ndarray
    """(M,) float64 ..."""
    depth: np.ndarray
    """(M,) float64 their distance along the camera's axis."""
    recession: np.ndarray
    """(M,) float64 how far each one's surface recedes a pixel away from its centre (a surface seen
    at a slant does)."""


def visible_centres(
    splats: Splats,
    camera: Camera,
    world_from_camera: np.ndarray | None = None,
    axes: tuple[np.ndarray, np.ndarray] | None = None,
) -> Visible:
    """The splats at least `OPAQUE` whose centres `camera` sees (placed by `world_from_camera`, as in
    `centre_image`). A centre is hidden when it lies more than `DEPTH_TOLERANCE` behind the surface
    of a nearer splat whose footprint (`FOOTPRINT` standard deviations) covers its pixel: where a
    surface's splats are larger than pixels, their centres leave pixels between them that must not
    show the surfaces behind. `axes`: the splats' `splat_axes`, where already computed."""
    import cv2

    candidates = np.flatnonzero(splats.opacities >= OPAQUE)
    points = splats.means[candidates].astype(np.float64)
    rotation = np.eye(3)
    if world_from_camera is not None:
        view = np.linalg.inv(np.asarray(world_from_camera, dtype=np.float64))
        rotation = view[:3, :3]
        points = points @ rotation.T + view[:3, 3]
    depth = -points[:, 2]
    front = depth > 1e-9
    candidates, points, depth = candidates[front], points[front], depth[front]
    x = points[:, 0] / depth * camera.fx + camera.cx
    y = -points[:, 1] / depth * camera.fy + camera.cy
    inside = (x >= 0) & (x < camera.width) & (y >= 0) & (y < camera.height)
    candidates, points, depth, x, y = candidates[inside], points[inside], depth[inside], x[inside], y[inside]
    pixel = np.floor(y).astype(np.int64) * camera.width + np.floor(x).astype(np.int64)
    if axes is None:
        scaled, flat = splat_axes(splats.subset(candidates))
    else:
        scaled, flat = axes[0][candidates], axes[1][candidates]
    sigma, normal = _projected_sigma(scaled, flat, points, rotation, camera)
    radius = np.clip(np.floor(FOOTPRINT * sigma), 0, _MAX_RADIUS).astype(int)  # the pixels it hides
    # how far a splat's own surface recedes behind its centre within its footprint (a surface seen
    # at a slant does): it hides only what lies beyond that
    slant = np.hypot(normal[:, 0], normal[:, 1]) / np.maximum(np.abs(normal[:, 2]), 1e-3)
    extent = FOOTPRINT * splats.scales[candidates, :2].max(axis=1)
    per_pixel = np.minimum(depth / camera.fx * slant, extent)  # depth change a pixel away, on its plane
    behind = depth + np.minimum(radius * per_pixel, extent)
    shape = (camera.height, camera.width)
    size = camera.height * camera.width
    occluder = np.full(shape, np.inf)
    for r in np.unique(radius):  # the nearest occluding surface under any footprint, by footprint size
        layer = np.full(size, np.inf, np.float32)
        np.minimum.at(layer, pixel[radius == r], behind[radius == r].astype(np.float32))
        disc = (np.hypot(*np.mgrid[-r : r + 1, -r : r + 1]) <= r + 0.5).astype(np.uint8)
        filtered = cv2.erode(layer.reshape(shape), disc, borderType=cv2.BORDER_CONSTANT, borderValue=np.inf)
        occluder = np.minimum(occluder, filtered)
    visible = depth <= occluder.reshape(-1)[pixel] * (1.0 + DEPTH_TOLERANCE)
    return Visible(candidates[visible], x[visible], y[visible], depth[visible], per_pixel[visible])


def splat_axes(splats: Splats) -> tuple[np.ndarray, np.ndarray]:
    """Each splat's axes in the splats' coordinates: (N, 3, 3) float64 columns scaled by its standard
    deviations, and (N, 3) its flat axis (the normal of its surface), unit length. The same for every
    camera: `visible_centres` takes them precomputed when it looks from many."""
    from dioramic.splats.build import rotation_matrices

    axes = rotation_matrices(splats.rotations)
    return axes * splats.scales.astype(np.float64)[:, None, :], np.ascontiguousarray(axes[:, :, 2])


def _projected_sigma(
    scaled: np.ndarray, flat: np.ndarray, points: np.ndarray, rotation: np.ndarray, camera: Camera
) -> tuple[np.ndarray, np.ndarray]:
    """The larger standard deviation (pixels) of each splat's footprint in the image (its covariance
    through the projection's Jacobian at its centre) and its flat axis, the normal of its surface, in
    camera coordinates (N, 3), from `splat_axes`' `scaled` and `flat` of the same splats; `points`:
    their centres in camera coordinates (OpenGL axes), `rotation`: camera-from-world."""
    # the scaled axes in camera coordinates, row by row (rows x, y, z of the camera; columns the axes)
    rows = [sum(rotation[i, j] * scaled[:, j, :] for j in range(3)) for i in range(3)]
    depth = -points[:, 2]
    # the projection's Jacobian has zeros off its diagonal but in the z column
    u = camera.fx / depth[:, None] * rows[0] + (camera.fx * points[:, 0] / depth**2)[:, None] * rows[2]
    v = camera.fy / depth[:, None] * rows[1] + (camera.fy * points[:, 1] / depth**2)[:, None] * rows[2]
    cov_uu, cov_vv, cov_uv = (u * u).sum(axis=1), (v * v).sum(axis=1), (u * v).sum(axis=1)
    mid = 0.5 * (cov_uu + cov_vv)
    spread = np.hypot(0.5 * (cov_uu - cov_vv), cov_uv)
    return np.sqrt(mid + spread), flat @ rotation.T


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


def reconstruction_photos(folder: Path, names: list[str] | None = None) -> dict[str, PhotoView]:
    """{name: photo} of the reconstruction written in `folder`: its images (undistorted as the scene
    sees them), each with its camera from sparse/transforms.json, in the scene's coordinates; only
    `names` where given."""
    import json

    import cv2
    from PIL import Image

    frames = json.loads((folder / "sparse" / "transforms.json").read_text())["frames"]
    out = {}
    for frame in frames:
        name = Path(frame["file_path"]).name
        if names is not None and name not in names:
            continue
        with Image.open(folder / "images" / name) as picture:
            rgb = np.asarray(picture.convert("RGB"))
        intrinsics = np.array([[frame["fl_x"], 0, frame["cx"]], [0, frame["fl_y"], frame["cy"]], [0, 0, 1]])
        distortion = np.array([frame.get(k, 0.0) for k in ("k1", "k2", "p1", "p2")])
        if distortion.any():
            rgb = cv2.undistort(rgb, intrinsics, distortion)
        camera = Camera(frame["w"], frame["h"], frame["fl_x"], frame["fl_y"], frame["cx"], frame["cy"])
        out[name] = PhotoView(rgb, camera, np.asarray(frame["transform_matrix"], dtype=np.float64))
    return out


def held_out_names(folder: Path) -> list[str]:
    """The names of the photos a reconstruction in `folder` held out (`--holdout`)."""
    import json

    transforms = json.loads((folder / "sparse" / "transforms.json").read_text())
    return [Path(p).name for p in transforms.get("test_filenames", [])]


def reconstruction_psnr(
    folder: Path, splats: Splats, scale: int = 1, details: bool = False, photo: str | None = None
) -> tuple:
    """(PSNR in dB, covered fraction) of the splat centres against the reference photo of the
    reconstruction written in `folder` (report.json's ``reference_view``: the scene's own camera; or
    the `photo` named), undistorted as the scene sees it, through its camera from
    sparse/transforms.json; with `scale`, both at 1/scale of the photo's size. With `details`, also
    the undistorted photo ((H, W, 3) float 0..1) and the mask of the covered pixels."""
    import json

    import cv2

    name = photo or json.loads((folder / "report.json").read_text())["reference_view"]
    view = reconstruction_photos(folder, [name])[name]
    camera, rgb = view.camera, view.image
    if scale > 1:
        camera = camera.resized(camera.width // scale, camera.height // scale)
        rgb = cv2.resize(rgb, (camera.width, camera.height), interpolation=cv2.INTER_AREA)
    image, mask = centre_image(splats, camera, view.world_from_camera)
    value = psnr(image, rgb / 255.0, mask)
    return (value, float(mask.mean()), rgb / 255.0, mask) if details else (value, float(mask.mean()))
