"""Triangles of a quadtree plan, as indices into the lattice (see `dioramic.scene.quadtree`).

Vertex ids: a lattice vertex (row r, column c) is ``r * w + c``; a copy of lattice vertex ``i``
moved across a cut is ``h * w + k`` where ``copies.source[k] == i``.

A triangle that straddles a cut is normally *pushed back*: its near corners become copies at the depth
of its farthest corner (the far side extends under the near side's edge). A foreground layer instead
*pulls forward* the triangles whose far side it does not hold (`front`): their far corners become
copies at the depth of the nearest corner, so the near surface reaches across the cut, where the
layer's texture fades it out (soft silhouettes), over the background layer behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dioramic.scene.quadtree import Plan, Quadtree, fan_corner


@dataclass(frozen=True)
class Triangles:
    """The triangulation of one plan."""

    faces: np.ndarray
    """(M, 3) int64 vertex ids (lattice ids, then copies), counter-clockwise seen from the camera."""
    copy_source: np.ndarray
    """(K,) int64 lattice id each copy duplicates (same image position)."""
    copy_z: np.ndarray
    """(K,) float64 inverse depth of each copy: that of the farthest corner it was pushed back to."""


def _leaf_triangles(tree: Quadtree, plan: Plan, z: np.ndarray) -> list[np.ndarray]:
    """Triangles of the leaves of level >= 1: two per plain leaf, a fan where a neighbour is finer
    (from a corner where one can, see `fan_corner`)."""
    w = z.shape[1]
    zf = z.ravel()
    out: list[np.ndarray] = []
    for level, leaves, flags in tree.leaves(plan.split):
        s = 2**level
        iy, ix = np.nonzero(leaves & tree.in_region(level))
        if not len(iy):
            continue
        fl = flags[:, iy, ix]
        r0, c0 = iy * s, ix * s
        r1, c1, rm, cm = r0 + s, c0 + s, r0 + s // 2, c0 + s // 2
        tl, tr, bl, br = r0 * w + c0, r0 * w + c1, r1 * w + c0, r1 * w + c1
        centre = rm * w + cm
        plain = ~fl.any(axis=0)
        # two triangles, along the diagonal whose midpoint is nearer the block's centre sample
        zc = zf[centre]
        use_ad = np.abs(zc - 0.5 * (zf[tl] + zf[br])) <= np.abs(zc - 0.5 * (zf[tr] + zf[bl]))
        p = plain & use_ad
        q = plain & ~use_ad
        out += [
            np.stack([tl[p], bl[p], br[p]], 1),
            np.stack([tl[p], br[p], tr[p]], 1),
            np.stack([tl[q], bl[q], tr[q]], 1),
            np.stack([tr[q], bl[q], br[q]], 1),
        ]
        # fans: the boundary TL -> BL -> BR -> TR -> TL is counter-clockwise on the displayed image;
        # from a corner whose two sides have no midpoint (2 + n triangles), else from the centre
        corners = (tl, bl, br, tr)
        mids = (rm * w + c0, r1 * w + cm, rm * w + c1, r0 * w + cm)
        corner = np.where(plain, -2, fan_corner(fl))
        for apex, sides in [(centre, range(4)), *((corners[k], (k + 1, k + 2)) for k in range(4))]:
            fan = corner == -1 if apex is centre else corner == sides[0] - 1
            for side in (j % 4 for j in sides):
                start, end, mid, flag = corners[side], corners[(side + 1) % 4], mids[side], fl[side]
                one, two = fan & ~flag, fan & flag
                out += [
                    np.stack([apex[one], start[one], end[one]], 1),
                    np.stack([apex[two], start[two], mid[two]], 1),
                    np.stack([apex[two], mid[two], end[two]], 1),
                ]
    return out


def _fine_triangles(
    iy: np.ndarray, ix: np.ndarray, z: np.ndarray, cut_x: np.ndarray, cut_y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two triangles per level-0 cell and, per triangle, which of its edges (01, 12, 20) are uncut.

    The diagonal is chosen to leave the fewest triangles across a cut, then the smaller depth jump.
    """
    w = z.shape[1]
    zf = z.ravel()
    a = iy * w + ix
    b, c = a + 1, a + w
    d = c + 1
    top, bottom = ~cut_x[iy, ix], ~cut_x[iy + 1, ix]
    left, right = ~cut_y[iy, ix], ~cut_y[iy, ix + 1]
    # a diagonal is continuous when a path of two uncut edges joins its ends around the cell
    ok_ad = (left & bottom) | (top & right)
    ok_bc = (top & left) | (right & bottom)
    span_ad = (~(left & bottom)).astype(np.int8) + ~(top & right)
    span_bc = (~(top & left)).astype(np.int8) + ~(right & bottom)
    jump_ad = np.abs(zf[a] - zf[d]) / np.minimum(zf[a], zf[d])
    jump_bc = np.abs(zf[b] - zf[c]) / np.minimum(zf[b], zf[c])
    use_ad = (span_ad < span_bc) | ((span_ad == span_bc) & (jump_ad <= jump_bc))
    p, q = use_ad, ~use_ad
    faces = np.concatenate(
        [
            np.stack([a[p], c[p], d[p]], 1),
            np.stack([a[p], d[p], b[p]], 1),
            np.stack([a[q], c[q], b[q]], 1),
            np.stack([b[q], c[q], d[q]], 1),
        ]
    )
    ok = np.concatenate(
        [
            np.stack([left[p], bottom[p], ok_ad[p]], 1),
            np.stack([ok_ad[p], right[p], top[p]], 1),
            np.stack([left[q], ok_bc[q], top[q]], 1),
            np.stack([ok_bc[q], bottom[q], right[q]], 1),
        ]
    )
    return faces, ok


