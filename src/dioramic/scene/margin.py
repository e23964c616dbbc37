"""A ring of geometry around the photo's frame, so that a moving camera never sees past its border.

The background layer's boundary vertices (on the image edges) are extruded outwards in the image, at
their own depth, by a margin per side; the texture is padded by the same margin with the photo's edge
mirrored (`pad_texture`). The margin a side needs is the largest shift of its border that the allowed
moves make (see `margin_widths`).
"""

from __future__ import annotations

import numpy as np

from dioramic.types import Camera

__all__ = ["add_margin", "margin_widths", "pad_texture"]

_SAFETY = 1.1
_EXTRA_PX = 2.0


def margin_widths(
    u: np.ndarray,
    v: np.ndarray,
    z: np.ndarray,
    camera: Camera,
    focus: float,
    lateral_move: float,
    axial_move: float,
    limit: float,
) -> tuple[float, float, float, float]:
    """Margins (left, top, right, bottom) in pixels of `camera` for border vertices at (u, v), inverse
    depth z (1/m).

    A sideways move of T = lateral_move * focus metres shifts the image of a point at depth d by
    f * T / d pixels facing ahead, by f * T * |1/d - 1/focus| while turning to keep the subject in
    view; backing away along the view axis by A = axial_move * focus while
    zooming to keep the subject's size (dolly-zoom) pulls a point at distance r from the image centre
    inwards by about r * A * (1/d - 1/focus). Each side gets the largest sum over its border, capped at
    `limit` pixels.
    """
    width, height = camera.width, camera.height
    r = np.hypot(u - camera.cx, v - camera.cy)
    sideways = np.maximum(z, np.abs(z - 1.0 / focus))
    need = camera.fx * lateral_move * focus * sideways + r * axial_move * focus * np.maximum(
        z - 1.0 / focus, 0.0
    )
    need = _SAFETY * need + _EXTRA_PX
    out = []
    sides = ((u <= 0.0, width), (v <= 0.0, height), (u >= width, width), (v >= height, height))
    for on, extent in sides:
        cap = max(1.0, min(limit, 0.9 * extent))
        out.append(float(min(cap, need[on].max())) if on.any() else min(cap, _EXTRA_PX))
    return out[0], out[1], out[2], out[3]


def add_margin(
    u: np.ndarray,
    v: np.ndarray,
    z: np.ndarray,
    faces: np.ndarray,
    width: float,
    height: float,
    margins: tuple[float, float, float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Extrude the boundary of a mesh that tiles the frame [0, width] x [0, height] by `margins`.

    Parameters
    ----------
    u, v, z
        (N,) float64 image positions (pixels) and inverse depths of the vertices; the boundary
        vertices lie exactly on u = 0, u = width, v = 0 or v = height.
    faces
        (M, 3) int64 triangles, counter-clockwise on the displayed image.
    margins
        (left, top, right, bottom) pixels, > 0.

    Returns
    -------
    u, v, z, faces with the ring's vertices appended (at their source's depth) and its triangles
    (two per boundary segment, two per corner), counter-clockwise like the rest.
    """
    left, top, right, bottom = margins
    us, vs, zs, tris = [u], [v], [z], [faces]
    count = len(u)
    sides = (
        (u <= 0.0, v, (-left, 0.0)),
        (v <= 0.0, u, (0.0, -top)),
        (u >= width, v, (right, 0.0)),
        (v >= height, u, (0.0, bottom)),
    )
    shift_u, shift_v = (-left, 0.0, right, 0.0), (0.0, -top, 0.0, bottom)
    outer_of: list[dict[int, int]] = []
    for on, along, (du, dv) in sides:
        ids = np.nonzero(on)[0]
        ids = ids[np.argsort(along[ids], kind="stable")]
        outer = count + np.arange(len(ids))
        count += len(ids)
        us.append(u[ids] + du)
        vs.append(v[ids] + dv)
        zs.append(z[ids])
        a, b, oa, ob = ids[:-1], ids[1:], outer[:-1], outer[1:]
        tris += [np.stack([a, b, ob], 1), np.stack([a, ob, oa], 1)]
        outer_of.append(dict(zip(ids.tolist(), outer.tolist(), strict=True)))
    for first, second in ((0, 1), (1, 2), (2, 3), (3, 0)):  # corners: left-top, top-right, ...
        shared = set(outer_of[first]) & set(outer_of[second])
        for corner in shared:
            a, b = outer_of[first][corner], outer_of[second][corner]
            du = shift_u[first] + shift_u[second]
            dv = shift_v[first] + shift_v[second]
            us.append(np.array([u[corner] + du]))
            vs.append(np.array([v[corner] + dv]))
            zs.append(np.array([z[corner]]))
            d = count
            count += 1
            tris.append(np.array([[corner, a, d], [corner, d, b]]))
    u_all, v_all, z_all = np.concatenate(us), np.concatenate(vs), np.concatenate(zs)
    faces_all = np.concatenate(tris).astype(np.int64)
    # orientation: counter-clockwise on the displayed image (v down) is a negative cross product
    p0, p1, p2 = (np.stack([u_all[faces_all[:, k]], v_all[faces_all[:, k]]], 1) for k in range(3))
    cross = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - (p1[:, 1] - p0[:, 1]) * (p2[:, 0] - p0[:, 0])
    flip = cross > 0
    faces_all[flip] = faces_all[flip][:, [0, 2, 1]]
    return u_all, v_all, z_all, faces_all


def pad_texture(image: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """`image` (H, W, C) uint8 padded by (left, top, right, bottom) texels, its edges mirrored."""
    import cv2

    left, top, right, bottom = pads
    padded = cv2.copyMakeBorder(
        np.ascontiguousarray(image), top, bottom, left, right, borderType=cv2.BORDER_REFLECT_101
    )
    if padded.ndim == 2:  # OpenCV drops a trailing channel axis of size 1
        padded = padded[:, :, None]
    return padded
