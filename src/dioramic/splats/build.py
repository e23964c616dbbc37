"""Splats from the textured meshes of a `Scene`: one flat Gaussian per texel-sized piece of every layer.

Every triangle is rasterised in its texture: each texel whose centre falls inside the triangle's
texture coordinates gives one splat, at the 3D point with the same barycentric coordinates (where
OpenGL, and so our renderer, draws that texel), with the texel's colour and alpha. A texel shared by
two triangles (on their common edge) gives one splat. A piece is one texel, or, when the layers hold
more texels than `max_splats`, a block of texels (the textures are area-averaged down until they fit;
a reconstruction's backdrop sphere gives up texels first, see `splats_from_scene`).

Shape: a triangle maps its texture affinely onto its plane, so one texel step along the texture's x
and y is a pair of 3D vectors ``a`` and ``b`` in that plane. A splat's covariance is
``SIGMA**2 * (a a^T + b b^T)`` in the plane (an ellipse the shape of the texel's footprint, however the
surface is tilted or the atlas scaled) and `FLAT` of its smaller axis along the normal. With
``SIGMA = 0.65`` a piece's neighbours overlap it so that 1.7 % of what lies behind a layer shows through
it in 3D (3 % at 0.6, 0.8 % at 0.7), and less on screen, where every 3DGS renderer widens a splat by
0.3 px^2: the surface is closed from every view, the moves the scene is built for included, and a
layer's cuts stay open, as they are in the meshes. Wider splats blur: Spark's frames of the demo photo
have SSIM 0.90 against ours at 0.7, 0.93 at 0.6. Opacity is the texel's alpha turned
into the peak opacity that gives that coverage where the splats overlap (`opacity_for_alpha`); fully
transparent texels give no splat.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np

from dioramic.errors import UsageError
from dioramic.splats import Splats
from dioramic.types import Mesh, Scene

log = logging.getLogger(__name__)

SIGMA = 0.65
"""Standard deviation of a splat along the surface, in pieces (texel steps)."""
FLAT = 0.02
"""Standard deviation along the normal, as a fraction of the smaller one along the surface."""
MAX_OPACITY = 0.99
"""Peak opacity of an opaque piece (3DGS renderers clamp a splat's alpha at 0.99)."""
_CANDIDATES = 1 << 21
"""Texel centres tested at once (memory: about 100 bytes each)."""
_LARGEST_TRIANGLE = 1 << 16
"""Triangles whose texel bounding box is larger are split in four (exactly: the map is affine)."""
BACKDROP = "background"
"""The name `dioramic.reconstruct.run` gives a reconstruction's backdrop sphere."""
BACKDROP_KEEPS = 0.25
"""The backdrop keeps at least this fraction of its texels as splats before other layers give any up."""


@functools.cache
def _coverage_table(sigma: float = SIGMA, samples: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(peak opacities, mean coverage): what share of a surface a square lattice of Gaussians with
    that peak opacity and standard deviation `sigma` (lattice steps) hides, averaged over a cell."""
    grid = (np.arange(8) + 0.5) / 8
    px, py = np.meshgrid(grid, grid)
    offsets = np.arange(-3, 5)
    ox, oy = np.meshgrid(offsets, offsets)
    d2 = (px.ravel()[:, None] - ox.ravel()[None, :]) ** 2 + (py.ravel()[:, None] - oy.ravel()[None, :]) ** 2
    weights = np.exp(-0.5 * d2 / sigma**2)  # (points, neighbours)
    peaks = np.linspace(0.0, MAX_OPACITY, samples)
    coverage = np.array([1.0 - np.prod(1.0 - p * weights, axis=1).mean() for p in peaks])
    return peaks, coverage


def opacity_for_alpha(alpha: np.ndarray) -> np.ndarray:
    """Peak opacities (float32) that make overlapping splats cover a surface as much as `alpha`
    (0..1) says; `MAX_OPACITY` for alpha 1.

    >>> [round(float(o), 3) for o in opacity_for_alpha(np.array([0.0, 1.0]))]
    [0.0, 0.99]
    >>> bool(opacity_for_alpha(np.array([0.5]))[0] < 0.5)  # neighbours overlap: less each
    True
    """
    if alpha.size and alpha.min() >= 1.0:
        return np.full(alpha.shape, MAX_OPACITY, np.float32)
    peaks, coverage = _coverage_table()
    opacity = np.interp(alpha, coverage, peaks)
    return np.where(alpha >= 1.0, MAX_OPACITY, opacity).astype(np.float32)


def texel_count(mesh: Mesh) -> float:
    """Texels of `mesh.texture` its triangles cover (their area in texture coordinates)."""
    height, width = mesh.texture.shape[:2]
    uv = mesh.uvs.astype(np.float64)[mesh.faces.astype(np.int64)] * (width, height)
    e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    return float(0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).sum())


def downsampled(texture: np.ndarray, factor: float) -> np.ndarray:
    """`texture` area-averaged to 1 / `factor` of its size (alpha-weighted colours for RGBA)."""
    if factor <= 1.0:
        return texture
    import cv2

    height, width = texture.shape[:2]
    size = (max(1, round(width / factor)), max(1, round(height / factor)))
    if texture.shape[2] == 3:
        return cv2.resize(np.ascontiguousarray(texture), size, interpolation=cv2.INTER_AREA)
    alpha = texture[:, :, 3:].astype(np.float32) / 255.0
    premultiplied = np.dstack([texture[:, :, :3].astype(np.float32) * alpha, alpha[:, :, 0] * 255.0])
    small = cv2.resize(premultiplied, size, interpolation=cv2.INTER_AREA)
    a = small[:, :, 3] / 255.0
    rgb = small[:, :, :3] / np.maximum(a, 1e-6)[:, :, None]
    return np.clip(np.dstack([rgb, small[:, :, 3]]) + 0.5, 0, 255).astype(np.uint8)


def _split_large(corners: np.ndarray, uv: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Split triangles (corners (M, 3, 3), texel positions (M, 3, 2)) whose texel bounding box holds
    more than `limit` texels into four at their edges' midpoints, until none does."""
    while True:
        extent = uv.max(axis=1) - uv.min(axis=1)
        large = (extent[:, 0] + 1) * (extent[:, 1] + 1) > limit
        if not large.any():
            return corners, uv
        parts_c, parts_t = [corners[~large]], [uv[~large]]
        for array, parts in ((corners[large], parts_c), (uv[large], parts_t)):
            a, b, c = array[:, 0], array[:, 1], array[:, 2]
            ab, bc, ca = (a + b) / 2, (b + c) / 2, (c + a) / 2
            for tri in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca)):
                parts.append(np.stack(tri, axis=1))
        corners, uv = np.concatenate(parts_c), np.concatenate(parts_t)


