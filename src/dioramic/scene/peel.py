"""Layers behind the photo's surface: what each depth edge hides is rebuilt by peeling, far side first.

The photo shows one surface; a moving camera looks past the near side of every depth edge (a cut of
the lattice, `dioramic.scene.lattice`) at what lies behind it. `peel_layers` builds that hidden
surface as a stack of layers, like a layered depth image, on the mesh's vertex lattice:

1. Every cut has a far side and a near side. From each far-side vertex the far surface is continued
   under the near side: a vertex takes the inverse depth of its nearest far-side vertex, continued
   along that surface's own slope (in inverse depth, where planes are affine in the image; the slope
   is measured on the far side only, and trusted over a limited distance).
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

__all__ = ["FillLayer", "far_side_vertices", "hidden_cuts", "near_side_vertices", "peel_layers"]

_FRONT = 0.5  # an occluder stands this fraction of the edge threshold in front of the surface behind
_SLOPE_SIGMA = 1.5  # cells: smoothing of the far side's slope
_SLOPE_REACH = 0.04  # the far side's slope is followed this fraction of the long side, then held
_FILL_SIGMA = 1.5  # cells: smoothing of the continued surface where it meets the far side
_FILL_SIGMA_WIDE = 8.0  # cells: smoothing of the continued surface deeper behind the occluder
_BEHIND = 0.25  # the layer stays this fraction of the edge threshold behind the occluder


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


def _slopes(lattice: Lattice, z: np.ndarray, cut_x: np.ndarray, cut_y: np.ndarray) -> tuple[np.ndarray, ...]:
    """(h, w) slopes dz/du and dz/dv per vertex, from uncut edges only, smoothed over a few cells."""
    import cv2

    du = np.diff(lattice.u)[None, :]
    dv = np.diff(lattice.v)[:, None]
    out = []
    for slope, ok, axis in (
        (np.diff(z, axis=1) / du, ~cut_x, 1),
        (np.diff(z, axis=0) / dv, ~cut_y, 0),
    ):
        value = np.where(ok, slope, 0.0)
        weight = ok.astype(np.float64)
        # edge values onto vertices: the mean of the (uncut) edges on either side
        pad = [(0, 0), (0, 0)]
        pad[axis] = (1, 1)
        value, weight = np.pad(value, pad), np.pad(weight, pad)
        lo = [slice(None), slice(None)]
        hi = [slice(None), slice(None)]
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        v = (value[tuple(lo)] + value[tuple(hi)]).astype(np.float32)
        w = (weight[tuple(lo)] + weight[tuple(hi)]).astype(np.float32)
        v = cv2.GaussianBlur(v, (0, 0), _SLOPE_SIGMA, borderType=cv2.BORDER_REPLICATE)
        w = cv2.GaussianBlur(w, (0, 0), _SLOPE_SIGMA, borderType=cv2.BORDER_REPLICATE)
        out.append(np.where(w > 1e-3, v / np.maximum(w, 1e-3), 0.0).astype(np.float64))
    return out[0], out[1]


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


def _peel_once(
    lattice: Lattice,
    z: np.ndarray,
    cut_x: np.ndarray,
    cut_y: np.ndarray,
    threshold: float,
    reach,
    seeds_in: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """One pass: (region, continued inverse depth, occluder mask) or None when nothing is hidden."""
    from scipy import ndimage, sparse
    from scipy.sparse.csgraph import dijkstra

    h, w = z.shape
    near = near_side_vertices(z, cut_x, cut_y)
    if seeds_in is not None:
        near &= seeds_in
    if not near.any():
        return None
    far = far_side_vertices(z, cut_x, cut_y)
    partner = _partners(z, cut_x, cut_y, near)
    spacing = _spacing(lattice)
    slope_u, slope_v = _slopes(lattice, z, cut_x, cut_y)
    # the farthest any vertex may be rebuilt behind: the reach of the largest jump
    seed_ids = np.flatnonzero(near)
    far_ids = partner.ravel()[seed_ids]
    limit = float(np.max(reach(z.ravel()[seed_ids], z.ravel()[far_ids])))
    a, b, length = _edges(z, cut_x, cut_y, spacing)
    graph = sparse.coo_matrix((length, (a, b)), shape=(h * w, h * w)).tocsr()
    dist, _, source = dijkstra(
        graph, directed=False, indices=seed_ids, min_only=True, return_predecessors=True, limit=limit
    )
    reached = np.isfinite(dist).reshape(h, w)
    source = np.where(reached.ravel(), source, seed_ids[0])
    anchor = partner.ravel()[source]  # the far vertex behind each vertex's nearest seed
    ay, ax = np.divmod(anchor, w)
    base = z.ravel()[anchor].reshape(h, w)
    du = lattice.u[None, :] - lattice.u[ax].reshape(h, w)
    dv = lattice.v[:, None] - lattice.v[ay].reshape(h, w)
    span = np.hypot(du, dv)
    trust = np.minimum(1.0, _SLOPE_REACH * max(lattice.width, lattice.height) / np.maximum(span, 1e-9))
    ramp = (slope_u.ravel()[anchor].reshape(h, w) * du + slope_v.ravel()[anchor].reshape(h, w) * dv) * trust
    behind = np.clip(base + ramp, 0.5 * base, 2.0 * base)
    front = reached & ((z > behind * (1.0 + _FRONT * threshold)) | near)
    labels, count = ndimage.label(front & ~far | near)
    seeded = np.zeros(count + 1, bool)
    seeded[labels[near]] = True
    seeded[0] = False
    occluder = seeded[labels] & front
    region = occluder & (dist.reshape(h, w) <= reach(z, behind))
    if not region.any():
        return None
    # smooth inside the region (wide), exact where it meets the far side (narrow)
    cell = max(spacing)
    geodesic = dist.reshape(h, w)
    # the far sides of a noisy edge disagree from vertex to vertex: a median keeps the surfaces that
    # really differ (a saucer and the table behind it) apart and drops the noise
    steady = _median_within(behind, region | far)
    fine = _smooth_within(steady, region, far, _FILL_SIGMA)
    coarse = _smooth_within(steady, region, far, _FILL_SIGMA_WIDE)
    blend = np.clip(geodesic / (_FILL_SIGMA_WIDE * cell), 0.0, 1.0)
    fill = blend * coarse + (1.0 - blend) * fine
    fill = np.minimum(fill, z / (1.0 + _BEHIND * threshold))
    return region, fill, occluder


def hidden_cuts(
    z: np.ndarray, u: np.ndarray, v: np.ndarray, region: np.ndarray, occluder: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cut edges of a hidden layer of inverse depth `z` (h, w): its depth edges, except where the
    rebuilt `region` meets the surface it continues (vertices off the `occluder`): that seam joins a
    fill to its own far side, and a tear there would open onto nothing."""
    cut_x, cut_y = cut_edges(z, u, v, threshold)
    context = ~occluder
    cut_x &= ~((region[:, :-1] & context[:, 1:]) | (context[:, :-1] & region[:, 1:]))
    cut_y &= ~((region[:-1, :] & context[1:, :]) | (context[:-1, :] & region[1:, :]))
    return cut_x, cut_y


def peel_layers(
    lattice: Lattice,
    cut_x: np.ndarray,
    cut_y: np.ndarray,
    threshold: float,
    reach,
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
        ``reach(z, z_behind)`` -> (h, w) pixels: how far behind a depth edge a layer rebuilds the
        surface, for vertices of inverse depth z in front of a surface of inverse depth z_behind:
        the largest parallax the allowed camera moves can open there.
    max_layers
        Passes at most (each pass one layer).
    """
    from scipy import ndimage

    layers: list[FillLayer] = []
    z = lattice.z
    seeds = None
    for _ in range(max_layers):
        peeled = _peel_once(lattice, z, cut_x, cut_y, threshold, reach, seeds)
        if peeled is None:
            break
        region, fill, occluder = peeled
        z = np.where(region, fill, z)
        cut_x, cut_y = hidden_cuts(z, lattice.u, lattice.v, region, occluder, threshold)
        layers.append(FillLayer(z=z, region=region, cut_x=cut_x, cut_y=cut_y, occluder=occluder))
        # the next pass peels only behind the depth edges inside this layer (where fills of
        # different surfaces meet), not further into the occluders
        seeds = ndimage.binary_erosion(region, iterations=1)
    return layers
