"""View-dependent splat colours: spherical harmonics fitted to the photos that see each splat.

A reconstruction's photos rarely agree on a surface's colour to the pixel: the fused surface is a
little off, so each photo lays its own texture on it, and the light changes with the view. One colour
per splat (the atlas's, from one photo) then shows that photo's texture from every side, shifted a
little everywhere else. Splat viewers colour each splat by spherical harmonics of the direction they
see it from (3DGS: degree 3, 15 coefficients per channel beyond the constant one); `fit_harmonics`
fits them in closed form to every photo that sees each splat's centre (`dioramic.splats.view`'s
visibility rule), so that from each photo's viewpoint the splats show that photo, and between them a
smooth blend, as the view-dependent video renderer does.

The fit has two steps per splat. The constant term is the mean of the colours the photos show (with
the splat's own colour as a weak prior, `OWN_COLOUR`), so a splat one photo sees takes that photo's
colour, the same from every side, and one no photo sees keeps its own. The view-dependent terms fit
what changes around that mean by least squares, shrunk towards no change: each has a prior of zero
weighted as `PRIOR_VIEWS` photos' worth of evidence (a photo's weight on a coefficient averages
1 / 4 pi over the sphere). Every photo that sees a splat counts the same (weighting them by how
squarely they see it made the held-out views no better and the photos' own views worse).

Measured with `--holdout 4` (`bench/splats.py --reconstruction OUT`: the held-out photos seen through
the splat centres, which the fit never saw), against the same run's splats with the atlas's one
colour each: templeSparseRing 14.5, 16.4, 16.0, 13.3 dB -> 16.9, 16.2, 18.0, 17.4 dB; entry-P10
25.6, 27.3, 21.9 dB -> 31.9, 28.6, 25.0 dB. Degrees 1, 2 and 3 held out the same on the temple
(within 0.05 dB on the mean); they reproduce the photos from their own viewpoints less and more
closely (23.3, 26.2 and 28.5 dB for its reference photo): degree 2 is the middle ground for the
file's size (24 more floats a splat). Between one and four photos' worth of prior, the held-out
means moved by less than 0.25 dB (the temple's ring preferring more, entry-P10's arc less).

Conventions (those of the 3DGS reference code, which every viewer follows): d is the unit vector from
the camera's centre to the splat's, in the file's coordinates; colour = 0.5 + SH_C0 f_dc
+ sum_k Y_k(d) f_rest_k, clamped at 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from dioramic.splats import SH_C0, Splats
from dioramic.types import Camera

DEGREE = 2
"""The degree `fit_harmonics` fits by default (8 coefficients per channel beyond the constant)."""
PRIOR_VIEWS = 2.0
"""How many photos' worth of evidence the prior "no change with the view" counts for."""
OWN_COLOUR = 0.05
"""The weight (in photos' worth) with which the constant term keeps the splat's own colour."""
CHUNK = 250_000
"""Splats solved at a time (bounds the memory the solve takes)."""
VISIBILITY_SIDE = 1280
"""Which splats a photo sees is worked out at most this many pixels wide (the colours are sampled at
the photo's full size)."""

_C1 = 0.4886025119029199
_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
_C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


@dataclass(frozen=True)
class PhotoView:
    """One photo the splats are fitted to."""

    image: np.ndarray
    """(H, W, 3) uint8 RGB, a pinhole image (undistorted)."""
    camera: Camera
    """Its intrinsics."""
    world_from_camera: np.ndarray
    """(4, 4) float64 where its camera stands in the splats' coordinates (OpenGL axes: +X right, +Y up,
    looking down -Z)."""
    valid: np.ndarray | None = None
    """(H, W) bool where `image` holds photo pixels (None: everywhere)."""


def terms(degree: int) -> int:
    """The number of coefficients per channel beyond the constant one for `degree`.

    >>> [terms(d) for d in range(4)]
    [0, 3, 8, 15]
    """
    return (degree + 1) ** 2 - 1


def basis(directions: np.ndarray, degree: int) -> np.ndarray:
    """(N, terms(degree)) the real spherical harmonics beyond the constant one at the (N, 3) unit
    `directions`, in the 3DGS order and signs.

    >>> basis(np.array([[0.0, 0.0, 1.0]]), 1).round(4).tolist()
    [[-0.0, 0.4886, -0.0]]
    """
    d = np.asarray(directions, dtype=np.float64)
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    out = []
    if degree > 0:
        out += [-_C1 * y, _C1 * z, -_C1 * x]
    if degree > 1:
        xx, yy, zz = x * x, y * y, z * z
        out += [
            _C2[0] * x * y,
            _C2[1] * y * z,
            _C2[2] * (2.0 * zz - xx - yy),
            _C2[3] * x * z,
            _C2[4] * (xx - yy),
        ]
    if degree > 2:
        out += [
            _C3[0] * y * (3.0 * xx - yy),
            _C3[1] * x * y * z,
            _C3[2] * y * (4.0 * zz - xx - yy),
            _C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy),
            _C3[4] * x * (4.0 * zz - xx - yy),
            _C3[5] * z * (xx - yy),
            _C3[6] * x * (xx - 3.0 * yy),
        ]
    return np.stack(out, axis=1) if out else np.zeros((len(d), 0))