def _frames(
    corners: np.ndarray, uv: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per triangle: whether it is usable, the rotation (M, 3, 3) whose columns are the footprint's
    principal axes and the normal, the footprint's standard deviations (M, 2) along those axes for one
    texel (before `SIGMA`), the unit normal (M, 3), and the 3D steps (M, 2, 3) of one texel along the
    texture's x and y."""
    e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    big_e1, big_e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    normal = np.cross(big_e1, big_e2)
    area = np.linalg.norm(normal, axis=1)
    scale = np.maximum(np.abs(big_e1).max(axis=1), np.abs(big_e2).max(axis=1))
    usable = (np.abs(det) > 1e-9) & (area > 1e-12 * np.maximum(scale, 1e-30) ** 2)
    det = np.where(usable, det, 1.0)
    normal = normal / np.where(usable, area, 1.0)[:, None]
    # one texel step along the texture's x and y, in 3D: the columns of [E1 E2] inv([e1 e2])
    a = (big_e1 * e2[:, 1:2] - big_e2 * e1[:, 1:2]) / det[:, None]
    b = (big_e2 * e1[:, 0:1] - big_e1 * e2[:, 0:1]) / det[:, None]
    length = np.linalg.norm(a, axis=1)
    usable &= length > 0
    t1 = a / np.where(length > 0, length, 1.0)[:, None]
    t2 = np.cross(normal, t1)
    a1, a2 = (a * t1).sum(axis=1), (a * t2).sum(axis=1)
    b1, b2 = (b * t1).sum(axis=1), (b * t2).sum(axis=1)
    c11, c22, c12 = a1 * a1 + b1 * b1, a2 * a2 + b2 * b2, a1 * a2 + b1 * b2
    theta = 0.5 * np.arctan2(2 * c12, c11 - c22)
    mid, radius = 0.5 * (c11 + c22), np.hypot(0.5 * (c11 - c22), c12)
    stds = np.sqrt(np.stack([mid + radius, np.maximum(mid - radius, 0.0)], axis=1))
    cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
    p1, p2 = cos * t1 + sin * t2, cos * t2 - sin * t1
    rotation = np.stack([p1, p2, normal], axis=2)
    usable &= stds[:, 1] > 0
    return usable, rotation, stds, normal, np.stack([a, b], axis=1)


def quaternions(rotation: np.ndarray) -> np.ndarray:
    """(M, 4) unit quaternions w, x, y, z (w >= 0) of (M, 3, 3) rotation matrices.

    >>> quaternions(np.eye(3)[None]).tolist()
    [[1.0, 0.0, 0.0, 0.0]]
    >>> turn = np.array([[[1.0, 0, 0], [0, -1, 0], [0, 0, -1]]])  # 180 degrees about X
    >>> quaternions(turn).round(6).tolist()
    [[0.0, 1.0, 0.0, 0.0]]
    """
    m = rotation
    trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    candidates = np.stack(
        [
            np.stack([1 + trace, m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0],
                      m[:, 1, 0] - m[:, 0, 1]], 1),
            np.stack([m[:, 2, 1] - m[:, 1, 2], 1 + 2 * m[:, 0, 0] - trace, m[:, 0, 1] + m[:, 1, 0],
                      m[:, 0, 2] + m[:, 2, 0]], 1),
            np.stack([m[:, 0, 2] - m[:, 2, 0], m[:, 0, 1] + m[:, 1, 0], 1 + 2 * m[:, 1, 1] - trace,
                      m[:, 1, 2] + m[:, 2, 1]], 1),
            np.stack([m[:, 1, 0] - m[:, 0, 1], m[:, 0, 2] + m[:, 2, 0], m[:, 1, 2] + m[:, 2, 1],
                      1 + 2 * m[:, 2, 2] - trace], 1),
        ],
        axis=1,
    )  # fmt: skip
    # the candidate with the largest diagonal term is the best conditioned (Shepperd's method)
    diagonal = np.stack([trace, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    q = candidates[np.arange(len(m)), diagonal.argmax(axis=1)]
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.where(q[:, :1] < 0, -q, q)


def _edge_crossings(uv: np.ndarray, tri: np.ndarray, yc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the row y = `yc` enters and leaves triangle `tri` (texel positions `uv` (M, 3, 2)): the
    two crossings of its edges, each edge taken half-open in y (its lower end in, its upper out) and
    computed from its ends in one order, so that two triangles sharing an edge agree bit for bit."""
    left = np.full(len(tri), np.inf)
    right = np.full(len(tri), -np.inf)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        p, q = uv[tri, i], uv[tri, j]
        swap = (q[:, 1] < p[:, 1]) | ((q[:, 1] == p[:, 1]) & (q[:, 0] < p[:, 0]))
        low = np.where(swap[:, None], q, p)
        high = np.where(swap[:, None], p, q)
        active = (low[:, 1] <= yc) & (yc < high[:, 1])
        dy = np.where(active, high[:, 1] - low[:, 1], 1.0)
        x = low[:, 0] + (yc - low[:, 1]) * (high[:, 0] - low[:, 0]) / dy
        left = np.where(active, np.minimum(left, x), left)
        right = np.where(active, np.maximum(right, x), right)
    return left, right


def rotation_matrices(quaternions: np.ndarray) -> np.ndarray:
    """(M, 3, 3) rotation matrices of (M, 4) unit quaternions w, x, y, z (the inverse of `quaternions`).

    >>> rotation_matrices(np.array([[0.0, 1.0, 0.0, 0.0]])).round(6).tolist()[0]
    [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]]
    """
    w, x, y, z = np.asarray(quaternions, dtype=np.float64).T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=1),
        ],
        axis=1,
    )


def _covered_texels(uv: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For triangles with texel positions `uv` (M, 3, 2): the triangle index, texel column and texel
    row (K,) of every texel whose centre is inside a triangle, by the half-open rule of rasterisers
    (a centre on an edge shared by two triangles belongs to one of them): each texel once where the
    triangles do not overlap."""
    first = np.clip(np.ceil(uv[:, :, 1].min(axis=1) - 0.5), 0, height).astype(np.int64)
    last = np.clip(np.ceil(uv[:, :, 1].max(axis=1) - 0.5), 0, height).astype(np.int64)  # exclusive
    rows = last - first
    ends = np.cumsum(rows)
    out_tri, out_x, out_y = [], [], []
    start = 0
    while start < len(uv):
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + _CANDIDATES // 8, side="right")))
        tri = np.repeat(np.arange(start, stop), rows[start:stop])
        y = (
            first[tri]
            + np.arange(len(tri))
            - np.repeat(ends[start:stop] - rows[start:stop] - base, rows[start:stop])
        )
        left, right = _edge_crossings(uv, tri, y + 0.5)
        x0 = np.clip(np.ceil(left - 0.5), 0, width).astype(np.int64)
        x1 = np.clip(np.ceil(right - 0.5), 0, width).astype(np.int64)  # exclusive
        span = np.maximum(x1 - x0, 0)
        offsets = np.cumsum(span) - span
        out_tri.append(np.repeat(tri, span))
        out_y.append(np.repeat(y, span))
        out_x.append(np.repeat(x0 - offsets, span) + np.arange(int(span.sum())))
        start = stop
    if not out_tri:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_tri), np.concatenate(out_x), np.concatenate(out_y)


def mesh_splats(mesh: Mesh, texture: np.ndarray) -> Splats:
    """One splat per texel of `texture` (the mesh's texture, or a smaller copy of it) its triangles
    cover; see the module docstring."""
    height, width = texture.shape[:2]
    faces = mesh.faces.astype(np.int64)
    corners = mesh.vertices.astype(np.float64)[faces]
    uv = mesh.uvs.astype(np.float64)[faces] * (width, height)
    corners, uv = _split_large(corners, uv, _LARGEST_TRIANGLE)
    usable, rotation, stds, normal, steps = _frames(corners, uv)
    corners, uv = corners[usable], uv[usable]
    rotation, stds, normal, steps = rotation[usable], stds[usable], normal[usable], steps[usable]
    tri, x, y = _covered_texels(uv, width, height)
    texel = texture[y, x]
    if texture.shape[2] == 4:
        alpha = texel[:, 3] / 255.0
        visible = alpha > 0
        tri, x, y, texel, alpha = tri[visible], x[visible], y[visible], texel[visible], alpha[visible]
    else:
        alpha = np.ones(len(texel))
    # the surface is affine in the texture: p = V0 + a (x - u0) + b (y - v0) at texel centre (x, y)
    # everything a splat takes from its triangle, in one table gathered once (float32 is exact
    # enough: a texel is far larger than its rounding error)
    along = SIGMA * stds
    origin = corners[:, 0] - steps[:, 0] * uv[:, 0, 0:1] - steps[:, 1] * uv[:, 0, 1:2]
    table = np.concatenate(
        [origin, steps[:, 0], steps[:, 1], normal, along, FLAT * along[:, 1:2], quaternions(rotation)], axis=1
    ).astype(np.float32)[tri]
    means = table[:, 0:3]
    means += table[:, 3:6] * (x.astype(np.float32) + np.float32(0.5))[:, None]
    means += table[:, 6:9] * (y.astype(np.float32) + np.float32(0.5))[:, None]
    return Splats(
        means=means,
        normals=table[:, 9:12],
        colours=texel[:, :3].astype(np.float32) / np.float32(255.0),
        opacities=opacity_for_alpha(alpha),
        scales=table[:, 12:15],
        rotations=table[:, 15:19],
    )


def splats_from_scene(scene: Scene, max_splats: int) -> Splats:
    """The splats of every layer of `scene` that has triangles, farthest layer first (see the module
    docstring): one per texel, or per block of texels so that there are at most `max_splats`.

    A reconstruction's backdrop sphere (the layer named `BACKDROP`) is a guess painted far away: when
    the layers do not fit the budget, it gives up splats first, down to `BACKDROP_KEEPS` of its texels,
    before the other layers give up any; below that, all give up splats in proportion."""
    if max_splats < 1:
        raise UsageError(f"the splat budget must be at least 1, got {max_splats}")
    meshes = [m for m in scene.meshes if len(m.faces)]
    back = [m for m in meshes if m.name == BACKDROP]
    front = [m for m in meshes if m.name != BACKDROP]
    if not back or not front or max_splats < 2:
        return _within(meshes, max_splats)
    back_texels = sum(texel_count(m) for m in back)
    front_texels = sum(texel_count(m) for m in front)
    kept = BACKDROP_KEEPS * back_texels
    if front_texels + kept <= max_splats:  # the other layers whole; the backdrop gets what is left
        back_budget = min(back_texels, max_splats - front_texels)
    else:
        back_budget = max_splats * kept / (front_texels + kept)
    back_budget = int(np.clip(back_budget, 1, max_splats - 1))
    return Splats.concatenate([_within(back, back_budget), _within(front, max_splats - back_budget)])


def _within(meshes: list[Mesh], max_splats: int) -> Splats:
    """The splats of `meshes`, one per texel or per block of texels, at most `max_splats`."""
    # the textures' sizes bound the count: only when they exceed the budget are the covered texels counted
    whole = sum(m.texture.shape[0] * m.texture.shape[1] for m in meshes)
    texels = whole if whole <= max_splats else sum(texel_count(m) for m in meshes)
    factor = max(1.0, math.sqrt(texels / max_splats))
    for _ in range(4):
        splats = Splats.concatenate([mesh_splats(m, downsampled(m.texture, factor)) for m in meshes])
        if len(splats) <= max_splats:
            break
        factor *= 1.01 * math.sqrt(len(splats) / max_splats)
    if len(splats) > max_splats:  # pragma: no cover - the last rounding overshoots: drop a few evenly
        splats = splats.subset(np.linspace(0, len(splats) - 1, max_splats).astype(np.int64))
    log.info(
        "splats: %d from %d layers (%s)", len(splats), len(meshes),
        "one per texel" if factor == 1.0 else f"one per {factor:.2g} x {factor:.2g} texels",
    )  # fmt: skip
    return splats
