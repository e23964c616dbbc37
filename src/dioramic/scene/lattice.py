"""The vertex lattice of the mesh: depth sampled on a grid that covers the whole frame, and its cuts.

A lattice of ``cells_x`` x ``cells_y`` cells has (cells_y + 1, cells_x + 1) vertices. Its inner
vertices sit exactly on pixel centres of the depth map (the nearest one to an even spacing), so that
they carry a measured depth, never an interpolated one; its outer ring sits on the edges of the image
(u = 0 or W, v = 0 or H) so that the mesh covers the frame to its border. The outer ring's depth
continues the plane of the two inner vertices next to it (in inverse depth, where planes are affine),
or copies the border pixel's depth where the depth is not planar there.

Positions are a tensor product (one u per column, one v per row), so every lattice row and column is
a straight line in the image and every cell is an axis-aligned rectangle.

Discontinuities are found on lattice edges in inverse depth z = 1/d, in which a plane seen by a
pinhole camera is affine in (u, v): along a line of vertices its slope is constant, however steep
(grazing) the plane. An edge is cut when its jump is not explained by the slope on either side of it
(measured over the two vertices before it or the two after it)::

    residual = min(|s - s_before|, |s - s_after|) * du / min(z_p, z_q) > threshold

where s is the edge's own slope. The measure is scale-free (a relative depth ratio: a 1 m -> 3 m
step gives 2.0, a 10 % step 0.1) and exactly zero on any plane. Given the largest move the scene is
built for (``stretch``: its parallax per unit of inverse depth), an edge that move would tear open by
more than a few pixels is cut too, whatever its slope. Before that, the depth is cleaned:

* specks (a few vertices standing out of their neighbourhood) take their neighbourhood's median:
  noise, too small to be an outline, which a moving camera would tear into spikes;
* narrow ramps that the move would stretch (a depth edge blurred by an estimate, or holes filled by
  interpolation) are collapsed into steps half-way along them (`collapse_ramps`), so they are cut
  along one line instead of stretching into a sheet or shredding into strips;
* afterwards, groups of fewer than a handful of cut edges (specks of a noisy depth map) are not cut.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

log = logging.getLogger("dioramic.scene")

# Inner vertices per side needed before the outer ring extrapolates rather than copying a pixel.
_MIN_INNER_FOR_EXTRAPOLATION = 3
# Chains of touching cut edges shorter than this are noise and are not cut.
_MIN_CUT_EDGES = 6
# Groups of at most this many vertices standing out of their neighbourhood are noise, and smoothed.
_SPECK_VERTICES = 4
# A depth ramp is collapsed into a step where the move stretches it by more than this many pixels per
# pixel (a surface seen edge-on, or an edge blurred by the depth estimate or by filled holes) ...
_RAMP_STRETCH = 1.0
# ... and it is at most this fraction of the long side wide (wider steep surfaces are real surfaces).
_RAMP_WIDTH = 0.06
# An edge that a move would tear open by more than this many pixels is cut, whatever its slope ...
_TEAR_PX = 3.0
# ... and one it would open by less than this is not, whatever its jump.
_MIN_OPENING_PX = 1.0


@dataclass(frozen=True)
class Lattice:
    """Depth sampled on the mesh's vertex lattice."""

    u: np.ndarray
    """(w,) float64 column positions in depth-map pixels (0 and W at the ends, pixel centres inside)."""
    v: np.ndarray
    """(h,) float64 row positions in depth-map pixels (0 and H at the ends, pixel centres inside)."""
    z: np.ndarray
    """(h, w) float64 inverse depth (1/metres) at each vertex, > 0."""
    width: int
    """Width W of the depth map the lattice was sampled from, in pixels."""
    height: int
    """Height H of the depth map the lattice was sampled from, in pixels."""

    @property
    def shape(self) -> tuple[int, int]:
        """(h, w): vertex rows and columns."""
        return (int(self.z.shape[0]), int(self.z.shape[1]))


