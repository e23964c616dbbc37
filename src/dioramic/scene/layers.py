"""Two layers from one depth map: what the foreground hides is rebuilt in a background layer.

Where the mesh is cut at a depth edge, a moving camera looks behind the near side. So, on the lattice:

1. `split_layers` finds, for every cut, the *hidden band*: the vertices on its near side within the
   distance the largest allowed camera move can reveal there. That distance is the parallax between the
   two sides, in pixels: ``(f * T_lateral + r * T_axial) * (1/d_near - 1/d_far)`` for a sideways move
   T_lateral, a move T_axial along the view axis (dolly, dolly-zoom: it opens a cut in proportion to
   r, its distance from the image centre) and the focal length f, both moves fractions of the
   subject distance (`SceneOptions.lateral_move`, `SceneOptions.axial_move`). Small depth jumps
   (noise) get narrow bands, large ones wide bands.
2. The background's depth is extended behind the near side from the far side only: every hidden vertex
   takes the depth of the nearest vertex beyond a wider zone around the band (the far side of the cut,
   since the zone is wider on the near side than the band), smoothed, and never nearer than the
   surface it hides.
3. The colour of the hidden band is inpainted (`INPAINTERS`, OpenCV's Telea by default) over the same
   zone, at a reduced resolution, so that the band takes the far side's colours.

The background layer is then the whole frame, uncut, with the hidden band filled; the foreground layer
holds the hidden band (a little more, so it fades out over identical background) with its photo colours
and a soft alpha at its silhouette. Seen from the photo's camera the two together are the photo.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from dioramic.registry import Registry
from dioramic.scene.lattice import Lattice
from dioramic.types import Camera

__all__ = ["INPAINTERS", "Inpainter", "Layering", "fill_colour", "front_alpha", "split_layers"]

_SAFETY = 1.1  # the band is this much wider than the parallax it must hide
_EXTRA_PX = 2.0  # plus this many pixels (the soft edge, rounding)
_FRONT_EXTRA = 2.0  # cells the foreground layer reaches beyond the hidden band (fades over the same surface)
_FILL_SIGMA = 3.0  # cells: smoothing of the extended background depth
_INPAINT_LONG_SIDE = 640  # inpainting runs on an image at most this large (the fill is smooth anyway)
_INPAINT_RADIUS = 3


@dataclass(frozen=True)
class Layering:
    """How the lattice splits into a background and a foreground layer."""

    hidden: np.ndarray
    """(h, w) bool: vertices the foreground hides from some allowed camera position's view of the
    background; the background layer rebuilds its depth and colour there."""
    front: np.ndarray
    """(h, w) bool: vertices of the foreground layer (the hidden band, a little wider)."""
    zone: np.ndarray
    """(h, w) bool: the hidden band and the near side beyond it, filled from the far side only."""
    background_z: np.ndarray
    """(h, w) float64 inverse depth (1/m) of the background layer: the lattice's, extended behind
    the near side in `hidden` (never nearer than the surface it replaces)."""


def far_side_vertices(z: np.ndarray, cut_x: np.ndarray, cut_y: np.ndarray) -> np.ndarray:
    """(h, w) bool: the farther end of every cut lattice edge (smaller inverse depth `z`)."""
    far = np.zeros(z.shape, bool)
    left_far = z[:, :-1] < z[:, 1:]
    far[:, :-1] |= cut_x & left_far
    far[:, 1:] |= cut_x & ~left_far
    top_far = z[:-1, :] < z[1:, :]
    far[:-1, :] |= cut_y & top_far
    far[1:, :] |= cut_y & ~top_far
    return far


def split_layers(
    lattice: Lattice,
    cut_x: np.ndarray,
    cut_y: np.ndarray,
    camera: Camera,
    focus: float,
    lateral_move: float,
    axial_move: float,
    threshold: float,
) -> Layering | None:
    """The layers of a cut lattice (see the module docstring); None when nothing is cut.

    Parameters
    ----------
    lattice, cut_x, cut_y
        The vertex lattice and its cut edges (`dioramic.scene.lattice.find_cuts`).
    camera
        The photo's camera at the depth map's size (pixels of `lattice.u` / `lattice.v`).
    focus
        Subject distance in metres; the moves are fractions of it.
    lateral_move, axial_move
        The largest camera moves sideways and along the view axis, fractions of `focus`.
    threshold
        The edge threshold (relative depth): a vertex is on the near side of a cut when it is nearer
        than the cut's far side by half of it.
    """
    from scipy import ndimage

    far = far_side_vertices(lattice.z, cut_x, cut_y)
    if not far.any():
        return None
    z = lattice.z
    h, w = z.shape
    spacing = (lattice.height / max(1, h - 1), lattice.width / max(1, w - 1))  # pixels per cell
    dist, (iy, ix) = ndimage.distance_transform_edt(~far, sampling=spacing, return_indices=True)
    z_far = z[iy, ix]
    r = np.hypot(lattice.u[None, :] - camera.cx, lattice.v[:, None] - camera.cy)
    parallax = (camera.fx * lateral_move * focus + r * axial_move * focus) * (z - z_far)
    band = _SAFETY * parallax + _EXTRA_PX
    near = z > z_far * (1.0 + 0.5 * threshold)
    hidden = near & (dist <= band)
    if not hidden.any():
        return None
    cell = max(spacing)
    front = near & (dist <= band + _FRONT_EXTRA * cell)
    zone = near & (dist <= 2.0 * band + 3.0 * cell)
    # background depth: the nearest vertex outside the zone (the far side), smoothed
    _, (ky, kx) = ndimage.distance_transform_edt(zone, sampling=spacing, return_indices=True)
    extended = z[ky, kx].astype(np.float32)
    import cv2

    extended = cv2.GaussianBlur(extended, (0, 0), _FILL_SIGMA, borderType=cv2.BORDER_REPLICATE)
    background = np.where(hidden, np.minimum(extended.astype(np.float64), z), z)
    return Layering(hidden=hidden, front=front, zone=zone, background_z=background)


# -- colour -----------------------------------------------------------------------------------------


class Inpainter(Protocol):
    """Fills the masked pixels of an image from the others."""

    def __call__(self, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """`rgb` (H, W, 3) uint8 and `mask` (H, W) bool (True = fill) -> (H, W, 3) uint8."""
        ...


INPAINTERS: Registry[Inpainter] = Registry("inpainter")
"""Colour inpainting backends by name ('telea' is the default)."""


def _opencv(rgb: np.ndarray, mask: np.ndarray, method: int) -> np.ndarray:
    import cv2

    return cv2.inpaint(np.ascontiguousarray(rgb), mask.astype(np.uint8) * 255, _INPAINT_RADIUS, method)


@INPAINTERS.register("telea")
def telea(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV's fast marching inpainting (Telea 2004): fast, smooth fills."""
    import cv2

    return _opencv(rgb, mask, cv2.INPAINT_TELEA)


