"""Soft silhouettes: alpha and decontaminated colours where a depth edge crosses the photo's pixels.

A pixel on a depth edge sees both sides: its colour is a mix ``I = a F + (1 - a) B`` of the near
side's colour F and the far side's B. Left as they are, the mixed pixels travel with the wrong layer
when the camera moves: a fringe of the foreground's colour stays on the background, a halo of the
background's colour rides on the foreground. So, along every cut:

* `silhouette_band` marks, on the lattice, the near side's edge vertices and the far side's (one
  vertex each, a mixed pixel or two at the photo's resolution), the vertices beyond them on either side,
  and gives the silhouette layer its depth: the near side's, carried one cell over the far side;
* `matte` estimates, per texel, the local colours F and B as the mean of the pure pixels a few
  texels inside either side (a two-colour model, as in Bayesian and closed-form matting, with the
  colour lines taken from the depth's own segmentation instead of a user's trimap), the alpha ``a`` of
  each edge texel by projecting its colour onto the line from B to F, and then the foreground colour
  ``(I - (1 - a) B) / a`` and the background colour ``(I - a F) / (1 - a)``, each kept between the
  pixel's colour and its side's (the division overshoots, to black or white, wherever alpha is a
  little off). Where F and B are alike the colours say nothing: alpha falls back to the geometry's
  (the near side's edge texel opaque, the far side's clear).

Seen from the photo's camera, the silhouette layer (F, a) over the layers behind it (B) gives back
the photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dioramic.scene.peel import far_side_vertices, near_side_vertices

__all__ = ["Matte", "Silhouettes", "matte", "silhouette_band"]

_NEAR_BAND = 1  # vertices of the band on the near side of a cut ...
_FAR_BAND = 1  # ... and on its far side
_SIDE_CELLS = 3.0  # the pure colours of each side are sampled this many cells beyond the band
_COLOUR_SIGMA = 1.5  # texels per cell times this: the spread of the local colour means
_CONTRAST = 24.0  # colour distance (0..255) at which the two-colour alpha is trusted half
_NEAR_PRIOR = 0.9  # alpha of a near-side edge texel where the colours say nothing
_FAR_PRIOR = 0.1  # likewise on the far side
_MIN_SHARE = 0.2  # unmixing divides by a side's share of the pixel, at least this
_SLACK = 16.0  # an unmixed colour stays within this (0..255) of its pixel's and its side's


@dataclass(frozen=True)
class Silhouettes:
    """The band along the depth edges, on the lattice."""

    near: np.ndarray
    """(h, w) bool: the near side's edge vertices (the nearer end of a cut edge)."""
    far: np.ndarray
    """(h, w) bool: the far side's edge vertices."""
    inside: np.ndarray
    """(h, w) bool: pure near-side vertices beyond the band (their colour is the near side's)."""
    outside: np.ndarray
    """(h, w) bool: pure far-side vertices beyond the band."""
    near_side: np.ndarray
    """(h, w) bool: vertices nearer to a near edge vertex than to a far one (the near side, locally)."""
    z: np.ndarray
    """(h, w) float64 inverse depth of the silhouette layer: the lattice's, the near side's carried
    over the far side."""
    cells: np.ndarray
    """(h - 1, w - 1) bool: the silhouette layer's cells (those with a cut edge or a near edge vertex)."""


