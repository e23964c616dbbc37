"""The 3D scene: the depth map turned into a textured triangle mesh seen by the photo's camera.

    >>> from dioramic.scene import SceneOptions, build_scene   # doctest: +SKIP
    >>> scene = build_scene(photo, depth, SceneOptions(max_triangles=100_000))  # doctest: +SKIP

How (one module per step; docs/scene.md shows it with pictures):

1. `margin`: the photo is set on a canvas larger by what the allowed moves can show beyond its frame:
   the depth carried out from the border (receding to the background and smoothing farther out),
   the colour inpainted and fading into its wide average, never mirrored.
2. `lattice`: the canvas' depth is sampled on a vertex lattice of about `mesh_resolution` cells
   along the photo's long side (cells growing outwards in the margin); specks of noise are smoothed,
   narrow ramps that the move would stretch are collapsed into steps, and lattice edges across a
   depth discontinuity are *cut* (a scale-free test that never cuts a plane, however steep, and cuts
   nothing the move would open by less than a pixel: see `dioramic.scene.lattice`).
3. `peel`: behind every cut the surface of its far side is continued under the whole occluder, as
   far as the move can look (geodesically, from the far side only), into *hidden layers*; nested
   occluders get one layer each. `layers` paints them, in depth slices, from what lies at their
   depth or beyond (`INPAINTERS`).
4. `matte`: along every cut the mixed pixels are split into the near side's colour with an alpha
   (the *silhouettes* layer) and the far side's colour (left on the surface).
5. `quadtree` and `triangulate`: each layer is triangulated adaptively (flat regions in large
   cells, crack-free; hidden layers coarser), all within one triangle budget, every layer cut at its
   own depth edges: no triangle joins two sides of a cut anywhere.

The meshes, drawn in this order: ``hidden-N`` ... ``hidden-1`` (RGB), ``surface`` (the photo's
surface without the cells along the near side of its edges, RGB), ``silhouettes`` (those cells at
the near side's depth, RGBA). Every vertex is unprojected through the photo's camera and its UV is
its own projection into its layer's texture, so seen from the photo's camera the scene reproduces
the photo; from elsewhere every cut opens onto a hidden layer, not onto a stretched sheet.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dioramic.camera import camera_for_photo, unproject_pixels
from dioramic.errors import InputError, UsageError
from dioramic.scene import inpaint_lama  # noqa: F401 - registers the 'lama' inpainter
from dioramic.scene.lattice import Lattice, coarsening_lattices
from dioramic.scene.layered import HIDDEN_PREFIX, SHOWN_ALPHA, SILHOUETTES_NAME, SURFACE_NAME, build_layers
from dioramic.scene.layers import INPAINTERS
from dioramic.scene.quadtree import Plan, Quadtree, plan_within_budget
from dioramic.scene.triangulate import Triangles, triangulate
from dioramic.types import Camera, DepthMap, Mesh, Photo, Scene

__all__ = [
    "HIDDEN_PREFIX",
    "INPAINTERS",
    "MESH_NAME",
    "SILHOUETTES_NAME",
    "SURFACE_NAME",
    "SceneOptions",
    "build_scene",
    "depth_tolerance",
    "empty_behind",
    "subject_distance",
    "texture_image",
]

log = logging.getLogger(__name__)

MESH_NAME = SURFACE_NAME
"""Name of the single mesh `build_scene` makes with ``layers=False`` (node and mesh name in exports)."""

_MIN_TRIANGLES = 2
_FOCUS_BOX = (0.3, 0.7)  # central part of the frame (fraction of width and height) the focus looks at
_EMPTY_DEPTH = 1.5  # where the photo is transparent: this many times the farthest depth it shows


@dataclass(frozen=True)
class SceneOptions:
    """How `build_scene` turns a photo and its depth into a mesh."""

    max_triangles: int = 200_000
    """Triangle budget: flat regions are merged until the mesh has at most this many triangles."""
    edge_threshold: float = 0.08
    """Depth discontinuity threshold, scale-free: an edge of the mesh is cut where the depth jumps by
    more than this ratio beyond what the surface's slope on either side explains (0.08: 8 % farther).
    A plane never counts as a jump however steep it is; a 1 m -> 3 m step is 2.0."""
    max_error: float = 4.0
    """How far (pixels of the frames the scene is filmed at) merging flat regions into large triangles
    may move what the largest allowed move shows: the depth error allowed is this over the parallax
    the move makes per unit of inverse depth, so near things keep finer triangles than far ones, and
    larger frames than smaller ones. Raised automatically when the mesh would exceed `max_triangles`.
    The default was chosen against a 4x-supersampled render of a 1M-triangle scene (the demo photo,
    1280 px frames, SSIM): 2 px gave 167k triangles and 0.985, 4 px 96k and 0.984, 6 px 69k and
    0.982, 8 px 55k and 0.979; a triangle costs llvmpipe about 0.3 CPU us a frame."""
    view_size: int | None = None
    """Long side in pixels of the frames the scene is filmed at (None: the photo's)."""
    mesh_resolution: int = 768
    """Vertex lattice cells along the photo's long side before merging (at most one per depth pixel):
    the finest detail of the mesh, kept along depth edges."""
    fov: float | None = None
    """Horizontal field of view of the photo in degrees; None: from EXIF, else a 28 mm-equivalent lens
    (see `dioramic.camera.camera_for_photo`)."""
    texture_max_size: int = 4096
    """Longest side of the texture in pixels; larger photos are downscaled for the texture."""
    layers: bool = True
    """Build the layered scene (hidden layers behind the depth edges, soft silhouettes, a margin
    beyond the frame); False: one mesh, cut at depth edges, that shows holes behind them when the
    camera moves."""
    lateral_move: float = 0.06
    """Largest sideways camera move the scene is built for, a fraction of the subject distance (the
    presets move 4 to 5 % at amplitude 1; `dioramic.pipeline.make_scene` raises it to the run's
    motion): how far the hidden layers reach behind each depth edge, the margin, which edges are
    cut."""
    axial_move: float = 0.25
    """Largest move along the view axis the scene is built for, a fraction of the subject distance
    (dolly 15 %, dolly-zoom 25 %)."""
    margin_limit: float = 0.5
    """The margin beyond the frame is at most this fraction of the photo's long side on each side."""
    inpainter: str = "exemplar"
    """Colour inpainting of the hidden layers: a name from `INPAINTERS` ('exemplar', 'smooth',
    'telea', 'ns', 'lama')."""
    inpaint_model: Path | None = None
    """A LaMa ONNX file for ``inpainter='lama'``; None: the hub's, cached or downloaded once."""

    def __post_init__(self) -> None:
        if self.max_triangles < _MIN_TRIANGLES:
            raise UsageError(
                f"the triangle budget must be at least {_MIN_TRIANGLES}, got {self.max_triangles}"
            )
        if not (math.isfinite(self.edge_threshold) and self.edge_threshold > 0):
            raise UsageError(f"the edge threshold must be a positive ratio, got {self.edge_threshold}")
        if not (math.isfinite(self.max_error) and self.max_error > 0):
            raise UsageError(f"the largest error must be a positive number of pixels, got {self.max_error}")
        if self.view_size is not None and self.view_size < 1:
            raise UsageError(f"the frames' size must be at least 1 pixel, got {self.view_size}")
        if self.mesh_resolution < 1:
            raise UsageError(f"the mesh resolution must be at least 1, got {self.mesh_resolution}")
        if self.texture_max_size < 1:
            raise UsageError(f"the texture size must be at least 1 pixel, got {self.texture_max_size}")
        for name in ("lateral_move", "axial_move", "margin_limit"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise UsageError(f"{name} must be a fraction within 0..1, got {value}")
        INPAINTERS.get(self.inpainter)  # an unknown name lists the valid ones
        if self.inpaint_model is not None and self.inpainter != "lama":
            raise UsageError(f"an inpainting model file is for the 'lama' inpainter, not '{self.inpainter}'")


def texture_image(photo: Photo, max_size: int) -> np.ndarray:
    """The photo as a texture: (Ht, Wt, 3) uint8, or (Ht, Wt, 4) with its alpha, long side <= max_size.

    With alpha, the colours of the fully transparent texels are continued from the others
    (pull-push), whatever the file held there (often black): a texel sampled between them and the
    subject's then blends the subject's colour, never a dark fringe along a cut-out's outline."""
    image = photo.rgb if photo.alpha is None else np.dstack([photo.rgb, photo.alpha])
    long_side = max(photo.width, photo.height)
    if long_side > max_size:
        import cv2

        scale = max_size / long_side
        size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
        image = cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)
    if image.shape[2] == 4:
        from dioramic.scene.layers import pull_push

        clear = image[:, :, 3] == 0
        if clear.any() and not clear.all():
            image = image.copy()
            colours = pull_push(image[:, :, :3].astype(np.float32), ~clear)
            image[clear, :3] = np.clip(colours[clear] + 0.5, 0, 255).astype(np.uint8)
    return image


def _check_inputs(photo: Photo, depth: DepthMap) -> np.ndarray:
    values = depth.depth
    if not np.isfinite(values).all() or not (values > 0).all():
        raise InputError("the depth map must be finite and > 0 everywhere (larger = farther)")
    ph, pw = photo.height, photo.width
    dh, dw = depth.shape
    if abs(dw / dh - pw / ph) > 0.01 * (pw / ph) + 1.0 / min(dh, dw):
        raise InputError(f"the depth map ({dw}x{dh}) does not have the photo's aspect ratio ({pw}x{ph})")
    return values


def _plan(
    depth: np.ndarray, options: SceneOptions, stretch: float, tolerance: float
) -> tuple[Lattice, np.ndarray, np.ndarray, Quadtree, Plan]:
    """Lattice, cuts, tree and plan: the finest lattice whose cuts fit the triangle budget."""
    for step in coarsening_lattices(
        depth, options.mesh_resolution, options.edge_threshold, options.max_triangles, stretch
    ):
        lattice = step.lattice
        tree = Quadtree(lattice.z, lattice.u, lattice.v, step.cut_x, step.cut_y, step.levels)
        plan = plan_within_budget(tree, tolerance, options.max_triangles)
        if plan is not None:
            log.debug("mesh lattice %s vertices, %d triangles", lattice.z.shape, plan.triangles)
            return lattice, step.cut_x, step.cut_y, tree, plan
    raise RuntimeError("cannot meet the triangle budget")  # pragma: no cover - one cell has 2 triangles


def _vertices(lattice: Lattice, tris: Triangles, camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compact vertex positions (N, 3) float32, UVs (N, 2) float32 and faces (M, 3) uint32."""
    lattice_size = lattice.z.size
    used, faces = np.unique(tris.faces, return_inverse=True)
    lattice_id, is_copy = used, used >= lattice_size
    if is_copy.any():
        copy = np.where(is_copy, used - lattice_size, 0)
        lattice_id = np.where(is_copy, tris.copy_source[copy], used)
    row, col = np.divmod(lattice_id, lattice.shape[1])
    z = lattice.z[row, col]
    if is_copy.any():
        z = np.where(is_copy, tris.copy_z[copy], z)
    u, v = lattice.u[col], lattice.v[row]
    cam = camera.resized(lattice.width, lattice.height)
    positions = unproject_pixels(u, v, 1.0 / z, cam).astype(np.float32)
    uvs = np.stack([u / lattice.width, v / lattice.height], axis=1).astype(np.float32)
    return positions, uvs, faces.reshape(-1, 3).astype(np.uint32)


def depth_tolerance(camera: Camera, focus: float, options: SceneOptions) -> float:
    """The error in inverse depth (1/m) the decimation may make: `SceneOptions.max_error` pixels on
    the frames over the parallax the largest allowed move makes per unit of inverse depth, a sideways
    move T and one along the view axis A (which shifts a point at r pixels from the centre by r A / d):
    ``max_error / (f T + r A)`` with f and r in the frames' pixels. `camera` is the photo's at the
    depth map's size."""
    scale = 1.0 if options.view_size is None else options.view_size / max(camera.width, camera.height)
    focal = camera.fx * scale
    radius = 0.5 * math.hypot(camera.width, camera.height) * scale
    parallax = focal * options.lateral_move * focus + radius * options.axial_move * focus
    return options.max_error / max(parallax, 1e-9)


def subject_distance(depth: np.ndarray, shown: np.ndarray | None = None) -> float:
    """Subject depth (metres) of an (H, W) depth map: the median depth of the central part of the frame
    (the median of inverse depth); with `shown` (H, W) bool, of the pixels the photo
    shows there (of all it shows where none is central)."""
    h, w = depth.shape
    lo, hi = _FOCUS_BOX
    box = (
        slice(int(lo * h), max(int(lo * h) + 1, int(hi * h))),
        slice(int(lo * w), max(int(lo * w) + 1, int(hi * w))),
    )
    central = depth[box]
    if shown is not None and shown.any():
        central = central[shown[box]] if shown[box].any() else depth[shown]
    return float(1.0 / np.median(1.0 / central.astype(np.float64)))


def empty_behind(depth: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """(depth, shown): `depth` (H, W) with the pixels where the photo is transparent (`alpha`, any size
    of the same aspect, below half opacity: a cut-out's surroundings) moved `_EMPTY_DEPTH` times
    behind the farthest pixel it shows, and the (H, W) bool mask of the pixels it shows (None when
    it shows all). Nothing is there, whatever a depth estimator made of the hidden colours: nothing
    of it may stand in front of the subject, and the subject's outline becomes a depth edge whose far
    side is empty (transparent hidden layers, `dioramic.scene.layered`)."""
    if alpha is None:
        return depth, None
    import cv2

    h, w = depth.shape
    if alpha.shape != (h, w):
        alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)
    shown = alpha >= SHOWN_ALPHA
    if shown.all():
        return depth, None
    if not shown.any():
        return depth, None  # nothing to stand in front of: the depth as it is
    out = depth.copy()
    out[~shown] = _EMPTY_DEPTH * float(depth[shown].max())
    return out, shown


def build_scene(photo: Photo, depth: DepthMap, options: SceneOptions | None = None) -> Scene:
    """Build the textured 3D scene of `photo` from its depth.

    Parameters
    ----------
    photo
        The photo; its camera comes from `options.fov`, its EXIF focal length or the default lens.
    depth
        (H, W) float32 depth, metres along the optical axis (> 0), at the photo's size or any size of
        the same aspect ratio.
    options
        Triangle budget, edge threshold, texture size... (`SceneOptions`).

    Returns
    -------
    A `Scene` with, by default (``options.layers``), the hidden layers (``hidden-N`` ...
    ``hidden-1``), the `SURFACE_NAME` mesh and the `SILHOUETTES_NAME` mesh (RGBA), or the surface
    alone where the depth has no edge (see the module docstring); with ``layers=False`` one mesh named
    `MESH_NAME`, cut at the depth edges. Also the photo's camera, and the depths (metres) of the
    nearest and farthest geometry and of the subject (the median depth of the central part of the
    frame, which motions pivot around), and the move it was built for (`Scene.reach`: the options'
    lateral and axial move; none for the single mesh).
    """
    options = options or SceneOptions()
    values, shown = empty_behind(_check_inputs(photo, depth), photo.alpha)
    camera = camera_for_photo(photo, options.fov)
    cam = camera.resized(values.shape[1], values.shape[0])
    focus = subject_distance(values, shown)
    if options.layers:
        texture = texture_image(photo, options.texture_max_size)
        meshes = build_layers(texture, values, cam, options, focus)
        if meshes is not None:
            depths = np.concatenate([-m.vertices[:, 2] for m in meshes])
            near, far = float(depths.min()), float(depths.max())
            log.info(
                "scene: %s, depth %.2f..%.2f m",
                ", ".join(f"{m.name} {len(m.faces)} triangles" for m in meshes), near, far,
            )  # fmt: skip
            return Scene(
                meshes=meshes,
                camera=camera,
                near=near,
                far=far,
                focus=min(max(focus, near), far),
                reach=(options.lateral_move, options.axial_move),
            )
        log.info("the triangle budget cannot hold the layers: building one mesh")
    stretch = cam.fx * options.lateral_move * focus
    tolerance = depth_tolerance(cam, focus, options)
    lattice, cut_x, cut_y, tree, plan = _plan(values, options, stretch, tolerance)
    tris = triangulate(tree, plan, lattice.z, cut_x, cut_y)
    positions, uvs, faces = _vertices(lattice, tris, camera)
    mesh = Mesh(
        name=MESH_NAME,
        vertices=positions,
        uvs=uvs,
        faces=faces,
        texture=texture_image(photo, options.texture_max_size),
    )
    vertex_depth = -positions[:, 2]
    near, far = float(vertex_depth.min()), float(vertex_depth.max())
    focus = min(max(focus, near), far)
    log.info("scene: %d vertices, %d triangles, depth %.2f..%.2f m", len(positions), len(faces), near, far)
    # no hidden layers, no margin: any move looks past what it holds
    return Scene(meshes=(mesh,), camera=camera, near=near, far=far, focus=focus, reach=(0.0, 0.0))
