"""Adaptive triangulation of the lattice: a restricted quadtree, crack-free, that keeps cuts cut.

The lattice's cells are grouped in square blocks of 2**level cells (level 0 = one cell). A block is
*flat* when every lattice depth inside it lies within a relative tolerance of the plane fitted to it
(least squares in inverse depth, where planes are affine in the image). Flat blocks become leaves;
other blocks split into four. A block touching a cut edge is never flat, so every cut lies in level-0
cells. The tree is then *restricted* (neighbours across an edge differ by one level at most) and each
leaf is triangulated with the vertices its finer neighbours put on its edges, so no T-junction opens a
crack:

* a leaf with no finer neighbour: two triangles, along the diagonal that best fits its centre;
* otherwise a fan around its centre vertex through its corners and the needed edge midpoints.

A level-0 cell on a cut keeps its full area, so the photo's own view has no hole: a triangle whose
corners straddle the cut is moved onto the far side, its near corners replaced by copies of those
vertices pushed back to the depth of the far corner (the background extends under the foreground's
edge, which is what a viewer expects behind a silhouette). No triangle joins both sides of a cut.

Winding: counter-clockwise as seen from the camera, i.e. counter-clockwise on the image as displayed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_CHUNK_ELEMENTS = 1 << 22  # lattice samples per chunk when fitting planes (bounds the memory used)
_NEVER_FLAT = 1e30  # a tolerance that every block meets except those on a cut (error = inf)
_MAX_TOLERANCE = 1e3  # inverse depth (1/m): the budget search stops raising the tolerance here


def _pool(mask: np.ndarray) -> np.ndarray:
    """OR over 2x2 blocks: (2n, 2m) -> (n, m)."""
    n, m = mask.shape[0] // 2, mask.shape[1] // 2
    return mask.reshape(n, 2, m, 2).any(axis=(1, 3))


def _up(mask: np.ndarray) -> np.ndarray:
    """Each cell to its 2x2 children: (n, m) -> (2n, 2m)."""
    return np.repeat(np.repeat(mask, 2, axis=0), 2, axis=1)


def _neighbours(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`mask` of the edge neighbour (left, bottom, right, top) of every cell; False off the grid."""
    left = np.zeros_like(mask)
    left[:, 1:] = mask[:, :-1]
    right = np.zeros_like(mask)
    right[:, :-1] = mask[:, 1:]
    top = np.zeros_like(mask)
    top[1:, :] = mask[:-1, :]
    bottom = np.zeros_like(mask)
    bottom[:-1, :] = mask[1:, :]
    return left, bottom, right, top