def _push_behind_cuts(
    faces: np.ndarray, ok: np.ndarray, z: np.ndarray, front: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replace the corners of cut triangles that are not joined to the anchor corner by copies.

    The anchor is the farthest corner (push back), or the nearest one (pull forward) where `front`
    (h * w,) bool is given and does not hold the farthest corner. Returns the new faces (copies
    numbered from z.size), the copies' lattice sources and their inverse depths (a pushed copy takes
    the farthest depth among the triangles it serves, a pulled copy the nearest).
    """
    crossing = ~ok.all(axis=1)
    if not crossing.any():
        return faces, np.zeros(0, np.int64), np.zeros(0, np.float64)
    tri = faces[crossing]
    joined = ok[crossing]
    n = len(tri)
    adjacency = np.zeros((n, 3, 3), bool)
    for (i, j), k in zip(((0, 1), (1, 2), (2, 0)), range(3), strict=True):
        adjacency[:, i, j] = adjacency[:, j, i] = joined[:, k]
    zc = z.ravel()[tri]
    rows = np.arange(n)
    anchor = np.argmin(zc, axis=1)
    pull = np.zeros(n, bool)
    if front is not None:
        pull = ~front[tri[rows, anchor]]
        anchor = np.where(pull, np.argmax(zc, axis=1), anchor)
    moved = np.zeros((n, 3), bool)
    for k in range(3):
        other = 3 - anchor - k  # the third corner (meaningful where k != anchor)
        other = np.clip(other, 0, 2)
        reach = adjacency[rows, anchor, k] | (adjacency[rows, anchor, other] & adjacency[rows, other, k])
        moved[:, k] = (anchor != k) & ~reach
    t_idx, k_idx = np.nonzero(moved)
    pulled = pull[t_idx]
    sources = tri[t_idx, k_idx] * 2 + pulled  # pushed and pulled copies of one vertex differ
    target_z = zc[rows, anchor][t_idx]
    unique, inverse = np.unique(sources, return_inverse=True)
    copy_z = np.full(len(unique), np.inf)
    np.minimum.at(copy_z, inverse, np.where(pulled, np.inf, target_z))
    nearest = np.full(len(unique), -np.inf)
    np.maximum.at(nearest, inverse, np.where(pulled, target_z, -np.inf))
    copy_z = np.where(unique % 2 == 1, nearest, copy_z)
    tri = tri.copy()
    tri[t_idx, k_idx] = z.size + inverse
    out = faces.copy()
    out[crossing] = tri
    return out, (unique // 2).astype(np.int64), copy_z


def triangulate(
    tree: Quadtree,
    plan: Plan,
    z: np.ndarray,
    cut_x: np.ndarray,
    cut_y: np.ndarray,
    front: np.ndarray | None = None,
) -> Triangles:
    """All triangles of `plan` over the lattice inverse depth `z` (h, w) with its cuts.

    `front` (h, w) bool, for a foreground layer: the vertices the layer holds; triangles straddling a
    cut whose far side it does not hold are pulled forward instead of pushed back.
    """
    parts = _leaf_triangles(tree, plan, z)
    iy, ix = tree.fine_cells(plan)
    fine, ok = _fine_triangles(iy, ix, z, cut_x, cut_y)
    fine, copy_source, copy_z = _push_behind_cuts(fine, ok, z, None if front is None else front.ravel())
    faces = np.concatenate([*parts, fine]).astype(np.int64) if parts else fine.astype(np.int64)
    return Triangles(faces=faces.reshape(-1, 3), copy_source=copy_source, copy_z=copy_z)
