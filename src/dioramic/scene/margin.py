"""The canvas beyond the photo's frame, so that a moving camera never looks past its border.

The scene is built on a canvas larger than the photo by a margin on each side: the margin a side
needs is the largest shift of its border that the allowed moves make (`margin_widths`). Its depth
continues the border's outwards (`pad_depth`: each border pixel's depth carried straight out, eased
farther out towards the running median along the border, so that narrow detail fades and the edges
of larger things go on as steps: no edge is invented, none is smeared into a slope); its colour is
inpainted from the photo (`pad_colour`), never mirrored, so no mirrored pattern shows when the
margin comes into view. The layers (`dioramic.scene.peel`)
are then built on the canvas as if it were the photo.
"""

from __future__ import annotations

import numpy as np

from dioramic.types import Camera

__all__ = ["margin_widths", "pad_colour", "pad_depth"]

_SAFETY = 1.1
_EXTRA_PX = 2.0
_HOLD = 0.15  # the margin's depth is the border's carried straight out this fraction of the way out,
_EASE = 0.5  # and the border's running median from this fraction on,
_MEDIAN_FRACTION = 0.1  # taken over this fraction of the long side
_COLOUR_SIDE = 256  # the margin's colour is inpainted on an image of about this size (long side)
_INPAINT_RADIUS = 5
_COLOUR_FADE = 0.5  # ... and fades into its wide average (what is least wrong when unknown) over
_COLOUR_FADE_SIGMA = 0.15  # this fraction of the way out; the average's spread, of the long side