def level_errors(z: np.ndarray, u: np.ndarray, v: np.ndarray, size: int) -> np.ndarray:
    """Max error of the least-squares plane of each block of `size` x `size` cells, in inverse depth.

    Parameters
    ----------
    z
        (h, w) inverse depth on the lattice, (h - 1) and (w - 1) multiples of `size`.
    u, v
        (w,) and (h,) lattice positions (the design is a tensor product, so the fit is closed-form).

    Returns
    -------
    ((h - 1) / size, (w - 1) / size) float32: max over the block's (size + 1)**2 vertices of
    |z - plane| (1/m), which bounds the error in inverse depth of any triangulation of the block: the
    error on screen is that times the parallax a move makes per unit of inverse depth.
    """
    s = size
    uw = sliding_window_view(u, s + 1)[::s]
    du = uw - uw.mean(axis=1, keepdims=True)
    su = (du**2).sum(axis=1)
    vw = sliding_window_view(v, s + 1)[::s]
    dv = vw - vw.mean(axis=1, keepdims=True)
    sv = (dv**2).sum(axis=1)
    ny, nx = len(vw), len(uw)
    out = np.empty((ny, nx), np.float32)
    rows = max(1, _CHUNK_ELEMENTS // (nx * (s + 1) ** 2))
    for a in range(0, ny, rows):
        b = min(ny, a + rows)
        block = sliding_window_view(z[a * s : b * s + 1], (s + 1, s + 1))[::s, ::s]  # (y, x, i, j)
        mean = block.mean(axis=(2, 3))
        slope_u = np.einsum("yxij,xj->yx", block, du) / ((s + 1) * su)
        slope_v = np.einsum("yxij,yi->yx", block, dv[a:b]) / ((s + 1) * sv[a:b, None])
        fit = (
            mean[:, :, None, None]
            + slope_u[:, :, None, None] * du[None, :, None, :]
            + slope_v[:, :, None, None] * dv[a:b, None, :, None]
        )
        out[a:b] = np.abs(block - fit).max(axis=(2, 3))
    return out


@dataclass(frozen=True)
class Plan:
    """Which blocks are split at each level, for one tolerance."""

    split: tuple[np.ndarray, ...]
    """split[l - 1] for level l = 1..L: bool (cells_y / 2**l, cells_x / 2**l), True = split in four."""
    triangles: int
    """Triangles the plan's triangulation will have."""


class Quadtree:
    """The block errors of a lattice, from which plans for any tolerance are cheap to make.

    With a `region` (a layer that covers only part of the frame), only the leaves that hold a cell of
    the region make triangles: blocks without any are never split for flatness and cost nothing.
    """

    def __init__(
        self,
        z: np.ndarray,
        u: np.ndarray,
        v: np.ndarray,
        cut_x: np.ndarray,
        cut_y: np.ndarray,
        levels: int,
        region: np.ndarray | None = None,
        tolerance_scale: float = 1.0,
        exact: bool = True,
    ) -> None:
        """`z` (h, w) inverse depth, `u`/`v` positions, `cut_x` (h, w - 1) and `cut_y` (h - 1, w) cuts;
        `region` (h - 1, w - 1) bool: the cells to triangulate (None: all): a block that holds some
        of them and some others is always split, so the triangles cover the region exactly;
        `tolerance_scale`: this tree's blocks are flat at that multiple of a plan's tolerance (a
        layer seen only when the camera moves can be coarser)."""
        self.levels = levels
        self.cells = (int(z.shape[0]) - 1, int(z.shape[1]) - 1)
        self.region: list[np.ndarray] | None = None
        dirty = cut_x[:-1, :] | cut_x[1:, :] | cut_y[:, :-1] | cut_y[:, 1:]  # level-0 cells on a cut
        if region is not None:
            if region.shape != self.cells:
                raise ValueError(f"region must be {self.cells}, got {region.shape}")
            self.region = [region.astype(bool)]
            outside = ~self.region[0]
        self.errors: list[np.ndarray] = []
        for level in range(1, levels + 1):
            dirty = _pool(dirty)
            err = level_errors(z, u, v, 2**level) / tolerance_scale
            if self.region is not None:
                self.region.append(_pool(self.region[-1]))
                outside = _pool(outside)
                if exact:
                    dirty = dirty | (self.region[-1] & outside)  # partly in the region: split
                err[~self.region[-1]] = 0.0  # nothing of the layer there: never split for flatness
            err[dirty] = np.inf
            self.errors.append(err)

    def in_region(self, level: int) -> np.ndarray | bool:
        """Blocks of `level` that hold a cell of the region (True everywhere without a region)."""
        return True if self.region is None else self.region[level]

    def plan(self, tolerance: float) -> Plan:
        """Split every block whose plane error exceeds `tolerance`, then restrict the tree."""
        split: list[np.ndarray] = [np.zeros(0, bool)] * self.levels
        active: np.ndarray | None = None
        for level in range(self.levels, 0, -1):
            s = self.errors[level - 1] > tolerance
            if active is not None:
                s &= active
            split[level - 1] = s
            active = _up(s)
        # restriction: a block with a split child makes its edge neighbours split (fine -> coarse)
        for level in range(2, self.levels + 1):
            child = _pool(split[level - 2])
            left, bottom, right, top = _neighbours(child)
            split[level - 1] = split[level - 1] | child | left | bottom | right | top
        return Plan(tuple(split), self._count(split))

    def _count(self, split: list[np.ndarray]) -> int:
        if not self.levels:
            return 2 * int((np.ones(self.cells, bool) & self.in_region(0)).sum())
        total = 2 * int((_up(split[0]) & self.in_region(0)).sum())
        for level, leaves, flags in self.leaves(split):
            n = flags.sum(axis=0)
            total += int(np.where(fan_corner(flags) >= 0, 2 + n, 4 + n)[leaves & self.in_region(level)].sum())
        return total

    def fine_cells(self, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of every level-0 leaf (one lattice cell) of `plan` in the region."""
        if self.levels == 0:
            return np.nonzero(np.ones(self.cells, bool) & self.in_region(0))
        return np.nonzero(_up(plan.split[0]) & self.in_region(0))

    def leaves(
        self, split: list[np.ndarray] | tuple[np.ndarray, ...]
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(level, leaf mask, (4, ...) finer-neighbour flags left/bottom/right/top) for levels >= 1."""
        for level in range(1, self.levels + 1):
            s = split[level - 1]
            active = np.ones_like(s) if level == self.levels else _up(split[level])
            yield level, active & ~s, np.stack(_neighbours(s))


def fan_corner(flags: np.ndarray) -> np.ndarray:
    """For leaves with (4, ...) finer-neighbour flags (sides left, bottom, right, top): the corner
    (0 top-left, 1 bottom-left, 2 bottom-right, 3 top-right; side k runs from corner k to corner
    k + 1, counter-clockwise) from which a fan reaches every side's vertices without a centre
    vertex: one whose two sides have no midpoint; -1 where there is none. A leaf without finer
    neighbours needs no fan: its two triangles are counted apart."""
    corner = np.full(flags.shape[1:], -1, np.int64)
    for k in range(3, -1, -1):
        corner = np.where(~flags[k] & ~flags[(k + 3) % 4], k, corner)
    return corner


def plan_within_budget(tree: Quadtree, tolerance: float, max_triangles: int) -> Plan | None:
    """The plan with the smallest tolerance >= `tolerance` that has at most `max_triangles`.

    None when even the coarsest plan (only cut cells kept fine) has too many triangles.
    """
    plans = plan_all_within_budget([tree], tolerance, max_triangles)
    return None if plans is None else plans[0]


def plan_all_within_budget(trees: list[Quadtree], tolerance: float, max_triangles: int) -> list[Plan] | None:
    """Plans for several trees (layers) with one shared tolerance >= `tolerance`, the smallest whose
    triangles add up to at most `max_triangles`; None when even the coarsest plans do not fit."""

    def plans_at(tol: float) -> tuple[list[Plan], int]:
        plans = [tree.plan(tol) for tree in trees]
        return plans, sum(p.triangles for p in plans)

    plans, total = plans_at(tolerance)
    if total <= max_triangles:
        return plans
    coarsest, total = plans_at(_NEVER_FLAT)
    if total > max_triangles:
        return None
    lo, hi, best = np.log(tolerance), np.log(_MAX_TOLERANCE), coarsest
    for _ in range(24):
        mid = 0.5 * (lo + hi)
        candidate, total = plans_at(float(np.exp(mid)))
        if total <= max_triangles:
            hi, best = mid, candidate
        else:
            lo = mid
        if hi - lo < 0.01:
            break
    return best