def directions_from(points: np.ndarray, position: np.ndarray) -> np.ndarray:
    """(N, 3) unit vectors from `position` (3,) to each of the (N, 3) `points` (splats' centres)."""
    offsets = np.asarray(points, dtype=np.float64) - np.asarray(position, dtype=np.float64)
    return offsets / np.maximum(np.linalg.norm(offsets, axis=1, keepdims=True), 1e-12)


def view_colours(splats: Splats, position: np.ndarray) -> np.ndarray:
    """(N, 3) float32 the splats' colours (0..1, clamped) seen from a camera at `position` (3,)."""
    if splats.sh is None:
        return splats.colours
    y = basis(directions_from(splats.means, position), splats.degree)
    colours = splats.colours + np.einsum("nk,nkc->nc", y, splats.sh.astype(np.float64))
    return np.clip(colours, 0.0, 1.0).astype(np.float32)


def fit_harmonics(splats: Splats, photos: Sequence[PhotoView], degree: int = DEGREE) -> Splats:
    """`splats` with view-dependent colours of `degree` fitted to the `photos` (see the module
    docstring): the colour each photo shows at a splat's centre, wherever that photo sees it."""
    from dioramic.reconstruct.holdout import sample
    from dioramic.splats.view import splat_axes, visible_centres

    count = terms(degree) + 1
    axes = splat_axes(splats)  # the same from every photo
    seen: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per photo: indices, basis, colours
    for photo in photos:
        camera = photo.camera
        scale = min(1.0, VISIBILITY_SIDE / max(camera.width, camera.height))
        small = camera.resized(max(1, round(camera.width * scale)), max(1, round(camera.height * scale)))
        visible = visible_centres(splats, small, photo.world_from_camera, axes)
        index = visible.index
        x = np.minimum(visible.x * (camera.width / small.width), camera.width - 1e-3)
        y = np.minimum(visible.y * (camera.height / small.height), camera.height - 1e-3)
        if photo.valid is not None:
            ok = photo.valid[np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)]
            index, x, y = index[ok], x[ok], y[ok]
        colours = sample(photo.image.astype(np.float32) / 255.0, x, y)
        directions = directions_from(splats.means[index], np.asarray(photo.world_from_camera)[:3, 3])
        full = np.concatenate([np.full((1, len(index)), SH_C0), basis(directions, degree).T])  # (count, n)
        seen.append((index, full.astype(np.float32), np.ascontiguousarray(colours.T, dtype=np.float32)))
    observed_any = np.zeros(len(splats), bool)
    for index, _, _ in seen:
        observed_any[index] = True
    fitted = np.flatnonzero(observed_any)
    sh = np.zeros((len(splats), count - 1, 3), np.float32)
    colours = splats.colours.copy()
    if len(fitted):
        slot = np.full(len(splats), -1, np.int64)
        slot[fitted] = np.arange(len(fitted))
        rows = np.concatenate([s[0] for s in seen])
        rows = slot[rows]
        full = np.concatenate([s[1] for s in seen], axis=1)  # (count, observations)
        observed = np.concatenate([s[2] for s in seen], axis=1) - 0.5  # (3, observations)
        del seen
        # sums per splat, by bincount (np.add.at is many times slower), each into a contiguous row
        normal = np.empty((count, count, len(fitted)), np.float32)
        right = np.empty((count, 3, len(fitted)), np.float32)
        for a in range(count):
            for b in range(a, count):
                normal[a, b] = np.bincount(rows, full[a] * full[b], len(fitted))
                normal[b, a] = normal[a, b]
            for c in range(3):
                right[a, c] = np.bincount(rows, full[a] * observed[c], len(fitted))
        del rows, full, observed
        for start in range(0, len(fitted), CHUNK):  # the solve in float64, a chunk of splats at a time
            part = slice(start, start + CHUNK)
            chosen = fitted[part]
            n = normal[:, :, part].transpose(2, 0, 1).astype(np.float64)  # (m, count, count)
            r = right[:, :, part].transpose(2, 0, 1).astype(np.float64)  # (m, count, 3)
            # the constant term: the mean of what the photos show, with the splat's own colour as a
            # weak prior; the harmonics: what changes around it, shrunk towards no change
            views = n[:, 0, 0] / SH_C0**2
            own = OWN_COLOUR * (splats.colours[chosen] - 0.5)
            mean = (r[:, 0] / SH_C0 + own) / (views + OWN_COLOUR)[:, None]
            varying = n[:, 1:, 1:] + np.eye(count - 1) * (PRIOR_VIEWS / (4.0 * np.pi))
            residual = r[:, 1:] - (n[:, 0, 1:] / SH_C0)[:, :, None] * mean[:, None, :]
            colours[chosen] = np.clip(0.5 + mean, 0.0, 1.0).astype(np.float32)
            sh[chosen] = np.linalg.solve(varying, residual).astype(np.float32)
    return replace(splats, colours=colours, sh=sh)