def margin_widths(
    u: np.ndarray,
    v: np.ndarray,
    z: np.ndarray,
    camera: Camera,
    focus: float,
    lateral_move: float,
    axial_move: float,
    limit: float,
) -> tuple[float, float, float, float]:
    """Margins (left, top, right, bottom) in pixels of `camera` for border points at (u, v), inverse
    depth z (1/m).

    A sideways move of T = lateral_move * focus metres, in any direction, shifts the image of a point
    at depth d by f * T / d pixels facing ahead. Turning to keep the subject in view adds the turn's
    own shift, which grows towards the frame's edges: at normalised image coordinates (s across the
    side, o along it; s = (u - cx) / fx for the left and right sides) the shift across the side is
    f * T * hypot(1/d - (1 + s^2) / focus, s o / focus) at most (the first-order image motion of a
    translation and a rotation; at the centre, f * T * |1/d - 1/focus|). Backing away along the view
    axis by A = axial_move * focus while zooming to keep the subject's size (dolly-zoom) pulls a point
    at distance r from the image centre inwards by about r * A * (1/d - 1/focus). Each side gets the
    largest sum over its border, capped at `limit` pixels.
    """
    width, height = camera.width, camera.height
    r = np.hypot(u - camera.cx, v - camera.cy)
    x, y = (u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy
    axial = r * axial_move * focus * np.maximum(z - 1.0 / focus, 0.0)

    def need(across: np.ndarray, along: np.ndarray) -> np.ndarray:
        turning = np.hypot(z - (1.0 + across * across) / focus, across * along / focus)
        return _SAFETY * (camera.fx * lateral_move * focus * np.maximum(z, turning) + axial) + _EXTRA_PX

    across_x, across_y = need(x, y), need(y, x)
    out = []
    sides = (
        (u <= 0.5, width, across_x),
        (v <= 0.5, height, across_y),
        (u >= width - 0.5, width, across_x),
        (v >= height - 0.5, height, across_y),
    )
    for on, extent, needs in sides:
        cap = max(1.0, min(limit, 0.9 * extent))
        out.append(float(min(cap, needs[on].max())) if on.any() else min(cap, _EXTRA_PX))
    return out[0], out[1], out[2], out[3]


def border_pixels(depth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (u, v) and inverse depths of the pixels on the border of an (H, W) depth map."""
    h, w = depth.shape
    rows = np.concatenate([np.zeros(w, int), np.full(w, h - 1), np.arange(h), np.arange(h)])
    cols = np.concatenate([np.arange(w), np.arange(w), np.zeros(h, int), np.full(h, w - 1)])
    return cols + 0.5, rows + 0.5, 1.0 / depth[rows, cols].astype(np.float64)


def _outwards(shape: tuple[int, int], pads: tuple[int, int, int, int]) -> np.ndarray:
    """(H', W') float32: how far out in the margin each canvas pixel lies, 0 inside the photo and at its
    border, 1 at the canvas' edge (per side, the larger of the two directions at a corner)."""
    h, w = shape
    left, top, right, bottom = pads
    x = np.arange(w + left + right, dtype=np.float32)
    y = np.arange(h + top + bottom, dtype=np.float32)
    fx = np.maximum((left - x) / max(left, 1), (x - (left + w - 1)) / max(right, 1))
    fy = np.maximum((top - y) / max(top, 1), (y - (top + h - 1)) / max(bottom, 1))
    return np.clip(np.maximum(fx[None, :], fy[:, None]), 0.0, 1.0)


def _border_medians(inverse: np.ndarray, window: int) -> np.ndarray:
    """`inverse` (H, W) with its four border lines replaced by their running medians over `window`
    pixels along them: the detail narrower than half the window is gone, the edges of larger things
    stay where they are, as sharp as they were."""
    from scipy.ndimage import median_filter

    out = inverse.copy()
    for line in (np.s_[0, :], np.s_[-1, :], np.s_[:, 0], np.s_[:, -1]):
        out[line] = median_filter(inverse[line], size=window, mode="nearest")
    return out


def pad_depth(depth: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """(H, W) float32 depth (metres) on the canvas padded by (left, top, right, bottom) pixels.

    Each margin pixel takes the inverse depth of its nearest border pixel, carried straight out; farther
    out (from `_HOLD` to `_EASE` of the way) it eases to the running median along the border, carried
    out the same way: narrow detail at the border (noise, a thin branch) fades, the edges of larger
    things go on, as steps. No depth edge is made that the photo does not show and none is smoothed
    into a ramp, so the hidden layers behind the margin's edges continue the photo's own (a near
    object ending just outside the frame, or an edge smeared into a slope, would get hidden layers of
    their own reaching back into the frame, at depths the photo never shows).
    """
    import cv2

    left, top, right, bottom = pads
    inverse = (1.0 / depth).astype(np.float32)
    carried = cv2.copyMakeBorder(inverse, top, bottom, left, right, cv2.BORDER_REPLICATE)
    window = round(_MEDIAN_FRACTION * max(depth.shape)) | 1  # odd: a step stays where it is
    steady = cv2.copyMakeBorder(
        _border_medians(inverse, window), top, bottom, left, right, cv2.BORDER_REPLICATE
    )
    ease = np.clip((_outwards(depth.shape, pads) - _HOLD) / (_EASE - _HOLD), 0.0, 1.0)
    ease = ease * ease * (3.0 - 2.0 * ease)
    padded = carried + ease * (steady - carried)
    padded[top : top + depth.shape[0], left : left + depth.shape[1]] = inverse
    return (1.0 / padded).astype(np.float32)


def pad_colour(image: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """`image` (H, W, C) uint8 padded by (left, top, right, bottom) texels, the margin inpainted from
    the image, never mirrored: OpenCV's Telea on a reduced copy (blurred colours read as
    out-of-focus background), fading farther out into the wide average of the colours: the less the
    photo says about a place, the less the fill claims; a fourth (alpha) channel is continued from
    the border without fading. (Patches of the photo continued past its border lowered SSIM on every
    novel-view scene and looked no better: docs/scene.md.)"""
    import cv2

    left, top, right, bottom = pads
    h, w = image.shape[:2]
    out_h, out_w = h + top + bottom, w + left + right
    canvas = cv2.copyMakeBorder(np.ascontiguousarray(image), top, bottom, left, right, cv2.BORDER_REPLICATE)
    canvas = canvas.reshape(out_h, out_w, -1)
    scale = min(1.0, _COLOUR_SIDE / max(out_h, out_w))
    small_size = (max(1, round(out_w * scale)), max(1, round(out_h * scale)))
    known = np.zeros((out_h, out_w), np.float32)
    known[top : top + h, left : left + w] = 1.0
    unknown = (cv2.resize(known, small_size, interpolation=cv2.INTER_AREA) < 0.999).astype(np.uint8)
    small = cv2.resize(canvas, small_size, interpolation=cv2.INTER_AREA).reshape(
        small_size[1], small_size[0], -1
    )
    parts = []
    for c in range(0, small.shape[2], 3):  # cv2.inpaint takes 1 or 3 channels
        part = np.ascontiguousarray(small[:, :, c : c + 3])
        parts.append(cv2.inpaint(part, unknown, _INPAINT_RADIUS, cv2.INPAINT_TELEA).reshape(part.shape))
    small_filled = np.concatenate(parts, axis=2).astype(np.float32)
    # the farther out, the less the border says: the colours fade into their wide average (an alpha
    # channel does not: beyond a transparent border lies nothing, beyond an opaque one something)
    colour = small_filled[:, :, :3]
    mean = cv2.GaussianBlur(colour, (0, 0), _COLOUR_FADE_SIGMA * max(small_size)).reshape(colour.shape)
    fade = np.clip(_outwards((h, w), pads) / _COLOUR_FADE, 0.0, 1.0)
    fade = cv2.resize(fade, small_size, interpolation=cv2.INTER_AREA).reshape(small_size[1], small_size[0], 1)
    small_filled[:, :, :3] = colour + fade * (mean - colour)
    filled = cv2.resize(
        np.clip(small_filled + 0.5, 0, 255).astype(np.uint8), (out_w, out_h), interpolation=cv2.INTER_LINEAR
    )
    filled = filled.reshape(out_h, out_w, -1)
    filled[top : top + h, left : left + w] = image.reshape(h, w, -1)
    return filled.reshape((out_h, out_w, *image.shape[2:]))