def lattice_layout(width: int, height: int, resolution: int, max_cell: int = 64) -> tuple[int, int, int]:
    """Cells (cells_x, cells_y) and quadtree levels for a `width` x `height` depth map.

    The long side gets about `resolution` cells (never more than one per pixel); both counts are
    multiples of 2**levels (the size of the largest cell the decimation can merge, at most
    `max_cell`), chosen so that cells stay within 10 % of square.

    >>> lattice_layout(4000, 3000, 1024)
    (1024, 768, 6)
    >>> lattice_layout(16, 16, 1024)
    (16, 16, 4)
    """
    long_side = max(width, height)
    pixels_per_cell = max(1.0, long_side / max(1, resolution))
    target_x, target_y = width / pixels_per_cell, height / pixels_per_cell
    size = 1
    while size * 2 <= max_cell:
        size *= 2
    while size > 1:
        nx = int(min(max(1, round(target_x / size)), width // size))
        ny = int(min(max(1, round(target_y / size)), height // size))
        fits = width // size >= 1 and height // size >= 1
        close = abs(nx * size - target_x) <= 0.1 * target_x and abs(ny * size - target_y) <= 0.1 * target_y
        if fits and close:
            return nx * size, ny * size, size.bit_length() - 1
        size //= 2
    return max(1, round(target_x)), max(1, round(target_y)), 0


def _positions(cells: int, pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (cells + 1,) and the depth-map pixel index (cells + 1,) each vertex samples."""
    index = np.floor(np.arange(cells + 1) * (pixels / cells)).astype(np.int64)
    index = np.clip(index, 0, pixels - 1)
    pos = index + 0.5
    pos[0], pos[-1] = 0.0, float(pixels)
    return pos, index


def _margin_offsets(pad: float, cells: int, first: float) -> np.ndarray:
    """`cells` offsets out to `pad`, growing geometrically from a first step of about `first` (evenly
    spaced when `cells` even steps are no longer than that)."""
    k = np.arange(1, cells + 1, dtype=np.float64)
    if pad / cells <= first:
        return pad * k / cells
    lo, hi = 1.0, 4.0  # growth ratio r: pad * (r - 1) / (r**cells - 1) == first
    for _ in range(60):
        r = 0.5 * (lo + hi)
        if pad * (r - 1.0) / (r**cells - 1.0) > first:
            lo = r
        else:
            hi = r
    r = 0.5 * (lo + hi)
    return pad * (r**k - 1.0) / (r**cells - 1.0)


def canvas_axis(
    pixels: int, before: int, after: int, cells: int, levels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Vertex positions along one axis of a canvas: the photo's `pixels` in `cells` cells (as
    `_positions`, the photo's edges included), then margins of `before` and `after` pixels whose
    cells grow about twofold outwards (a margin is seen only at a move's extremes, and holds smooth
    content), as many as make the total a multiple of 2**levels.

    Returns positions (n,) in photo pixels (negative before the photo) and the index (n,) of the canvas
    pixel (the photo's pixel plus `before`) each vertex samples.

    >>> pos, index = canvas_axis(8, 3, 0, 8, 2)
    >>> pos.tolist()
    [-3.0, -2.25, -1.5, -0.75, 0.0, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.0]
    >>> index.tolist()
    [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]
    """
    inner, index = _positions(cells, pixels)
    step = pixels / max(cells, 1)
    counts = [int(np.ceil(np.log2(pad / step + 1.0))) if pad > 0 else 0 for pad in (before, after)]
    extra = -(cells + sum(counts)) % (2**levels)
    sides = [k for k, pad in enumerate((before, after)) if pad > 0]
    for n in range(extra):  # the missing cells go to the margins, in turn
        if sides:
            counts[sides[n % len(sides)]] += 1
    left = -_margin_offsets(before, counts[0], step)[::-1] if counts[0] else np.zeros(0)
    right = pixels + _margin_offsets(after, counts[1], step) if counts[1] else np.zeros(0)
    last = before + pixels + after - 1
    idx = np.concatenate(
        [
            np.clip(np.floor(left + before), 0, last),
            index + before,
            np.clip(np.floor(right + before), 0, last),
        ]
    ).astype(np.int64)
    return np.concatenate([left, inner, right]), idx


def _extend_border(z: np.ndarray, pos: np.ndarray, threshold: float) -> None:
    """Continue the plane of the inner vertices to the outer columns of `z` (in place, axis 1)."""
    w = z.shape[1]
    if w - 2 < _MIN_INNER_FOR_EXTRAPOLATION:
        return
    for outer, a, b, c in ((0, 1, 2, 3), (w - 1, w - 2, w - 3, w - 4)):
        slope_ab = (z[:, b] - z[:, a]) / (pos[b] - pos[a])
        slope_bc = (z[:, c] - z[:, b]) / (pos[c] - pos[b])
        za = z[:, a]
        planar = np.abs(slope_ab - slope_bc) * abs(pos[b] - pos[a]) <= threshold * np.minimum(za, z[:, b])
        extended = za + slope_ab * (pos[outer] - pos[a])
        ok = planar & (extended > 0.05 * za) & (extended < 20.0 * za)
        z[:, outer] = np.where(ok, extended, z[:, outer])


def sample_lattice(
    depth: np.ndarray, cells_x: int, cells_y: int, threshold: float, stretch: float | None = None
) -> Lattice:
    """Sample an (H, W) depth map (metres, > 0) on a lattice of `cells_x` x `cells_y` cells.

    `threshold` is the edge threshold: the outer ring only extrapolates where the inner vertices are
    planar by that measure. `stretch` (pixels of parallax per unit of inverse depth, 1/m: the focal
    length times the largest sideways move) collapses narrow ramps that such a move would stretch
    into steps (`collapse_ramps`).
    """
    height, width = depth.shape
    if not (1 <= cells_x <= width and 1 <= cells_y <= height):
        raise ValueError(f"a {width}x{height} depth map cannot have {cells_x}x{cells_y} lattice cells")
    u, cols = _positions(cells_x, width)
    v, rows = _positions(cells_y, height)
    return sample_at(depth, (u, cols), (v, rows), (width, height), threshold, stretch)


def sample_at(
    depth: np.ndarray,
    columns: tuple[np.ndarray, np.ndarray],
    rows_: tuple[np.ndarray, np.ndarray],
    size: tuple[int, int],
    threshold: float,
    stretch: float | None = None,
) -> Lattice:
    """The lattice of `depth` (metres) at the given (positions, pixel indices) of its columns and
    rows (see `canvas_axis`); `size` is the (width, height) of the photo the positions refer to.
    Cleaning as `sample_lattice`."""
    (u, cols), (v, rows) = columns, rows_
    width, height = size
    z = 1.0 / depth[rows[:, None], cols[None, :]].astype(np.float64)
    inner = z[1:-1, 1:-1]  # a view: the inner vertices carry measured depth
    _remove_specks(inner, threshold)
    if stretch:
        collapse_ramps(inner, u[1:-1], v[1:-1], stretch, _RAMP_WIDTH * max(width, height))
        _remove_specks(inner, threshold)  # what collapsing left isolated
    _extend_border(z, u, threshold)
    _extend_border(z.T, v, threshold)
    return Lattice(u=u, v=v, z=z, width=int(width), height=int(height))


def _remove_specks(z: np.ndarray, threshold: float) -> None:
    """Replace specks (groups of at most `_SPECK_VERTICES` vertices that stand out of their 3 x 3
    neighbourhood's median by more than `threshold`) by that median, in place: noise of a depth map,
    too small to be cut (see `_drop_short_cuts`) and torn into spikes by a moving camera if left."""
    import cv2
    from scipy import ndimage

    if min(z.shape) < 3:
        return
    median = cv2.medianBlur(z.astype(np.float32), 3).astype(np.float64)
    odd = np.abs(z - median) > threshold * np.minimum(z, median)
    if not odd.any():
        return
    labels, count = ndimage.label(odd, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    small = (sizes <= _SPECK_VERTICES)[labels] & odd
    z[small] = median[small]


def _ramp_along(z: np.ndarray, pos: np.ndarray, limit: float) -> np.ndarray:
    """(h, w) bool: vertices inside a monotonic ramp along axis 1 whose slope on both sides exceeds
    `limit` (inverse depth per pixel)."""
    d = np.diff(z, axis=1) / np.diff(pos)[None, :]
    out = np.zeros(z.shape, bool)
    out[:, 1:-1] = (np.abs(d[:, :-1]) > limit) & (np.abs(d[:, 1:]) > limit) & (d[:, :-1] * d[:, 1:] > 0)
    return out


def collapse_ramps(z: np.ndarray, u: np.ndarray, v: np.ndarray, stretch: float, max_width: float) -> None:
    """Collapse narrow steep ramps of inverse depth `z` (h, w) into steps (in place).

    A move whose parallax is `stretch` pixels per unit of inverse depth stretches a surface by
    ``stretch * |dz/du|`` pixels per pixel. Where that exceeds `_RAMP_STRETCH` along a row or a
    column on both sides of a vertex, the vertex lies on a ramp: a blurred depth edge (an estimate's,
    or holes filled by interpolation) far more often than a real surface seen edge-on. A ramp at most
    `max_width` pixels wide becomes a step: each of its vertices takes the depth of the nearest vertex
    off the ramp, so the near side and the far side meet half-way along it, where the edge is then cut.
    A sharp step or a thin object has no vertex inside a ramp and is left as it is.
    """
    from scipy import ndimage

    limit = _RAMP_STRETCH / stretch
    steep = _ramp_along(z, u, limit) | _ramp_along(z.T, v, limit).T
    if not steep.any() or steep.all():
        return
    spacing = (
        float(np.mean(np.diff(v))) if len(v) > 1 else 1.0,
        float(np.mean(np.diff(u))) if len(u) > 1 else 1.0,
    )
    dist, (iy, ix) = ndimage.distance_transform_edt(steep, sampling=spacing, return_indices=True)
    labels, count = ndimage.label(steep)
    half = ndimage.maximum(dist, labels, np.arange(1, count + 1))
    narrow = np.concatenate([[False], np.asarray(half) <= 0.5 * max_width])[labels]
    z[narrow] = z[iy[narrow], ix[narrow]]


def _cuts_along(
    z: np.ndarray, pos: np.ndarray, threshold: float, stretch: float | None = None, explain: bool = True
) -> np.ndarray:
    """(h, w - 1) bool: which edges between columns j and j + 1 of `z` are cut (see module doc).

    With `stretch` (pixels of parallax per unit of inverse depth), an edge is also cut where that move
    would tear it open by more than `_TEAR_PX` pixels however well the slope explains it, and never
    where it would open it by less than `_MIN_OPENING_PX` (noise a move cannot show apart); with
    ``explain=False`` every relative jump over `threshold` is cut.
    """
    w = z.shape[1]
    du = np.diff(pos)
    dz = np.diff(z, axis=1)
    slope = dz / du
    residual = np.full(slope.shape, np.inf)
    if w >= 4 and explain:
        # slope over [k, k + 2]; the edge j is predicted by [j - 2, j] (before) and [j + 1, j + 3] (after)
        wide = (z[:, 2:] - z[:, :-2]) / (pos[2:] - pos[:-2])
        residual[:, 2:] = np.abs(slope[:, 2:] - wide[:, :-1])
        residual[:, :-2] = np.minimum(residual[:, :-2], np.abs(slope[:, :-2] - wide[:, 1:]))
    # edges with no prediction on either side (tiny lattices) fall back to the plain jump
    residual = np.where(np.isinf(residual), np.abs(slope), residual)
    nearest = np.minimum(z[:, :-1], z[:, 1:])
    cut = residual * du > threshold * nearest
    if stretch:
        opening = stretch * np.abs(dz)
        cut |= (opening > _TEAR_PX) & (np.abs(dz) > threshold * nearest)
        cut &= opening >= _MIN_OPENING_PX  # a jump the move opens by less than a pixel shows nothing
    return cut


def _drop_short_cuts(cut_x: np.ndarray, cut_y: np.ndarray, min_edges: int) -> None:
    """Remove (in place) groups of fewer than `min_edges` cut edges (edges of a common cell or of
    neighbouring cells form a group): speckle of a noisy depth map, which would tear small holes
    inside surfaces."""
    from scipy import ndimage

    h, w = cut_y.shape[0] + 1, cut_x.shape[1] + 1
    raster = np.zeros((2 * h - 1, 2 * w - 1), bool)  # vertices at even positions, edges between
    raster[0::2, 1::2] = cut_x
    raster[1::2, 0::2] = cut_y
    # edges of one cell (opposite sides included) are 2 raster steps apart: grow each by one step
    grown = ndimage.binary_dilation(raster, structure=np.ones((3, 3), bool))
    labels, count = ndimage.label(grown, structure=np.ones((3, 3), bool))
    if not count:
        return
    sizes = np.bincount(labels[raster], minlength=count + 1)  # cut edges per group
    short = sizes < min_edges
    short[0] = False
    cut_x &= ~short[labels[0::2, 1::2]]
    cut_y &= ~short[labels[1::2, 0::2]]


def cut_edges(
    z: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    threshold: float,
    stretch: float | None = None,
    explain: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut edges of inverse depth `z` (h, w) at positions `u` (w,), `v` (h,): (h, w - 1) bool between
    columns, (h - 1, w) bool between rows (`stretch`, `explain`: see `_cuts_along`).

    Isolated specks (chains of fewer than a few edges) are not cut: they are noise, not outlines.
    """
    across_columns = _cuts_along(z, u, threshold, stretch, explain)
    across_rows = _cuts_along(z.T, v, threshold, stretch, explain).T
    if explain:
        _drop_short_cuts(across_columns, across_rows, _MIN_CUT_EDGES)
    return across_columns, across_rows


def find_cuts(
    lattice: Lattice, threshold: float, stretch: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cut edges of the lattice (see `cut_edges`)."""
    return cut_edges(lattice.z, lattice.u, lattice.v, threshold, stretch)


@dataclass(frozen=True)
class CutLattice:
    """A lattice of the depth map with its cuts, at one resolution."""

    lattice: Lattice
    cut_x: np.ndarray
    """Cut flags of the horizontal lattice edges (see `find_cuts`)."""
    cut_y: np.ndarray
    """Cut flags of the vertical lattice edges."""
    levels: int
    """Quadtree levels above the lattice's cells."""


def canvas_lattices(
    canvas: np.ndarray,
    pads: tuple[int, int, int, int],
    resolution: int,
    threshold: float,
    budget: int,
    stretch: float | None = None,
) -> Iterator[CutLattice]:
    """Lattices of a `canvas` depth map (metres): the photo padded by `pads` (left, top, right,
    bottom) pixels; like `coarsening_lattices` over the photo's part, with margins of cells that grow
    outwards (`canvas_axis`). Positions are the photo's pixels (negative in the left and top margins)."""
    left, top, right, bottom = pads
    height, width = canvas.shape[0] - top - bottom, canvas.shape[1] - left - right

    def sample(cells_x: int, cells_y: int, levels: int) -> Lattice:
        columns = canvas_axis(width, left, right, cells_x, levels)
        rows = canvas_axis(height, top, bottom, cells_y, levels)
        return sample_at(canvas, columns, rows, (width, height), threshold, stretch)

    return _halving(width, height, resolution, threshold, budget, stretch, sample)


def coarsening_lattices(
    depth: np.ndarray, resolution: int, threshold: float, budget: int, stretch: float | None = None
) -> Iterator[CutLattice]:
    """Lattices of `depth` with their cuts, from `resolution` cells on the long side (at most the depth
    map's size) down to one cell, halving each time. The caller stops at the first one whose mesh fits
    `budget` triangles; each step down is logged, since it costs detail. `stretch`: see
    `sample_lattice`."""
    height, width = depth.shape

    def sample(cells_x: int, cells_y: int, levels: int) -> Lattice:
        return sample_lattice(depth, cells_x, cells_y, threshold, stretch)

    return _halving(width, height, resolution, threshold, budget, stretch, sample)


def _halving(
    width: int,
    height: int,
    resolution: int,
    threshold: float,
    budget: int,
    stretch: float | None,
    sample: Callable[[int, int, int], Lattice],
) -> Iterator[CutLattice]:
    """The lattices `sample` (cells_x, cells_y, levels) makes from `resolution` cells on the long side
    of a `width` x `height` photo (at most one per pixel) down to one cell, halving each time, with
    their cuts; each step down is logged."""
    resolution = min(resolution, max(width, height))
    while True:
        cells_x, cells_y, levels = lattice_layout(width, height, resolution)
        lattice = sample(cells_x, cells_y, levels)
        cut_x, cut_y = find_cuts(lattice, threshold, stretch)
        yield CutLattice(lattice, cut_x, cut_y, levels)
        if resolution <= 1:
            return
        log.info(
            "the depth edges need more than %d triangles at %d cells; coarsening the mesh lattice",
            budget,
            resolution,
        )
        resolution = max(1, resolution // 2)
