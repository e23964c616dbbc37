"""Layers behind the photo's surface: what each depth edge hides is rebuilt by peeling, far side first.

The photo shows one surface; a moving camera looks past the near side of every depth edge (a cut of
the lattice, `dioramic.scene.lattice`) at what lies behind it. `peel_layers` builds that hidden
surface as a stack of layers, like a layered depth image, on the mesh's vertex lattice:

1. Every cut has a far side and a near side. From each far-side vertex the far surface is continued
   under the near side: a vertex takes the inverse depth of its nearest far-side vertex, continued
   along that surface's own slope (in inverse depth, where planes are affine in the image; the slope
   is measured on the far side only) but never beyond the depths the far side itself shows around
   that vertex: the continuation interpolates what the photo shows, it never extrapolates (a slope
   along the edge is followed, one that would carry the surface nearer or farther than anything
   seen on the far side is not).
2. The *occluder* is the connected set of vertices, reached from the near side of a cut, that stand in
   front of that continued surface by more than half the edge threshold: the whole foreground object,
   up to where it meets the surface behind it again (the foot of a cup on a table, the other side of a
   pole), however wide, up to `reach` pixels from the far side.
3. Behind the occluder the layer takes the continued surface (smoothed, always behind the occluder).
   Where occluders are nested (a cup in front of a saucer in front of a table), the continued surfaces
   of their far sides meet at new depth edges inside the layer: the next pass peels again, behind
   those. Each pass gives one layer; `max_layers` passes at most.

Every layer is cut at its own depth edges like the photo's surface, so no layer joins two depths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dioramic.scene.lattice import Lattice, cut_edges

__all__ = ["FillLayer", "Reach", "far_side_vertices", "hidden_cuts", "near_side_vertices", "peel_layers"]

_FRONT = 0.5  # an occluder stands this fraction of the edge threshold in front of the surface behind
_SLOPE_SIGMA = 1.5  # cells: smoothing of the far side's slope
_RANGE_CELLS = 4  # the continued surface stays within the far side's depths within this many cells
_FILL_SIGMA = 1.5  # cells: smoothing of the continued surface behind the occluder ...
_FILL_SIGMA_WIDE = 8.0  # ... and deeper behind it, away from seams
_BEHIND = 0.25  # the layer stays this fraction of the edge threshold behind the occluder
_SEAM = 3.0  # a fill and its far side join uncut within this multiple of the edge threshold
_HIDDEN_EDGE = 3.0  # a hidden layer is cut where it jumps by this multiple of the edge threshold: it
# is continued, not measured, and a small step in it is no edge of the scene (a tear there opens a hole)


@dataclass(frozen=True)
class FillLayer:
    """One layer of rebuilt surface behind occluders."""

    z: np.ndarray
    """(h, w) float64 inverse depth (1/m) of the layer's surface: the continued surface inside
    `region`, the surface in front of it (the previous layer) elsewhere."""
    region: np.ndarray
    """(h, w) bool: the vertices the layer rebuilds (the occluders it reaches behind)."""
    cut_x: np.ndarray
    """(h, w - 1) bool: cut edges of `z` between columns."""
    cut_y: np.ndarray
    """(h - 1, w) bool: cut edges of `z` between rows."""
    occluder: np.ndarray
    """(h, w) bool: the occluders the layer was rebuilt behind (`region` and their parts beyond it)."""


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


def near_side_vertices(z: np.ndarray, cut_x: np.ndarray, cut_y: np.ndarray) -> np.ndarray:
    """(h, w) bool: the nearer end of every cut lattice edge."""
    near = np.zeros(z.shape, bool)
    left_far = z[:, :-1] < z[:, 1:]
    near[:, :-1] |= cut_x & ~left_far
    near[:, 1:] |= cut_x & left_far
    top_far = z[:-1, :] < z[1:, :]
    near[:-1, :] |= cut_y & ~top_far
    near[1:, :] |= cut_y & top_far
    return near


def _slopes(
    u: np.ndarray, v: np.ndarray, z: np.ndarray, cut_x: np.ndarray, cut_y: np.ndarray
) -> tuple[np.ndarray, ...]:
    """(h, w) slopes dz/du and dz/dv per vertex, from uncut edges only, averaged over a few cells."""
    import cv2

    size = 2 * round(_SLOPE_SIGMA) + 1
    out = []
    for slope, ok, axis in (
        (np.diff(z, axis=1) / np.diff(u)[None, :], ~cut_x, 1),
        (np.diff(z, axis=0) / np.diff(v)[:, None], ~cut_y, 0),
    ):
        value = np.where(ok, slope, 0.0).astype(np.float32)
        weight = ok.astype(np.float32)
        # edge values onto vertices: the mean of the (uncut) edges on either side
        pad = [(0, 0), (0, 0)]
        pad[axis] = (1, 1)
        value, weight = np.pad(value, pad), np.pad(weight, pad)
        lo = [slice(None), slice(None)]
        hi = [slice(None), slice(None)]
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        val = value[tuple(lo)] + value[tuple(hi)]
        wgt = weight[tuple(lo)] + weight[tuple(hi)]
        val = cv2.boxFilter(val, -1, (size, size), normalize=False, borderType=cv2.BORDER_REPLICATE)
        wgt = cv2.boxFilter(wgt, -1, (size, size), normalize=False, borderType=cv2.BORDER_REPLICATE)
        out.append(np.where(wgt > 1e-3, val / np.maximum(wgt, 1e-3), 0.0).astype(np.float64))
    return out[0], out[1]


def _surface_range(
    z: np.ndarray, cut_x: np.ndarray, cut_y: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """(h, w) least and greatest `z` within `steps` uncut lattice edges of each vertex: the depths its
    own surface shows around it (a cut separates it from the other side of an edge)."""
    lo, hi = z.copy(), z.copy()
    for _ in range(steps):
        new_lo, new_hi = lo.copy(), hi.copy()
        for cut, a, b in ((cut_x, np.s_[:, :-1], np.s_[:, 1:]), (cut_y, np.s_[:-1, :], np.s_[1:, :])):
            ok = ~cut
            for mine, other in ((a, b), (b, a)):
                new_lo[mine] = np.where(ok, np.minimum(new_lo[mine], lo[other]), new_lo[mine])
                new_hi[mine] = np.where(ok, np.maximum(new_hi[mine], hi[other]), new_hi[mine])
        lo, hi = new_lo, new_hi
    return lo, hi


def _spacing(lattice: Lattice) -> tuple[float, float]:
    h, w = lattice.z.shape
    return (
        float(lattice.v[-1] - lattice.v[0]) / max(1, h - 1),
        float(lattice.u[-1] - lattice.u[0]) / max(1, w - 1),
    )


def _median_within(values: np.ndarray, inside: np.ndarray, passes: int = 2) -> np.ndarray:
    """`values` (h, w) with the vertices of `inside` replaced by their 5 x 5 median, `passes` times."""
    import cv2

    out = values.astype(np.float32)
    for _ in range(passes):
        out = np.where(inside, cv2.medianBlur(out, 5), out)
    return out.astype(np.float64)


def _smooth_within(values: np.ndarray, inside: np.ndarray, context: np.ndarray, sigma: float) -> np.ndarray:
    """`values` blurred over the vertices of `inside | context` only (normalised convolution)."""
    import cv2

    weight = (inside | context).astype(np.float32)
    num = cv2.GaussianBlur(
        (values * weight).astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE
    )
    den = cv2.GaussianBlur(weight, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
    return np.where(den > 1e-4, num / np.maximum(den, 1e-4), values).astype(np.float64)


def _edges(z: np.ndarray, cut_x: np.ndarray, cut_y: np.ndarray, spacing) -> tuple[np.ndarray, ...]:
    """Uncut lattice edges as (a, b, length) over flat vertex ids."""
    h, w = z.shape
    ids = np.arange(h * w).reshape(h, w)
    a = np.concatenate([ids[:, :-1][~cut_x], ids[:-1, :][~cut_y]])
    b = np.concatenate([ids[:, 1:][~cut_x], ids[1:, :][~cut_y]])
    length = np.concatenate(
        [np.full(int((~cut_x).sum()), spacing[1]), np.full(int((~cut_y).sum()), spacing[0])]
    )
    return a, b, length


def _partners(z: np.ndarray, cut_x: np.ndarray, cut_y: np.ndarray, near: np.ndarray) -> np.ndarray:
    """(h, w) int64: for each near-side vertex, the flat id of its nearest far neighbour across a cut."""
    h, w = z.shape
    ids = np.arange(h * w).reshape(h, w)
    best = np.full((h, w), -1, np.int64)
    best_z = np.full((h, w), -np.inf)
    for cut, sl_a, sl_b in (
        (cut_x, np.s_[:, :-1], np.s_[:, 1:]),
        (cut_y, np.s_[:-1, :], np.s_[1:, :]),
    ):
        for mine, other in ((sl_a, sl_b), (sl_b, sl_a)):
            zo = z[other]
            take = cut & (zo < z[mine]) & (zo > best_z[mine])
            best_z[mine] = np.where(take, zo, best_z[mine])
            best[mine] = np.where(take, ids[other], best[mine])
    return np.where(near, best, -1)


@dataclass(frozen=True)
class Reach:
    """How far behind a depth edge the allowed camera moves can look, in pixels: the parallax they open
    between a vertex of inverse depth z and the surface of inverse depth z_behind hidden behind it,
    ``safety * (lateral + r * axial) * (z - z_behind) + extra``, r the distance from the image centre
    (a move along the view axis opens a cut in proportion to it)."""

    lateral: float
    """Pixels per unit of inverse depth of the largest sideways move (focal length times the move)."""
    axial: float
    """Per unit of inverse depth of the largest move along the view axis (metres)."""
    centre: tuple[float, float]
    """The image centre (cx, cy), pixels."""
    extra: float
    """Pixels always added (the silhouettes' width, rounding)."""
    safety: float = 1.1

    def __call__(self, z: np.ndarray, behind: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        r = np.hypot(u - self.centre[0], v - self.centre[1])
        return self.safety * (self.lateral + r * self.axial) * np.maximum(z - behind, 0.0) + self.extra


def _box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The bounding box of `mask` (h, w) grown by `margin` vertices, clipped to the array."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    h, w = mask.shape
    return (
        slice(max(0, rows[0] - margin), min(h, rows[-1] + margin + 1)),
        slice(max(0, cols[0] - margin), min(w, cols[-1] + margin + 1)),
    )


def _peel_once(
    lattice: Lattice,
    z_all: np.ndarray,
    cuts: tuple[np.ndarray, np.ndarray],
    threshold: float,
    reach: Reach,
    seeds_in: np.ndarray | None,
) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray, np.ndarray] | None:
    """One pass: (box, region, continued inverse depth, occluder mask) within the box of the lattice
    it touches, or None when nothing is hidden."""
    import cv2
    from scipy import ndimage, sparse
    from scipy.sparse.csgraph import dijkstra

    near_all = near_side_vertices(z_all, *cuts)
    if seeds_in is not None:
        near_all &= seeds_in
    if not near_all.any():
        return None
    spacing = _spacing(lattice)
    cell = max(spacing)
    # the farthest any vertex may be rebuilt behind (the reach of the largest jump), and the box of
    # the lattice within that of a seed (plus room for smoothing)
    partner_all = _partners(z_all, *cuts, near_all)
    near_all &= partner_all >= 0  # (a cut between equal depths has no nearer end)
    if not near_all.any():
        return None
    sy, sx = np.nonzero(near_all)
    py, px = np.divmod(partner_all[sy, sx], z_all.shape[1])
    # partners within the box (a partner is next to its seed, so inside it too)
    limit = float(np.max(reach(z_all[sy, sx], z_all[py, px], lattice.u[sx], lattice.v[sy])))
    box = _box(near_all, int(np.ceil(limit / min(spacing))) + int(3 * _FILL_SIGMA_WIDE) + 3)
    z = z_all[box]
    cut_x, cut_y = (
        cuts[0][box[0], box[1].start : box[1].stop - 1],
        cuts[1][box[0].start : box[0].stop - 1, box[1]],
    )
    near = near_all[box]
    u, v = lattice.u[box[1]], lattice.v[box[0]]
    h, w = z.shape
    far = far_side_vertices(z, cut_x, cut_y)
    partner = np.full((h, w), -1, np.int64)
    partner[sy - box[0].start, sx - box[1].start] = (py - box[0].start) * w + (px - box[1].start)
    # vertices within `limit` of a seed (straight line: no geodesic is shorter) are the graph's nodes
    seed_free = (~near).astype(np.uint8)
    within = cv2.distanceTransform(seed_free, cv2.DIST_L2, 3) * cell <= limit + cell
    ids = np.full(h * w, -1, np.int64)
    nodes = np.flatnonzero(within)
    ids[nodes] = np.arange(len(nodes))
    a, b, length = _edges(z, cut_x, cut_y, spacing)
    keep = within.ravel()[a] & within.ravel()[b]
    graph = sparse.coo_matrix((length[keep], (ids[a[keep]], ids[b[keep]])), shape=(len(nodes), len(nodes)))
    seed_ids = np.flatnonzero(near)
    found, _, source = dijkstra(
        graph.tocsr(), directed=False, indices=ids[seed_ids], min_only=True, return_predecessors=True,
        limit=limit,
    )  # fmt: skip
    dist = np.full(h * w, np.inf)
    dist[nodes] = found
    origin = np.zeros(h * w, np.int64)
    origin[nodes] = np.where(np.isfinite(found), nodes[np.maximum(source, 0)], seed_ids[0])
    dist = dist.reshape(h, w)
    reached = np.isfinite(dist)
    # the far surface behind each reached vertex: that of its nearest seed's partner, continued
    at = np.flatnonzero(reached)
    anchor = partner.ravel()[origin[at]]
    ay, ax = np.divmod(anchor, w)
    ry, rx = np.divmod(at, w)
    base = z.ravel()[anchor]
    du, dv = u[rx] - u[ax], v[ry] - v[ay]
    slope_u, slope_v = _slopes(u, v, z, cut_x, cut_y)
    ramp = slope_u.ravel()[anchor] * du + slope_v.ravel()[anchor] * dv
    # never nearer nor farther than what the far side shows around the anchor
    lo, hi = _surface_range(z, cut_x, cut_y, _RANGE_CELLS)
    behind = z.copy()
    behind.ravel()[at] = np.clip(base + ramp, lo.ravel()[anchor], hi.ravel()[anchor])
    partner_z = z.copy()
    partner_z.ravel()[at] = base
    # in front of the far side continued, or in front of the far side's own depth where the
    # continuation (a steep floor, say) climbs nearer before it meets the occluder's foot
    ahead = (z > behind * (1.0 + _FRONT * threshold)) | (z > partner_z * (1.0 + _FRONT * threshold))
    front = reached & (ahead | near)
    labels, count = ndimage.label(front & ~far | near)
    seeded = np.zeros(count + 1, bool)
    seeded[labels[near]] = True
    seeded[0] = False
    occluder = seeded[labels] & front
    region = occluder & (dist <= reach(z, np.minimum(behind, partner_z), u[None, :], v[:, None]))
    if not region.any():
        return None
    # the far sides of a noisy edge disagree from vertex to vertex: a median keeps the surfaces that
    # really differ (a saucer and the table behind it) apart and drops the noise; then a light
    # smoothing, all within the region's box
    part = _box(region, int(3 * _FILL_SIGMA_WIDE) + 3)
    steady = _median_within(behind[part], (region | far)[part])
    smooth = _smooth_within(steady, region[part], far[part], _FILL_SIGMA)
    smooth = np.where(np.abs(smooth - steady) > threshold * steady, steady, smooth)  # seams stay sharp
    # deeper behind the occluder smoother still, except across a seam between two surfaces (where
    # the wide average departs from the local one): the seam stays for the next pass to peel
    wide = _smooth_within(steady, region[part], far[part], _FILL_SIGMA_WIDE)
    seam = np.abs(wide - smooth) > threshold * smooth
    deep = np.clip(dist[part] / (_FILL_SIGMA_WIDE * cell), 0.0, 1.0) * ~seam
    smooth = deep * wide + (1.0 - deep) * smooth
    fill = z.copy()
    fill[part] = np.minimum(smooth, z[part] / (1.0 + _BEHIND * threshold))
    return box, region, fill, occluder


def hidden_cuts(
    z: np.ndarray, u: np.ndarray, v: np.ndarray, region: np.ndarray, occluder: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cut edges of a hidden layer of inverse depth `z` (h, w): its depth edges (jumps of `_HIDDEN_EDGE`
    times the edge threshold), except where the
    rebuilt `region` meets the surface it continues (vertices off the `occluder`, within `_SEAM`
    times the edge threshold of the fill): that seam joins a fill to its own far side, and a tear
    there would open onto nothing."""
    limit = _HIDDEN_EDGE * threshold
    cut_x, cut_y = cut_edges(z, u, v, limit)
    # where it jumps itself (the slope test alone also cuts an even edge between two jumps)
    cut_x &= np.abs(np.diff(z, axis=1)) > limit * np.minimum(z[:, 1:], z[:, :-1])
    cut_y &= np.abs(np.diff(z, axis=0)) > limit * np.minimum(z[1:, :], z[:-1, :])
    context = ~occluder
    close_x = np.abs(np.diff(z, axis=1)) <= _SEAM * threshold * np.minimum(z[:, 1:], z[:, :-1])
    close_y = np.abs(np.diff(z, axis=0)) <= _SEAM * threshold * np.minimum(z[1:, :], z[:-1, :])
    cut_x &= ~(((region[:, :-1] & context[:, 1:]) | (context[:, :-1] & region[:, 1:])) & close_x)
    cut_y &= ~(((region[:-1, :] & context[1:, :]) | (context[:-1, :] & region[1:, :])) & close_y)
    return cut_x, cut_y


def peel_layers(
    lattice: Lattice,
    cut_x: np.ndarray,
    cut_y: np.ndarray,
    threshold: float,
    reach: Reach,
    max_layers: int = 3,
) -> list[FillLayer]:
    """The layers behind the lattice's surface, nearest first (see the module docstring).

    Parameters
    ----------
    lattice, cut_x, cut_y
        The photo's surface on the vertex lattice and its cut edges.
    threshold
        The edge threshold (relative depth) the cuts were found with.
    reach
        How far behind a depth edge a layer rebuilds the surface (`Reach`): the largest parallax the
        allowed camera moves can open there.
    max_layers
        Passes at most (each pass one layer).
    """
    from scipy import ndimage

    layers: list[FillLayer] = []
    z = lattice.z
    seeds = None
    for _ in range(max_layers):
        peeled = _peel_once(lattice, z, (cut_x, cut_y), threshold, reach, seeds)
        if peeled is None:
            break
        box, part, fill, part_occluder = peeled
        region = np.zeros(z.shape, bool)
        region[box] = part
        occluder = np.zeros(z.shape, bool)
        occluder[box] = part_occluder
        z = z.copy()
        z[box] = np.where(part, fill, z[box])
        # outside the box the layer is the surface in front of it, cut as that was
        grown = (
            slice(max(0, box[0].start - 3), min(z.shape[0], box[0].stop + 3)),
            slice(max(0, box[1].start - 3), min(z.shape[1], box[1].stop + 3)),
        )
        part_x, part_y = hidden_cuts(
            z[grown], lattice.u[grown[1]], lattice.v[grown[0]], region[grown], occluder[grown], threshold
        )
        cut_x, cut_y = cut_x.copy(), cut_y.copy()
        cut_x[grown[0], grown[1].start : grown[1].stop - 1] = part_x
        cut_y[grown[0].start : grown[0].stop - 1, grown[1]] = part_y
        layers.append(FillLayer(z=z, region=region, cut_x=cut_x, cut_y=cut_y, occluder=occluder))
        # the next pass peels only behind the depth edges inside this layer (where fills of
        # different surfaces meet), not further into the occluders
        seeds = ndimage.binary_erosion(region, iterations=1)
    return layers
