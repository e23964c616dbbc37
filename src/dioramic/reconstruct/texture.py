"""A texture atlas baked from the photos: every triangle takes its colour from the one view that sees it
best, and the atlas is made of crops of the views themselves.

1. Visibility: each view casts a ray through every pixel (Open3D's ray casting, at most
   `visibility_side` pixels on the long side); a triangle is visible in a view when the ray through its
   centre hits it (or hits within `depth_tolerance` of it) and all its corners fall inside the image.
2. Labels: a triangle's candidate views are scored by the area it covers in their images (large when
   seen close and face-on); it takes the best, or the scene's own view (the reference photo, whose
   camera is the scene's) where that sees it at least `keep_ratio` as large, so that from its camera the
   model shows that photo; then a few rounds of neighbour voting make neighbouring triangles share a
   view where that view is nearly as good (fewer seams; the reference photo keeps its own). Triangles
   no view sees take a neighbour's label.
3. Charts: the edge-connected runs of triangles with the same label. A chart's texture coordinates are
   its corners projected into its view, so its texture is a crop of that photo (no resampling beyond
   the undistortion), with a margin of `padding` pixels so filtering at its borders picks up the
   photo's own neighbouring pixels.
4. Packing: the crops' rectangles are packed into shelves of a square-ish atlas, scaled down as a whole
   when the atlas would exceed `max_side`.

Faces are also turned to face the views (counter-clockwise as seen from the views that see them), all
together: the surface's orientation is consistent, only its sign may be the views' opposite.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dioramic.reconstruct.fusion import _open3d, face_adjacency
from dioramic.reconstruct.model import View

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextureOptions:
    """Settings of the texturing stage."""

    max_side: int = 8192
    """Largest atlas width or height, pixels."""
    padding: int = 2
    """Photo pixels kept around each chart."""
    visibility_side: int = 1024
    """Long side of the ray-cast images that decide visibility."""
    depth_tolerance: float = 0.01
    """Relative depth difference under which a ray hitting another triangle still counts as a hit."""
    smoothing: int = 4
    """Rounds of neighbour voting on the labels."""
    keep_ratio: float = 0.5
    """A neighbour's view is adopted when it scores at least this fraction of the triangle's own best."""


@dataclass(frozen=True)
class TexturedMesh:
    """The mesh with its atlas: vertices split along chart borders so each has one texture coordinate."""

    vertices: np.ndarray
    """(N, 3) float64 positions (world coordinates of the views)."""
    uvs: np.ndarray
    """(N, 2) float32 texture coordinates, glTF convention (origin top-left, v down)."""
    faces: np.ndarray
    """(M, 3) int64 vertex indices."""
    texture: np.ndarray
    """(Ht, Wt, 3) uint8 the atlas."""
    charts: int
    """Number of charts in the atlas."""
    unseen: float
    """Fraction of the triangles no view saw (textured from a neighbour's view)."""


def _raycast(scene: object, view: View, side: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Hit depth (along the optical axis) and triangle id per pixel of `view` at long side `side`."""
    o3d = _open3d()
    cam = view.camera
    scale = min(1.0, side / max(cam.width, cam.height))
    width, height = max(1, round(cam.width * scale)), max(1, round(cam.height * scale))
    small = cam.resized(width, height)
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    rays = np.stack([(u - small.cx) / small.fx, (v - small.cy) / small.fy, np.ones_like(u)], axis=-1)
    directions = rays @ view.rotation  # camera -> world, z = 1 along the axis: hit t = depth
    origins = np.broadcast_to(view.centre, directions.shape)
    hits = scene.cast_rays(o3d.core.Tensor(np.concatenate([origins, directions], -1).astype(np.float32)))  # type: ignore[attr-defined]
    return hits["t_hit"].numpy(), hits["primitive_ids"].numpy().astype(np.int64), scale


def ray_scene(vertices: np.ndarray, faces: np.ndarray) -> object:
    """An Open3D RaycastingScene holding the mesh."""
    o3d = _open3d()
    mesh = o3d.t.geometry.TriangleMesh()
    mesh.vertex.positions = o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32))
    mesh.triangle.indices = o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.int32))
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(mesh)
    return scene


def view_scores(vertices: np.ndarray, faces: np.ndarray, views: Sequence[View],
                options: TextureOptions) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(V, M) float32 area in pixels each triangle covers in each view where it is visible (0 where
    not), and (M,) float64 the summed signed area (> 0: counter-clockwise as the views see it)."""
    scene = ray_scene(vertices, faces)
    centres = vertices[faces].mean(axis=1)
    scores = np.zeros((len(views), len(faces)), np.float32)
    winding = np.zeros(len(faces))
    ids = np.arange(len(faces))
    for k, view in enumerate(views):
        depth, hit, scale = _raycast(scene, view, options.visibility_side)
        pixels, z = view.project(centres)
        h, w = depth.shape
        col = np.clip((pixels[:, 0] * scale).astype(np.int64), 0, w - 1)
        row = np.clip((pixels[:, 1] * scale).astype(np.int64), 0, h - 1)
        near_hit = np.abs(depth[row, col] - z) < options.depth_tolerance * z
        visible = (z > 0) & ((hit[row, col] == ids) | near_hit)
        corners, corner_z = view.project(vertices)
        cam = view.camera
        inside = (corner_z > 0) & (corners[:, 0] >= 0) & (corners[:, 0] < cam.width)
        inside &= (corners[:, 1] >= 0) & (corners[:, 1] < cam.height)
        visible &= inside[faces].all(axis=1) & (z > 0)
        a = corners[faces[:, 1]] - corners[faces[:, 0]]
        b = corners[faces[:, 2]] - corners[faces[:, 0]]
        # image y points down: a counter-clockwise triangle on screen has a negative cross product here
        signed = -0.5 * (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
        scores[k] = np.where(visible, np.abs(signed), 0.0)
        winding += np.where(visible, signed, 0.0)
    return scores, winding


def neighbours(faces: np.ndarray) -> np.ndarray:
    """(M, 3) int64: the faces sharing an edge with each face (-1 where fewer than three do; beyond
    three, on non-manifold edges, some are left out).

    >>> neighbours(np.array([[0, 1, 2], [2, 1, 3], [4, 5, 6]])).tolist()
    [[1, -1, -1], [0, -1, -1], [-1, -1, -1]]
    """
    a, b = face_adjacency(faces)
    owner = np.concatenate([a, b])
    other = np.concatenate([b, a])
    order = np.argsort(owner, kind="stable")
    owner, other = owner[order], other[order]
    first = np.searchsorted(owner, owner, side="left")
    slot = np.arange(len(owner)) - first
    table = np.full((len(faces), 3), -1, np.int64)
    keep = slot < 3
    table[owner[keep], slot[keep]] = other[keep]
    return table


def choose_labels(
    scores: np.ndarray, faces: np.ndarray, options: TextureOptions, preferred: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(M,) int64 the view each triangle takes its colour from, and (M,) bool whether a view saw it.
    The `preferred` view (the scene's own camera) takes every triangle it sees at least
    `options.keep_ratio` as large as the best view does, and the neighbour vote leaves them to it:
    from that camera the model shows that photo."""
    label = scores.argmax(axis=0).astype(np.int64)
    seen = scores.max(axis=0) > 0
    pinned = np.zeros(len(faces), bool)  # the preferred view's own triangles: the vote keeps them
    if preferred is not None:
        pinned = seen & (scores[preferred] >= options.keep_ratio * scores.max(axis=0))
        label[pinned] = preferred
    around = neighbours(faces)
    index = np.arange(len(faces))
    for _ in range(options.smoothing):
        # the label at least two of the three neighbours share, if any
        n = np.where(around >= 0, label[np.maximum(around, 0)], -1 - np.arange(3))  # distinct when absent
        major = np.where(
            (n[:, 0] == n[:, 1]) | (n[:, 0] == n[:, 2]), n[:, 0], np.where(n[:, 1] == n[:, 2], n[:, 1], -1)
        )
        ok = seen & (major >= 0)
        good = ok & ~pinned
        good &= scores[np.maximum(major, 0), index] >= options.keep_ratio * scores[label, index]
        label = np.where(good, major, label)
    # unseen triangles take a seen neighbour's label, spreading inwards
    known = seen.copy()
    while not known.all():
        n = np.where(around >= 0, around, 0)
        donor = np.where((around >= 0) & known[n], n, -1).max(axis=1)
        grow = ~known & (donor >= 0)
        if not grow.any():
            break
        label[grow] = label[donor[grow]]
        known |= grow
    return label, seen


def bake(
    vertices: np.ndarray,
    faces: np.ndarray,
    views: Sequence[View],
    options: TextureOptions = TextureOptions(),
    preferred: int | None = None,
) -> TexturedMesh:
    """Texture the mesh (`vertices` (N, 3), `faces` (M, 3), world coordinates) from `views`, the
    `preferred` one (an index into `views`: the scene's own camera) first where it sees well enough."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    scores, winding = view_scores(vertices, faces, views, options)
    if winding.sum() < 0:  # one orientation for all (marching cubes makes it consistent): as seen
        faces = faces[:, ::-1]
    label, seen = choose_labels(scores, faces, options, preferred)
    # a triangle its view cannot project (behind the camera, far off the image) gets no photo: it
    # takes a plain patch (label len(views)); only triangles no view saw can be in that case
    blank = len(views)
    for k, view in enumerate(views):
        mine = np.flatnonzero(label == k)
        if mine.size:
            corners, depth = view.project(vertices[faces[mine].reshape(-1)])
            size = np.array([view.camera.width, view.camera.height])
            ok = (
                (depth > 0)
                & np.isfinite(corners).all(axis=1)
                & (np.abs(corners - size / 2) < 2 * size).all(axis=1)
            )
            label[mine[~ok.reshape(-1, 3).all(axis=1)]] = blank
    # charts: edge-connected runs of one label
    a, b = face_adjacency(faces)
    same = label[a] == label[b]
    graph = coo_matrix((np.ones(int(same.sum())), (a[same], b[same])), shape=(len(faces), len(faces)))
    count, chart = connected_components(graph, directed=False)
    chart = chart.astype(np.int64)  # (its int32 would overflow in the keys below)
    chart_view = np.zeros(count, np.int64)
    chart_view[chart] = label
    # one vertex per (chart, vertex) pair, projected into its chart's view
    key = chart[:, None] * len(vertices) + faces
    unique, inverse = np.unique(key.reshape(-1), return_inverse=True)
    new_faces = inverse.reshape(-1, 3).astype(np.int64)
    vertex_chart, vertex_source = unique // len(vertices), unique % len(vertices)
    pixels = np.zeros((len(unique), 2))
    for k, view in enumerate(views):
        mine = chart_view[vertex_chart] == k
        if mine.any():
            pixels[mine] = view.project(vertices[vertex_source[mine]])[0]
    atlas, uvs = _pack(pixels, vertex_chart, chart_view, count, views, options)
    return TexturedMesh(
        vertices=vertices[vertex_source],
        uvs=uvs,
        faces=new_faces,
        texture=atlas,
        charts=count,
        unseen=float(1.0 - seen.mean()) if len(seen) else 0.0,
    )


def _pack(pixels: np.ndarray, vertex_chart: np.ndarray, chart_view: np.ndarray, count: int,
          views: Sequence[View], options: TextureOptions) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The atlas of the charts' photo crops and the (N, 2) float32 texture coordinates."""
    import cv2

    pixels = np.where((chart_view[vertex_chart] == len(views))[:, None], 0.0, pixels)  # plain patches
    lo = np.full((count, 2), np.inf)
    hi = np.full((count, 2), -np.inf)
    np.minimum.at(lo, vertex_chart, pixels)
    np.maximum.at(hi, vertex_chart, pixels)
    origin = np.floor(lo) - options.padding
    size = (np.ceil(hi) + options.padding - origin).astype(np.int64)
    side = math.sqrt(float((size[:, 0] * size[:, 1]).sum()) * 1.15)
    scale = min(1.0, options.max_side / max(side, 1.0))
    cells = np.ceil(size * scale).astype(np.int64) + 1
    width = int(min(options.max_side, max(int(cells[:, 0].max()), math.ceil(side * scale))))
    position = np.zeros((count, 2), np.int64)
    x = y = shelf = 0
    for c in np.argsort(-cells[:, 1], kind="stable"):
        w, h = cells[c]
        if x + w > width:
            x, y, shelf = 0, y + shelf, 0
        position[c] = (x, y)
        x += w
        shelf = max(shelf, h)
    height = int(y + shelf)
    if height > options.max_side:  # shelves wasted more room than estimated: squeeze once more
        options = TextureOptions(
            **{**options.__dict__, "max_side": int(options.max_side * options.max_side / height)}
        )
        return _pack(pixels, vertex_chart, chart_view, count, views, options)
    atlas = np.zeros((height, width, 3), np.uint8)
    for c in range(count):
        if chart_view[c] == len(views):  # no photo: a plain grey patch
            px, py = position[c]
            atlas[py : py + cells[c, 1] - 1, px : px + cells[c, 0] - 1] = 128
            continue
        image = views[chart_view[c]].image
        x0, y0 = int(origin[c, 0]), int(origin[c, 1])
        w, h = int(size[c, 0]), int(size[c, 1])
        crop = np.zeros((h, w, 3), np.uint8)
        sx0, sy0 = max(x0, 0), max(y0, 0)
        sx1, sy1 = min(x0 + w, image.shape[1]), min(y0 + h, image.shape[0])
        if sx1 > sx0 and sy1 > sy0:
            crop[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
        if scale < 1.0:
            crop = cv2.resize(
                crop, (int(cells[c, 0]) - 1, int(cells[c, 1]) - 1), interpolation=cv2.INTER_AREA
            )
        px, py = position[c]
        atlas[py : py + crop.shape[0], px : px + crop.shape[1]] = crop
    # the crop of chart c maps photo pixel p to atlas pixel (p - origin) * s + position, where s is the
    # crop's actual scale (cells - 1) / size along each axis
    actual = (cells - 1) / np.maximum(size, 1) if scale < 1.0 else np.ones((count, 2))
    atlas_pixels = (pixels - origin[vertex_chart]) * actual[vertex_chart] + position[vertex_chart]
    uvs = atlas_pixels / np.array([width, height], dtype=np.float64)
    return atlas, uvs.astype(np.float32)