@INPAINTERS.register("ns")
def navier_stokes(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV's Navier-Stokes inpainting (Bertalmio 2001): continues isophotes into the hole."""
    import cv2

    return _opencv(rgb, mask, cv2.INPAINT_NS)


def _to_image(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A lattice vertex mask (h, w) bool resized to an image of `size` (W, H), nearest vertex."""
    import cv2

    return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)


def fill_colour(
    rgb: np.ndarray, layering: Layering, inpainter: str = "telea", model: Path | None = None
) -> np.ndarray:
    """The background layer's colours: `rgb` (Ht, Wt, 3) uint8 with the hidden band inpainted
    (`model`: the ONNX file of the 'lama' inpainter, None for its default weights).

    The inpainter sees the whole zone as unknown (so the band takes the far side's colours, not the
    near side's) and runs at most `_INPAINT_LONG_SIDE` pixels long; its result is upscaled and
    replaces the band only.
    """
    import cv2

    if model is not None:
        from dioramic.scene.inpaint_lama import LamaInpainter

        fill: Inpainter = LamaInpainter(model=model)
    else:
        fill = INPAINTERS.get(inpainter)
    height, width = rgb.shape[:2]
    scale = min(1.0, _INPAINT_LONG_SIDE / max(height, width))
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(rgb, small_size, interpolation=cv2.INTER_AREA) if scale < 1.0 else rgb
    zone = _to_image(layering.zone, small_size)
    if scale < 1.0:  # the downscaled pixels along the zone mix in near-side colours: fill them too
        zone = cv2.dilate(zone.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    filled = fill(small, zone)
    if scale < 1.0:
        filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    hidden = _to_image(layering.hidden, (width, height))
    out = rgb.copy()
    out[hidden] = filled[hidden]
    return out


def front_alpha(layering: Layering, size: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 opacity of the foreground layer's texture of `size` (W, H): soft silhouettes.

    The vertex mask is resized bilinearly (a ramp across each edge cell), blurred by about a texel and
    doubled, so that the near side's edge pixels stay opaque (the photo's own view is unchanged) while
    the silhouette fades over the far side's first pixel instead of following pixel stairs.
    """
    import cv2

    width = size[0]
    alpha = cv2.resize(layering.front.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    texels_per_cell = max(width / max(1, layering.front.shape[1] - 1), 1.0)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.7 * texels_per_cell)
    return (np.clip(2.0 * alpha, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
