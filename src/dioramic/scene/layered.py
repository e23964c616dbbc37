"""Assembly of the layered scene: background (whole frame, rebuilt, with margin) and foreground meshes.

See `dioramic.scene` for the steps and `dioramic.scene.layers` for how the layers are split and filled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dioramic.camera import unproject_pixels
from dioramic.scene.lattice import Lattice, coarsening_lattices
from dioramic.scene.layers import Layering, fill_colour, front_alpha, split_layers
from dioramic.scene.margin import add_margin, margin_widths, pad_texture
from dioramic.scene.quadtree import Plan, Quadtree, plan_all_within_budget
from dioramic.scene.triangulate import triangulate
from dioramic.types import Camera, Mesh

if TYPE_CHECKING:
    from dioramic.scene import SceneOptions

log = logging.getLogger(__name__)

_RING_ATTEMPTS = 3


@dataclass(frozen=True)
class ImageMesh:
    """A mesh in image terms, before unprojection: positions in depth-map pixels, inverse depths."""

    u: np.ndarray
    """(N,) float64 column position, depth-map pixels (beyond [0, W] in the margin)."""
    v: np.ndarray
    """(N,) float64 row position, depth-map pixels."""
    z: np.ndarray
    """(N,) float64 inverse depth, 1/m."""
    faces: np.ndarray
    """(M, 3) int64 vertex indices, counter-clockwise as seen from the camera."""


def image_mesh(lattice: Lattice, z: np.ndarray, tree: Quadtree, plan: Plan, cuts, front=None) -> ImageMesh:
    """The triangles of `plan` over `z` (h, w) with the given cuts, compacted to the vertices used."""
    cut_x, cut_y = cuts
    tris = triangulate(tree, plan, z, cut_x, cut_y, front)
    all_faces = tris.faces
    if front is not None:  # a foreground triangle needs a corner of the layer (cells on its border)
        holds = np.concatenate([front.ravel(), np.zeros(len(tris.copy_source), bool)])
        all_faces = all_faces[holds[all_faces].any(axis=1)]
    used, faces = np.unique(all_faces, return_inverse=True)
    size = z.size
    is_copy = used >= size
    copy = np.where(is_copy, used - size, 0)
    lattice_id = np.where(is_copy, tris.copy_source[copy] if len(tris.copy_source) else 0, used)
    row, col = np.divmod(lattice_id, z.shape[1])
    zz = z[row, col]
    if is_copy.any():
        zz = np.where(is_copy, tris.copy_z[copy], zz)
    return ImageMesh(lattice.u[col], lattice.v[row], zz, faces.reshape(-1, 3).astype(np.int64))


def to_mesh(name: str, mesh: ImageMesh, camera: Camera, uv_scale, uv_offset, texture: np.ndarray) -> Mesh:
    """Unproject an `ImageMesh` through `camera` (at the depth map's size); uv = (u, v) * scale + offset."""
    positions = unproject_pixels(mesh.u, mesh.v, 1.0 / mesh.z, camera).astype(np.float32)
    uvs = np.stack([mesh.u * uv_scale[0] + uv_offset[0], mesh.v * uv_scale[1] + uv_offset[1]], axis=1).astype(
        np.float32
    )
    return Mesh(name, positions, uvs, mesh.faces.astype(np.uint32), texture)


@dataclass(frozen=True)
class LayeredPlan:
    lattice: Lattice
    cuts: tuple[np.ndarray, np.ndarray]
    layering: Layering | None
    trees: list[Quadtree]
    plans: list[Plan]
    focus: float


def _region(front: np.ndarray) -> np.ndarray:
    """(h - 1, w - 1) bool: the cells with a corner among the `front` vertices (h, w)."""
    return front[:-1, :-1] | front[1:, :-1] | front[:-1, 1:] | front[1:, 1:]


def plan_layers(
    depth: np.ndarray, camera: Camera, options: SceneOptions, focus_of, budget: int
) -> LayeredPlan | None:
    """The finest lattice whose two layers fit `budget` triangles; None if even one cell does not."""
    steps = coarsening_lattices(depth, options.mesh_resolution, options.edge_threshold, budget)
    for step in steps:
        lattice, cut_x, cut_y = step.lattice, step.cut_x, step.cut_y
        focus = focus_of(lattice)
        layering = split_layers(
            lattice, cut_x, cut_y, camera, focus, options.lateral_move, options.axial_move,
            options.edge_threshold,
        )  # fmt: skip
        no_x, no_y = np.zeros_like(cut_x), np.zeros_like(cut_y)
        background_z = lattice.z if layering is None else layering.background_z
        trees = [Quadtree(background_z, lattice.u, lattice.v, no_x, no_y, step.levels)]
        if layering is not None:
            region = _region(layering.front)
            trees.append(Quadtree(lattice.z, lattice.u, lattice.v, cut_x, cut_y, step.levels, region))
        plans = plan_all_within_budget(trees, options.planar_tolerance, budget)
        if plans is not None:
            log.debug(
                "layered lattice %s vertices, %s triangles", lattice.z.shape, [p.triangles for p in plans]
            )
            return LayeredPlan(lattice, (cut_x, cut_y), layering, trees, plans, focus)
    return None


def build_layers(
    texture: np.ndarray, depth: np.ndarray, camera: Camera, options: SceneOptions, focus_of
) -> tuple[tuple[Mesh, ...], float] | None:
    """The background and foreground meshes (farthest first) and the focus distance, within the
    triangle budget; None when the budget cannot hold them (the caller builds one mesh instead).

    `texture` (Ht, Wt, 3|4) uint8 is the photo, `depth` (H, W) metres, `camera` the photo's camera at
    the depth map's size, `focus_of(lattice)` the subject distance.
    """
    from dioramic.scene import BACKGROUND_NAME, FOREGROUND_NAME

    height, width = depth.shape
    budget = options.max_triangles
    for _ in range(_RING_ATTEMPTS):
        planned = plan_layers(depth, camera, options, focus_of, budget)
        if planned is None:
            return None
        lattice, layering = planned.lattice, planned.layering
        no_cuts = (np.zeros((lattice.z.shape[0], lattice.z.shape[1] - 1), bool),
                   np.zeros((lattice.z.shape[0] - 1, lattice.z.shape[1]), bool))  # fmt: skip
        back_z = lattice.z if layering is None else layering.background_z
        back = image_mesh(lattice, back_z, planned.trees[0], planned.plans[0], no_cuts)
        on_edge = (back.u <= 0) | (back.v <= 0) | (back.u >= width) | (back.v >= height)
        ring = 2 * int(on_edge.sum()) + 8
        total = sum(p.triangles for p in planned.plans) + ring
        if total <= options.max_triangles:
            break
        budget = options.max_triangles - ring
        if budget < 2:
            return None
    else:
        return None

    long_side = max(width, height)
    margins = margin_widths(
        back.u[on_edge], back.v[on_edge], back.z[on_edge], camera, planned.focus,
        options.lateral_move, options.axial_move, options.margin_limit * long_side,
    )  # fmt: skip
    tex_h, tex_w = texture.shape[:2]
    sx, sy = tex_w / width, tex_h / height
    pads = tuple(max(1, round(m * s)) for m, s in zip(margins, (sx, sy, sx, sy), strict=True))
    margins = (pads[0] / sx, pads[1] / sy, pads[2] / sx, pads[3] / sy)  # whole texels
    u, v, z, faces = add_margin(back.u, back.v, back.z, back.faces, width, height, margins)
    back = ImageMesh(u, v, z, faces)

    rgb = texture[:, :, :3]
    back_rgb = (
        rgb if layering is None else fill_colour(rgb, layering, options.inpainter, options.inpaint_model)
    )
    back_texture = back_rgb if texture.shape[2] == 3 else np.dstack([back_rgb, texture[:, :, 3]])
    back_texture = pad_texture(back_texture, pads)  # type: ignore[arg-type]
    padded_w, padded_h = tex_w + pads[0] + pads[2], tex_h + pads[1] + pads[3]
    if max(padded_w, padded_h) > options.texture_max_size:  # uvs are normalised: only the texels shrink
        import cv2

        scale = options.texture_max_size / max(padded_w, padded_h)
        size = (max(1, round(padded_w * scale)), max(1, round(padded_h * scale)))
        back_texture = cv2.resize(back_texture, size, interpolation=cv2.INTER_AREA)
    meshes = [
        to_mesh(
            BACKGROUND_NAME,
            back,
            camera,
            (sx / padded_w, sy / padded_h),
            (pads[0] / padded_w, pads[1] / padded_h),
            back_texture,
        )
    ]
    if layering is not None and planned.plans[1].triangles > 0:
        front = image_mesh(
            lattice, lattice.z, planned.trees[1], planned.plans[1], planned.cuts, layering.front
        )
        alpha = front_alpha(layering, (tex_w, tex_h))
        if texture.shape[2] == 4:
            alpha = (alpha.astype(np.uint16) * texture[:, :, 3] // 255).astype(np.uint8)
        rows, cols = np.nonzero(alpha)
        if len(rows):
            top, bottom = max(0, rows.min() - 1), min(tex_h, rows.max() + 2)
            left, right = max(0, cols.min() - 1), min(tex_w, cols.max() + 2)
            crop = np.dstack([rgb[top:bottom, left:right], alpha[top:bottom, left:right]])
            cw, ch = right - left, bottom - top
            meshes.append(
                to_mesh(FOREGROUND_NAME, front, camera, (sx / cw, sy / ch), (-left / cw, -top / ch), crop)
            )
    return tuple(meshes), planned.focus