def silhouette_band(z: np.ndarray, cut_x: np.ndarray, cut_y: np.ndarray) -> Silhouettes:
    """The band along the cuts of inverse depth `z` (h, w) (see the module docstring)."""
    from scipy import ndimage

    edge_near = near_side_vertices(z, cut_x, cut_y)
    edge_far = far_side_vertices(z, cut_x, cut_y) & ~edge_near
    dist_near, (ny, nx) = ndimage.distance_transform_edt(~edge_near, return_indices=True)
    dist_far = ndimage.distance_transform_edt(~edge_far)
    near_side = dist_near < dist_far
    # the band: `_NEAR_BAND` vertices on the near side of the cut, `_FAR_BAND` on the far side
    near = near_side & (dist_near <= _NEAR_BAND - 1 + 0.5)
    far = ~near_side & (dist_far <= _FAR_BAND - 1 + 0.5)
    inside = near_side & ~near & (dist_near <= _NEAR_BAND + _SIDE_CELLS)
    outside = ~near_side & ~far & (dist_far <= _FAR_BAND + _SIDE_CELLS)
    carried = ~near_side & (dist_near <= _FAR_BAND + 0.5)
    band_z = np.where(carried, z[ny, nx], z) if edge_near.any() else z.copy()
    cut_cells = cut_x[:-1, :] | cut_x[1:, :] | cut_y[:, :-1] | cut_y[:, 1:]
    touching = near[:-1, :-1] | near[1:, :-1] | near[:-1, 1:] | near[1:, 1:]
    reaching = carried[:-1, :-1] & carried[1:, :-1] & carried[:-1, 1:] & carried[1:, 1:]
    return Silhouettes(near, far, inside, outside, near_side, band_z, cut_cells | touching | reaching)


@dataclass(frozen=True)
class Matte:
    """Colours and alpha of the silhouettes, per texel of the photo's texture."""

    alpha: np.ndarray
    """(H, W) uint8: opacity of the silhouette layer (1 on the near side, 0 on the far side, the
    estimate on the edge texels)."""
    foreground: np.ndarray
    """(H, W, 3) uint8: the near side's colour (decontaminated on the edge texels)."""
    background: np.ndarray
    """(H, W, 3) uint8: the photo with the far side's edge texels decontaminated: the surface layer's
    colours."""
    behind: np.ndarray
    """(H, W, 3) uint8: the far side's local colour everywhere along the band: what a hidden layer
    shows right behind the near side's edge texels."""


@dataclass(frozen=True)
class _LocalMean:
    """The Gaussian-weighted mean colour of some texels around each texel, and the weight found, kept
    at the resolution they were computed at (one sample per `step` x `step` texels of a texture
    `size` (width, height)); read at full resolution only where needed."""

    mean: np.ndarray
    """(h, w, 3) float32 means."""
    weight: np.ndarray
    """(h, w) float32 weights."""
    size: tuple[int, int]

    def at(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) means and (N,) weights at the texels (rows, cols), interpolated as `colours` does."""
        h, w = self.weight.shape
        if (w, h) == self.size:
            return self.mean[rows, cols], self.weight[rows, cols]
        # bilinear, with cv2.resize's placement of the samples (texel centres) and clamped edges
        x = np.clip((cols + 0.5) * (w / self.size[0]) - 0.5, 0.0, w - 1.0)
        y = np.clip((rows + 0.5) * (h / self.size[1]) - 0.5, 0.0, h - 1.0)
        x0, y0 = x.astype(np.int64), y.astype(np.int64)
        x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
        fx, fy = (x - x0).astype(np.float32), (y - y0).astype(np.float32)

        def sample(image: np.ndarray) -> np.ndarray:
            gx, gy = (fx, fy) if image.ndim == 2 else (fx[:, None], fy[:, None])
            top = image[y0, x0] * (1 - gx) + image[y0, x1] * gx
            return top * (1 - gy) + (image[y1, x0] * (1 - gx) + image[y1, x1] * gx) * gy

        return sample(self.mean), sample(self.weight)

    def colours(self, fallback: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8: the means where some weight was found, `fallback`'s colours elsewhere
        (interpolated as 8-bit colours: a 12 MP texture's in a few hundredths of a second)."""
        import cv2

        mean = np.clip(self.mean + 0.5, 0, 255).astype(np.uint8)
        found = self.weight > 1e-3
        if self.weight.shape != (self.size[1], self.size[0]):
            mean = cv2.resize(mean, self.size, interpolation=cv2.INTER_LINEAR)
            found = cv2.resize(self.weight, self.size, interpolation=cv2.INTER_LINEAR) > 1e-3
        return np.where(found[:, :, None], mean, fallback)


