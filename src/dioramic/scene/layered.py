"""Assembly of the layered scene: the photo's surface, the layers rebuilt behind it, the silhouettes.

See `dioramic.scene` for the steps, `dioramic.scene.peel` for the hidden layers and
`dioramic.scene.matte` for the silhouettes. The meshes, in drawing order (farthest first):

* ``hidden-K`` ... ``hidden-1``: what the occluders hide, rebuilt in depth and colour from the far side
  (RGB texture, opaque; RGBA with the far side's transparency when the photo has an alpha channel),
  each cut at its own depth edges;
* ``surface``: the photo's surface, cut at every depth edge, without the cells along the near side of
  an edge (RGB, opaque; the photo's colours with the far side's fringe decontaminated);
* ``silhouettes``: the cells along every depth edge at the near side's depth, reaching one cell over
  the far side, with the near side's colour and a soft alpha estimated from the photo (RGBA).

Seen from the photo's camera they reproduce the photo; from elsewhere, every cut opens onto a
hidden layer, never onto a stretched sheet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dioramic.camera import unproject_pixels
from dioramic.scene.lattice import Lattice, canvas_lattices, cut_edges
from dioramic.scene.margin import border_pixels, margin_widths, pad_colour, pad_depth
from dioramic.scene.matte import Silhouettes, matte, silhouette_band
from dioramic.scene.peel import FillLayer, Reach, hidden_cuts, peel_layers
from dioramic.scene.quadtree import Plan, Quadtree, plan_all_within_budget
from dioramic.scene.triangulate import triangulate
from dioramic.types import HIDDEN_LAYER_PREFIX, SURFACE_LAYER, Camera, Mesh

if TYPE_CHECKING:
    from dioramic.scene import SceneOptions

log = logging.getLogger(__name__)

SURFACE_NAME = SURFACE_LAYER
HIDDEN_PREFIX = HIDDEN_LAYER_PREFIX
SILHOUETTES_NAME = "silhouettes"
SHOWN_ALPHA = 128
"""A photo's pixel at least this opaque (0..255) shows its subject; less is a cut-out's empty
surroundings or the outer part of its soft edge (`dioramic.scene.empty_behind`)."""

_SAFETY = 1.1  # a hidden layer reaches this much farther than the parallax it must hide
_EXTRA_CELLS = 3.0  # plus this many lattice cells
_MAX_HIDDEN = 3  # hidden layers at most (nested occluders)
_HIDDEN_TOLERANCE = 4.0  # hidden layers are flat at this multiple of the surface's tolerance
_SHEET = 10.0  # a hidden layer's triangle changing depth by this multiple of the edge threshold per cell
# is a sheet across a step, and dropped


@dataclass(frozen=True)
class ImageMesh:
    """A mesh in image terms, before unprojection: positions in depth-map pixels, inverse depths."""

    u: np.ndarray
    """(N,) float64 column position, depth-map pixels."""
    v: np.ndarray
    """(N,) float64 row position, depth-map pixels."""
    z: np.ndarray
    """(N,) float64 inverse depth, 1/m."""
    faces: np.ndarray
    """(M, 3) int64 vertex indices, counter-clockwise as seen from the camera."""


def image_mesh(lattice: Lattice, z: np.ndarray, tree: Quadtree, plan: Plan, cuts) -> ImageMesh:
    """The triangles of `plan` over `z` (h, w) with the given cuts, compacted to the vertices used."""
    cut_x, cut_y = cuts
    tris = triangulate(tree, plan, z, cut_x, cut_y)
    used, faces = np.unique(tris.faces, return_inverse=True)
    size = z.size
    is_copy = used >= size
    copy = np.where(is_copy, used - size, 0)
    lattice_id = np.where(is_copy, tris.copy_source[copy] if len(tris.copy_source) else 0, used)
    row, col = np.divmod(lattice_id, z.shape[1])
    zz = z[row, col]
    if is_copy.any():
        zz = np.where(is_copy, tris.copy_z[copy], zz)
    return ImageMesh(lattice.u[col], lattice.v[row], zz, faces.reshape(-1, 3).astype(np.int64))


def without_sheets(mesh: ImageMesh, cell: float, limit: float) -> ImageMesh:
    """`mesh` without the triangles whose depth changes by more than `limit` (relative, in inverse
    depth) per `cell` pixels of their extent: sheets across a step that no cut caught (a hidden layer's
    fill, continued rather than measured, can meet a step in a way its cut test misses)."""
    z = mesh.z[mesh.faces]
    span = z.max(axis=1) / z.min(axis=1) - 1.0
    u, v = mesh.u[mesh.faces], mesh.v[mesh.faces]
    extent = np.maximum(u.max(axis=1) - u.min(axis=1), v.max(axis=1) - v.min(axis=1))
    keep = span <= limit * np.maximum(extent / cell, 1.0)
    if keep.all():
        return mesh
    used, faces = np.unique(mesh.faces[keep], return_inverse=True)
    return ImageMesh(mesh.u[used], mesh.v[used], mesh.z[used], faces.reshape(-1, 3).astype(np.int64))


def to_mesh(name: str, mesh: ImageMesh, camera: Camera, uv_scale, uv_offset, texture: np.ndarray) -> Mesh:
    """Unproject an `ImageMesh` through `camera` (at the depth map's size); uv = (u, v) * scale + offset."""
    positions = unproject_pixels(mesh.u, mesh.v, 1.0 / mesh.z, camera).astype(np.float32)
    uvs = np.stack([mesh.u * uv_scale[0] + uv_offset[0], mesh.v * uv_scale[1] + uv_offset[1]], axis=1)
    return Mesh(name, positions, uvs.astype(np.float32), mesh.faces.astype(np.uint32), texture)


def cells_touching(vertices: np.ndarray) -> np.ndarray:
    """(h - 1, w - 1) bool: the cells with a corner among `vertices` (h, w)."""
    return vertices[:-1, :-1] | vertices[1:, :-1] | vertices[:-1, 1:] | vertices[1:, 1:]


def cut_cells(cut_x: np.ndarray, cut_y: np.ndarray) -> np.ndarray:
    """(h - 1, w - 1) bool: the cells with a cut edge."""
    return cut_x[:-1, :] | cut_x[1:, :] | cut_y[:, :-1] | cut_y[:, 1:]


@dataclass(frozen=True)
class LayerGeometry:
    """One layer on a lattice: its surface, cuts and the cells it triangulates."""

    name: str
    lattice: Lattice
    """The lattice the layer is triangulated on (the scene's, or every n-th vertex of it)."""
    z: np.ndarray
    cuts: tuple[np.ndarray, np.ndarray]
    cells: np.ndarray
    levels: int
    """Quadtree levels above the lattice's cells."""

    def tree(self) -> Quadtree:
        hidden = self.name.startswith(HIDDEN_PREFIX)
        return Quadtree(
            self.z, self.lattice.u, self.lattice.v, *self.cuts, self.levels, self.cells,
            _HIDDEN_TOLERANCE if hidden else 1.0, exact=not hidden,
        )  # fmt: skip


def hidden_geometry(
    name: str, lattice: Lattice, layer: FillLayer, levels: int, factor: int, threshold: float
) -> LayerGeometry:
    """A hidden layer triangulated on every `factor`-th vertex of `lattice` (a fill is smooth, and
    seen only when the camera moves): its region grown by a fine cell or so beyond the far side (at
    the depth it continues) so that the coarse cells still cover every fine one."""
    from scipy import ndimage

    z, region, occluder = layer.z, layer.region, layer.occluder
    if factor > 1:
        # grown over the far side it keeps that side's own depth (the seam stays exact); grown into the
        # occluder beyond the region it continues the fill
        grown = ndimage.binary_dilation(region, iterations=factor)
        _, (iy, ix) = ndimage.distance_transform_edt(~region, return_indices=True)
        z = np.where(grown & occluder & ~region, z[iy, ix], z)
        region = grown & (region | occluder)
    sub = Lattice(
        u=lattice.u[::factor], v=lattice.v[::factor], z=z[::factor, ::factor],
        width=lattice.width, height=lattice.height,
    )  # fmt: skip
    h, w = sub.z.shape
    covered = np.zeros((h - 1, w - 1), bool)
    fine_cells = cells_touching(layer.region)
    for dy in range(factor):
        for dx in range(factor):
            part = fine_cells[dy::factor, dx::factor][: h - 1, : w - 1]
            covered[: part.shape[0], : part.shape[1]] |= part
    cuts = hidden_cuts(
        sub.z, sub.u, sub.v, region[::factor, ::factor], occluder[::factor, ::factor], threshold
    )
    return LayerGeometry(name, sub, sub.z, cuts, covered, levels - int(np.log2(factor)))


@dataclass(frozen=True)
class LayeredPlan:
    lattice: Lattice
    hidden: list[FillLayer]
    band: Silhouettes
    layers: list[LayerGeometry]
    trees: list[Quadtree]
    plans: list[Plan]
    focus: float


def _reach(lattice: Lattice, camera: Camera, focus: float, options: SceneOptions) -> Reach:
    """How far the hidden layers reach behind the depth edges (see `Reach`)."""
    cell = max(
        (lattice.u[-1] - lattice.u[0]) / max(1, lattice.z.shape[1] - 1),
        (lattice.v[-1] - lattice.v[0]) / max(1, lattice.z.shape[0] - 1),
    )
    return Reach(
        lateral=camera.fx * options.lateral_move * focus,
        axial=options.axial_move * focus,
        centre=(camera.cx, camera.cy),
        extra=_EXTRA_CELLS * cell,
        safety=_SAFETY,
    )


def plan_layers(
    depth: np.ndarray,
    pads: tuple[int, int, int, int],
    camera: Camera,
    focus: float,
    options: SceneOptions,
) -> LayeredPlan | None:
    """The finest lattice of the canvas `depth` (the photo's padded by `pads`: left, top, right, bottom
    pixels) whose layers fit the triangle budget; None if even one cell does not."""
    from dioramic.scene import depth_tolerance

    budget = options.max_triangles
    threshold = options.edge_threshold
    stretch = camera.fx * options.lateral_move * focus
    tolerance = depth_tolerance(camera, focus, options)
    for step in canvas_lattices(depth, pads, options.mesh_resolution, threshold, budget, stretch):
        cut_x, cut_y, lattice = step.cut_x, step.cut_y, step.lattice
        hidden = peel_layers(
            lattice, cut_x, cut_y, threshold, _reach(lattice, camera, focus, options), _MAX_HIDDEN
        )
        band = silhouette_band(lattice.z, cut_x, cut_y)
        front: list[LayerGeometry] = []
        if hidden:
            surface_cells = ~(cut_cells(cut_x, cut_y) | cells_touching(band.near))
            front.append(
                LayerGeometry(SURFACE_NAME, lattice, lattice.z, (cut_x, cut_y), surface_cells, step.levels)
            )
            fringe_cuts = cut_edges(band.z, lattice.u, lattice.v, threshold, explain=False)
            # a band a few cells wide: no block larger than 2 x 2 cells lies inside it
            front.append(
                LayerGeometry(SILHOUETTES_NAME, lattice, band.z, fringe_cuts, band.cells, min(1, step.levels))
            )
        else:
            everything = np.ones((lattice.z.shape[0] - 1, lattice.z.shape[1] - 1), bool)
            front.append(
                LayerGeometry(SURFACE_NAME, lattice, lattice.z, (cut_x, cut_y), everything, step.levels)
            )
        front_trees = [layer.tree() for layer in front]
        factor = 2
        while True:
            factor = min(factor, 2**step.levels)
            back = [
                hidden_geometry(f"{HIDDEN_PREFIX}-{k}", lattice, layer, step.levels, factor, threshold)
                for k, layer in reversed(list(enumerate(hidden, 1)))
            ]
            layers = back + front
            trees = [layer.tree() for layer in back] + front_trees
            plans = plan_all_within_budget(trees, tolerance, budget)
            if plans is not None or factor >= min(8, 2**step.levels):
                break
            factor *= 2
        if plans is not None:
            log.debug("layered lattice %s, %s triangles", lattice.z.shape, [p.triangles for p in plans])
            return LayeredPlan(lattice, hidden, band, layers, trees, plans, focus)
    return None


def _texel_index(positions: np.ndarray, texels: int, scale: float) -> np.ndarray:
    """For each of `texels` texel centres, the index of the nearest lattice position (pixels)."""
    centres = (np.arange(texels) + 0.5) / scale
    right = np.clip(np.searchsorted(positions, centres), 1, len(positions) - 1)
    left = right - 1
    return np.where(centres - positions[left] <= positions[right] - centres, left, right)


def build_layers(
    texture: np.ndarray, depth: np.ndarray, camera: Camera, options: SceneOptions, focus: float
) -> tuple[Mesh, ...] | None:
    """The layered meshes (farthest first) within the triangle budget; None when the budget cannot
    hold them (the caller builds one mesh instead).

    `texture` (Ht, Wt, 3|4) uint8 is the photo, `depth` (H, W) metres, `camera` the photo's camera at
    the depth map's size, `focus` the subject distance (metres) the moves are fractions of.
    """
    from dioramic.scene.layers import fill_colours

    height, width = depth.shape
    tex_h, tex_w = texture.shape[:2]
    sx, sy = tex_w / width, tex_h / height
    u, v, z = border_pixels(depth)
    widths = margin_widths(
        u,
        v,
        z,
        camera,
        focus,
        options.lateral_move,
        options.axial_move,
        options.margin_limit * max(width, height),
    )
    pads = tuple(int(np.ceil(m)) for m in widths)
    tex_pads = tuple(int(np.ceil(p * s)) for p, s in zip(pads, (sx, sy, sx, sy), strict=True))
    canvas = pad_depth(depth, pads)  # type: ignore[arg-type]
    texture = pad_colour(texture, tex_pads)  # type: ignore[arg-type]
    planned = plan_layers(canvas, pads, camera, focus, options)  # type: ignore[arg-type]
    if planned is None:
        return None
    lattice = planned.lattice
    tex_h, tex_w = texture.shape[:2]
    # texel (x, y) of the padded texture is at photo pixel ((x + 0.5) / sx - tex_pads[0] / sx, ...)
    rows = _texel_index(lattice.v + tex_pads[1] / sy, tex_h, sy)
    cols = _texel_index(lattice.u + tex_pads[0] / sx, tex_w, sx)

    def texels(mask: np.ndarray) -> np.ndarray:
        return mask[rows[:, None], cols[None, :]]

    rgb = np.ascontiguousarray(texture[:, :, :3])
    alpha_in = texture[:, :, 3] if texture.shape[2] == 4 else None
    # a cut-out's soft edge (pixels less than half opaque, moved behind its outline by `empty_behind`)
    # is the subject's: the silhouettes carry it over the empty far side, where nothing else shows it
    subject_alpha = alpha_in
    if alpha_in is not None and (alpha_in >= SHOWN_ALPHA).any():
        subject_alpha = np.where(alpha_in >= SHOWN_ALPHA, alpha_in, 0).astype(np.uint8)
    meshes: list[Mesh] = []
    if planned.hidden:
        band = planned.band
        cell = max(
            lattice.width / max(1, lattice.z.shape[1] - 1), lattice.height / max(1, lattice.z.shape[0] - 1)
        )
        near_t = texels(band.near)
        sil = matte(
            rgb, near_t, texels(band.far), texels(band.inside), texels(band.outside), texels(band.near_side),
            cell * max(sx, sy),
        )  # fmt: skip
        surface_rgb = sil.background
        regions = [(texels(layer.region), texels(layer.z)) for layer in planned.hidden]
        colours = fill_colours(
            surface_rgb, texels(lattice.z), regions, options.inpainter, options.inpaint_model,
            edge=(near_t, sil.behind),
        )  # fmt: skip
        if subject_alpha is not None:
            # the far side's transparency too: behind a cut-out's outline lies nothing
            grey = np.repeat(subject_alpha[:, :, None], 3, axis=2)
            alphas = fill_colours(grey, texels(lattice.z), regions, "smooth")
            colours = [np.dstack([rgb_k, a[:, :, 0]]) for rgb_k, a in zip(colours, alphas, strict=True)]
    else:
        sil, surface_rgb, colours = None, rgb, []
    hidden_textures = dict(
        zip([f"{HIDDEN_PREFIX}-{k}" for k in range(1, len(colours) + 1)], colours, strict=True)
    )
    for layer, tree, plan in zip(planned.layers, planned.trees, planned.plans, strict=True):
        if plan.triangles == 0:
            continue
        mesh = image_mesh(layer.lattice, layer.z, tree, plan, layer.cuts)
        if layer.name.startswith(HIDDEN_PREFIX):
            sub = layer.lattice
            cell = max((sub.u[-1] - sub.u[0]) / (len(sub.u) - 1), (sub.v[-1] - sub.v[0]) / (len(sub.v) - 1))
            mesh = without_sheets(mesh, cell, _SHEET * options.edge_threshold)
            if not len(mesh.faces):
                continue
        if layer.name == SURFACE_NAME:
            alpha = alpha_in if sil is None else subject_alpha
            image = surface_rgb if alpha is None else np.dstack([surface_rgb, alpha])
        elif layer.name == SILHOUETTES_NAME:
            assert sil is not None
            a = (
                sil.alpha
                if alpha_in is None
                else (sil.alpha.astype(np.uint16) * alpha_in // 255).astype(np.uint8)
            )
            image = np.dstack([sil.foreground, a])
        else:
            image = hidden_textures[layer.name]
        meshes.append(_textured(layer.name, mesh, camera, image, (sx, sy), (tex_pads[0], tex_pads[1])))
    return tuple(meshes)


def _textured(name: str, mesh: ImageMesh, camera: Camera, image: np.ndarray, scale, origin) -> Mesh:
    """The mesh with the part of `image` its vertices cover; `image` is the texture of the whole
    canvas, `scale` its texels per depth-map pixel and `origin` the texel of the photo's corner."""
    sx, sy = scale
    tex_h, tex_w = image.shape[:2]
    tu, tv = mesh.u * sx + origin[0], mesh.v * sy + origin[1]
    left = int(np.clip(np.floor(tu.min()) - 1, 0, tex_w - 1))
    right = int(np.clip(np.ceil(tu.max()) + 1, left + 1, tex_w))
    top = int(np.clip(np.floor(tv.min()) - 1, 0, tex_h - 1))
    bottom = int(np.clip(np.ceil(tv.max()) + 1, top + 1, tex_h))
    crop = np.ascontiguousarray(image[top:bottom, left:right])
    cw, ch = right - left, bottom - top
    offset = ((origin[0] - left) / cw, (origin[1] - top) / ch)
    return to_mesh(name, mesh, camera, (sx / cw, sy / ch), offset, crop)
