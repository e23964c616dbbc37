"""Colour of the hidden layers: inpainting behind the occluders, from the far side only.

`fill_colours` paints each hidden layer (`dioramic.scene.peel`) in turn, nearest first, from the
colours of the surface in front of it (the photo's, decontaminated along the silhouettes, for the
first). A fill must take the colours of the surface it continues, never those of anything in front
of it: behind a pole standing before a pipe that stands before a wall, the pole's fill is pipe and
the pipe's fill is wall. So the layer's region is painted in depth slices: for each slice of the
fill's depths, everything nearer than the slice is unknown to the inpainter, which fills the slice
from what lies at its depth or beyond. Inpainting runs on a reduced image and replaces the region's
texels only.

The inpainter is a name of `INPAINTERS`: 'exemplar' (the default: patches of the slice's own surface,
its depths or a little farther, PatchMatch guided by pull-push colours, `dioramic.scene.exemplar`;
on an image at most `_EXEMPLAR_LONG_SIDE` texels long, so that the fill has the photo's grain),
'smooth' (pull-push interpolation, Gortler et al. 1996, as fast as a few image pyramids and as smooth
as an out-of-focus background; on at most `_INPAINT_LONG_SIDE` texels, like the others), OpenCV's
Telea and Navier-Stokes, or the learned LaMa (`dioramic.scene.inpaint_lama`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from dioramic.registry import Registry

__all__ = ["INPAINTERS", "Inpainter", "fill_colours", "pull_push"]

_INPAINT_LONG_SIDE = 640  # inpainting runs on an image at most this large (the fill is smooth anyway)
_EXEMPLAR_LONG_SIDE = 1600  # ... and the exemplar fill on one at most this large (it has grain)
_INPAINT_RADIUS = 3
_SLICES = 4  # depth slices per hidden layer at most
_SLICE_MIN = 0.15  # a depth slice spans at least this relative range of inverse depth
_CONTEXT = 0.1  # a layer is painted from the colours within this fraction of the long side around it


class Inpainter(Protocol):
    """Fills the masked pixels of an image from the others."""

    def __call__(self, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """`rgb` (H, W, 3) uint8 and `mask` (H, W) bool (True = fill) -> (H, W, 3) uint8."""
        ...


INPAINTERS: Registry[Inpainter] = Registry("inpainter")
"""Colour inpainting backends by name ('exemplar' is the default)."""


def pull_push(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(H, W, C) float32: `image` (H, W, C) float32 with the pixels where `known` (H, W) is False
    interpolated from the known ones, coarse to fine (pull-push): near known pixels the fine levels
    decide, deep inside a hole the coarse ones, so the fill is smooth and meets the known pixels
    without a seam. A pixel with no known pixel anywhere gets 0."""
    import cv2

    weight = known.astype(np.float32)
    num = image * weight[:, :, None]
    levels = [(num, weight)]
    while min(levels[-1][1].shape) > 1:
        num, weight = levels[-1]
        h, w = weight.shape
        size = ((w + 1) // 2, (h + 1) // 2)
        down_num = cv2.resize(num, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
        levels.append((down_num, cv2.resize(weight, size, interpolation=cv2.INTER_AREA)))
    num, weight = levels[-1]
    estimate = num / np.maximum(weight, 1e-12)[:, :, None]
    for num, weight in reversed(levels[:-1]):
        h, w = weight.shape
        up = cv2.resize(estimate, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, -1)
        here = num / np.maximum(weight, 1e-12)[:, :, None]
        trust = np.clip(4.0 * weight, 0.0, 1.0)[:, :, None]  # a quarter of a pixel known is enough
        estimate = trust * here + (1.0 - trust) * up
    return estimate.astype(np.float32)


@INPAINTERS.register("smooth")
def smooth(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pull-push interpolation (`pull_push`): very fast, smooth fills that meet the photo seamlessly."""
    filled = pull_push(rgb.astype(np.float32), ~mask)
    out = np.clip(filled + 0.5, 0, 255).astype(np.uint8)
    return np.where(mask[:, :, None], out, rgb)


def _opencv(rgb: np.ndarray, mask: np.ndarray, method: int) -> np.ndarray:
    import cv2

    return cv2.inpaint(np.ascontiguousarray(rgb), mask.astype(np.uint8) * 255, _INPAINT_RADIUS, method)


@INPAINTERS.register("telea")
def telea(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV's fast marching inpainting (Telea 2004): smooth fills that continue edges a little."""
    import cv2

    return _opencv(rgb, mask, cv2.INPAINT_TELEA)


@INPAINTERS.register("ns")
def navier_stokes(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV's Navier-Stokes inpainting (Bertalmio 2001): continues isophotes into the hole."""
    import cv2

    return _opencv(rgb, mask, cv2.INPAINT_NS)


@INPAINTERS.register("exemplar")
def exemplar(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Patches of the known pixels (PatchMatch, multi-scale, `dioramic.scene.exemplar`): fills with
    the grain of their surroundings."""
    from dioramic.scene.exemplar import complete

    return complete(rgb, mask)


def _inpainter(name: str, model: Path | None) -> Inpainter:
    if model is not None:
        from dioramic.scene.inpaint_lama import LamaInpainter

        return LamaInpainter(model=model)
    return INPAINTERS.get(name)


def depth_slices(values: np.ndarray, count: int = _SLICES, minimum: float = _SLICE_MIN) -> list[float]:
    """Upper bounds (inverse depth) of at most `count` slices that split `values` (> 0) evenly in
    log inverse depth, each at least `minimum` wide in relative terms; the last bound is the largest
    value.

    >>> depth_slices(np.array([1.0, 1.05]))
    [1.05]
    >>> [round(b, 3) for b in depth_slices(np.array([0.1, 1.0]))]
    [0.178, 0.316, 0.562, 1.0]
    """
    lo, hi = float(values.min()), float(values.max())
    span = np.log(hi / lo)
    n = int(max(1, min(count, np.ceil(span / np.log1p(minimum)))))
    return [float(lo * np.exp(span * (k + 1) / n)) for k in range(n)]


def _fill_box(
    current: np.ndarray,
    current_z: np.ndarray,
    region: np.ndarray,
    layer_z: np.ndarray,
    fill: Inpainter | None,
    layer: np.ndarray,
) -> np.ndarray:
    """`layer` (h, w, 3) with the `region` texels painted in depth slices (see `fill_colours`);
    `fill` None: the exemplar fill (`dioramic.scene.exemplar`), at a finer scale and only where the
    slice needs it."""
    import cv2

    from dioramic.scene.exemplar import complete

    height, width = current.shape[:2]
    long_side = _EXEMPLAR_LONG_SIDE if fill is None else _INPAINT_LONG_SIDE
    scale = min(1.0, long_side / max(height, width))
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))

    def shrink(image: np.ndarray, interpolation: int) -> np.ndarray:
        return image if scale >= 1.0 else cv2.resize(image, small_size, interpolation=interpolation)

    layer = layer.copy()
    small = shrink(current, cv2.INTER_AREA)
    # a reduced pixel is as near as the nearest texel it covers
    reach = int(np.ceil(1.0 / scale)) | 1
    small_z = shrink(cv2.dilate(current_z, np.ones((reach, reach), np.uint8)), cv2.INTER_NEAREST)
    small_region = shrink(region.astype(np.float32), cv2.INTER_AREA) > 0
    lower = 0.0
    for upper in depth_slices(layer_z[region]):
        target = region & (layer_z > lower) & (layer_z <= upper)
        slice_lower, lower = lower, upper
        if not target.any():
            continue
        unknown = small_region | (small_z > upper * 1.05)
        if fill is None:
            wanted = shrink(target.astype(np.float32), cv2.INTER_AREA) > 0
            # texture from the slice's own surface (its depths or a little farther), if it shows
            own = ~unknown & (small_z > slice_lower / (1.0 + _SLICE_MIN))
            filled = complete(small, unknown, wanted, own if own.sum() >= wanted.sum() else None)
        else:
            filled = fill(small, unknown)
        if scale < 1.0:
            filled = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
        layer[target] = filled[target]
    return layer


def fill_colours(
    rgb: np.ndarray,
    z: np.ndarray,
    layers: list[tuple[np.ndarray, np.ndarray]],
    inpainter: str = "exemplar",
    model: Path | None = None,
    edge: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[np.ndarray]:
    """The colours of each hidden layer, nearest first: (H, W, 3) uint8 images of the whole frame.

    Parameters
    ----------
    rgb
        (H, W, 3) uint8 colours of the photo's surface.
    z
        (H, W) float inverse depth (1/m) of the photo's surface, per texel.
    layers
        Per hidden layer, nearest first, (region, z) : the (H, W) bool texels the layer rebuilds and
        its (H, W) inverse depth per texel (that of the surface in front of it outside the region).
    inpainter, model
        A name of `INPAINTERS`; `model`: the ONNX file of the 'lama' inpainter (None: its default).
    edge
        (texels, colours): texels of the first layer that take the given colours instead of the fill
        (right behind the silhouettes, the far side's colour estimated by `dioramic.scene.matte`).
    """
    fill = None if inpainter == "exemplar" and model is None else _inpainter(inpainter, model)
    height, width = rgb.shape[:2]
    out = []
    current, current_z = rgb, z.astype(np.float32)
    for k, (region, layer_z) in enumerate(layers):
        layer = current.copy()
        if region.any():
            # the region's box, with room for the colours around it
            rows, cols = np.nonzero(region.any(axis=1))[0], np.nonzero(region.any(axis=0))[0]
            pad = int(_CONTEXT * max(height, width))
            box = (
                slice(max(0, rows[0] - pad), min(height, rows[-1] + pad + 1)),
                slice(max(0, cols[0] - pad), min(width, cols[-1] + pad + 1)),
            )
            layer[box] = _fill_box(current[box], current_z[box], region[box], layer_z[box], fill, layer[box])
        if k == 0 and edge is not None:
            texels, colours = edge
            layer[texels] = colours[texels]
        out.append(layer)
        current, current_z = layer, layer_z.astype(np.float32)
    return out