def _local_mean(rgb: np.ndarray, where: np.ndarray, sigma: float, step: int = 1) -> _LocalMean:
    """Mean colour of the `where` texels around each texel (Gaussian weights), and the weight found.

    With `step` > 1 the sums are box-averaged over `step` x `step` texels and blurred at that scale
    (the box's own spread taken off `sigma`): the same smooth means at a fraction of the cost when
    `sigma` spans several texels (a 12 MP photo's texture)."""
    import cv2

    height, width = where.shape
    weight = where.astype(np.float32)
    num = rgb.astype(np.float32) * weight[:, :, None]
    if step > 1:
        small = (-(-width // step), -(-height // step))
        num = cv2.resize(num, small, interpolation=cv2.INTER_AREA)
        weight = cv2.resize(weight, small, interpolation=cv2.INTER_AREA)
        sigma = float(np.sqrt(max(sigma**2 - step**2 / 12.0, 0.25))) / step
    num = cv2.GaussianBlur(num, (0, 0), sigma)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)
    return _LocalMean(num / np.maximum(den, 1e-6)[:, :, None], den, (width, height))


def matte(
    rgb: np.ndarray,
    near: np.ndarray,
    far: np.ndarray,
    inside: np.ndarray,
    outside: np.ndarray,
    near_side: np.ndarray,
    texels_per_cell: float = 1.0,
) -> Matte:
    """Alpha and colours of the silhouettes (see the module docstring).

    `rgb` (H, W, 3) uint8 is the photo's texture; the masks (H, W) bool are the `Silhouettes` masks
    at texel resolution.
    """
    sigma = _COLOUR_SIGMA * max(1.0, texels_per_cell)
    step = max(1, int(texels_per_cell))  # a large photo: the means at about one sample per cell
    fg = _local_mean(rgb, inside, sigma, step)
    bg = _local_mean(rgb, outside, sigma, step)
    to_u8 = lambda x: np.clip(x + 0.5, 0, 255).astype(np.uint8)  # noqa: E731
    # the colour model on the edge texels only
    at = np.nonzero(near | far)
    pixel = rgb[at].astype(np.float32)
    (f, f_w), (b, b_w) = fg.at(*at), bg.at(*at)
    f = np.where((f_w > 1e-3)[:, None], f, pixel)
    b = np.where((b_w > 1e-3)[:, None], b, pixel)
    d = f - b
    norm2 = (d * d).sum(axis=1)
    a_colour = np.clip(((pixel - b) * d).sum(axis=1) / np.maximum(norm2, 1e-6), 0.0, 1.0)
    trust = norm2 / (norm2 + _CONTRAST**2)
    a = trust * a_colour + (1.0 - trust) * np.where(near[at], _NEAR_PRIOR, _FAR_PRIOR)
    # each side's colour unmixed, kept between the pixel's own and the side's local colour (give or
    # take a little): an alpha a little off never overshoots to black or white
    a1 = a[:, None]
    front = (pixel - (1.0 - a1) * b) / np.maximum(a1, _MIN_SHARE)
    front = np.clip(front, np.minimum(pixel, f) - _SLACK, np.maximum(pixel, f) + _SLACK)
    back = (pixel - a1 * f) / np.maximum(1.0 - a1, _MIN_SHARE)
    back = np.clip(back, np.minimum(pixel, b) - _SLACK, np.maximum(pixel, b) + _SLACK)
    alpha = np.where(near_side, np.uint8(255), np.uint8(0))
    alpha[at] = to_u8(a * 255.0)
    foreground = np.where(near_side[:, :, None], rgb, fg.colours(rgb))
    foreground[at] = to_u8(front)
    background = rgb.copy()
    on_far = far[at]
    background[at[0][on_far], at[1][on_far]] = to_u8(back[on_far])
    return Matte(alpha, foreground, background, bg.colours(rgb))
