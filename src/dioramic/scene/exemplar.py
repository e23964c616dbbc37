"""Exemplar fills: a hole completed from patches of the image's own known pixels (PatchMatch).

`complete` fills the pixels of a hole the way content-aware fill does (Wexler, Shechtman and Irani
2007; Barnes et al. 2009): coarse to fine over an image pyramid, each level alternates

* a search: for every patch that overlaps the hole, a similar patch lying wholly on source pixels
  near the hole (PatchMatch: each patch tries its neighbours' matches, shifted, then random ones
  around its best at shrinking radii; all patches at once, with neighbours at two distances, so
  that good matches spread across the hole in a few rounds);
* a vote: each hole pixel becomes the weighted mean of what the overlapping patches' matches say
  about it (a match that fits badly counts less).

Patches are compared on a dozen coefficients of their colours (the low frequencies of a discrete
cosine transform of their luminance and two opponent chroma channels, as JPEG keeps):
the sum of squared differences up to the high frequencies left out, computed for a whole level by
separable filters. The fill is guided by pull-push interpolation: a patch of the hole is compared
with its means taken from that smooth fill and its texture from what is being synthesised, so the
patches found have the colours the surroundings predict there (texture, not a copied object), and at
the end the fill is shifted to the smooth colours blurred over a patch (a copied patch keeps its
texture, never its own shade). So the fill has the grain of the pixels around the hole and the
colours of the smooth fill, and takes patches only where the caller allows (`source`: e.g. never
from an occluder). A level whose patches exceed the search budget is not searched: the coarser
matches, carried up, copy the finer texture.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PATCH", "complete", "descriptors"]

PATCH = 7  # patch side, pixels, at every level
_LUMA_ORDER, _CHROMA_ORDER = 3, 1  # DCT coefficients (u, v) with u + v <= this, per channel kind
_ROUNDS = 2  # PatchMatch rounds per search
_JUMPS = (4, 1)  # neighbours whose matches are tried, at these distances
_EM_CHEAP, _EM = 3, 1  # search + vote rounds on levels of at most a quarter of the budget, and others
_SEARCH_BUDGET = 40_000  # patches searched on a level at most (finer levels carry the matches up)
_COLOUR_SIGMA = 7.0  # the fill keeps the smooth colours blurred over this many pixels
_MAX_LEVELS = 6
_MIN_SIDE = 24  # the coarsest level is at least this many pixels on its short side
_WINDOW = (8, 16)  # patches are taken within twice the hole's half-width of the pixels to fill,
# but at least the first and at most the second number of patch sides (at the finest level)


def _dct_filters() -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(channel, row filter, column filter) of each coefficient a patch is compared on; channels:
    0 luminance, 1 and 2 opponent chroma. Orthonormal, so distances are those of the patches."""
    n = np.arange(PATCH)
    basis = [
        np.sqrt((1 if k == 0 else 2) / PATCH) * np.cos(np.pi * (n + 0.5) * k / PATCH) for k in range(PATCH)
    ]
    out = []
    for channel, order in ((0, _LUMA_ORDER), (1, _CHROMA_ORDER), (2, _CHROMA_ORDER)):
        for u in range(order + 1):
            for v in range(order + 1 - u):
                out.append((channel, basis[u].astype(np.float32), basis[v].astype(np.float32)))
    return out


def _dct_orders() -> list[int]:
    """u + v of each of `_FILTERS`."""
    orders = (_LUMA_ORDER, _CHROMA_ORDER, _CHROMA_ORDER)
    return [u + v for order in orders for u in range(order + 1) for v in range(order + 1 - u)]


_FILTERS = _dct_filters()
_LOW = np.array([k for k, f in enumerate(_dct_orders()) if f == 0])  # the patch means: the guide's
_OPPONENT = (
    np.array([[1, 1, 1], [1, 0, -1], [0.5, -1, 0.5]], np.float32)
    / np.sqrt(np.array([3, 2, 1.5], np.float32))[:, None]
)  # orthonormal rows: luminance, red - blue, green - magenta


def descriptors(image: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
    """(H, W, K) float32: the low-frequency DCT coefficients of each pixel's patch (`_FILTERS`, or
    those numbered in `which`) of `image` (H, W, 3) float32."""
    import cv2

    opponent = cv2.transform(image, _OPPONENT)
    filters = _FILTERS if which is None else [_FILTERS[k] for k in which]
    planes = [
        cv2.sepFilter2D(opponent[:, :, channel], cv2.CV_32F, column, row, borderType=cv2.BORDER_REFLECT)
        for channel, row, column in filters
    ]
    return cv2.merge(planes)


def _shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    if (image.shape[1], image.shape[0]) == size:
        return image
    out = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return out.reshape(size[1], size[0], -1) if image.ndim == 3 else out


class _Level:
    """One level of the pyramid: the image, the pixels to synthesise, the patches to match, where
    matches may lie."""

    def __init__(
        self, image: np.ndarray, hole: np.ndarray, source: np.ndarray, wanted: np.ndarray, reach: float
    ):
        import cv2

        r = PATCH // 2
        h, w = hole.shape
        self.image, self.hole, self.reach = image, hole, reach
        box = np.ones((PATCH, PATCH), np.uint8)
        self.fill = (cv2.dilate(wanted.astype(np.uint8), box) > 0) & hole
        self.centre = cv2.dilate(self.fill.astype(np.uint8), box) > 0
        # a match's patch lies wholly on source pixels, inside the image, near the pixels to fill
        inner = np.zeros((h, w), np.uint8)
        inner[r : h - r, r : w - r] = 1
        allowed = cv2.erode((source & ~hole).astype(np.uint8), box, borderValue=0) & inner
        away = cv2.distanceTransform((~self.fill).astype(np.uint8), cv2.DIST_L2, 3)
        self.source = (allowed > 0) & (away <= reach)
        if self.source.sum() < 2 * PATCH * PATCH:  # too little around: anywhere allowed
            self.source = allowed > 0
        self.sources = np.flatnonzero(self.source)
        self.ty, self.tx = np.nonzero(self.centre)
        self.targets = self.ty * w + self.tx


def _search(
    level: _Level, features: np.ndarray, target: np.ndarray, match: np.ndarray, rng: np.random.Generator
):
    """PatchMatch from `match` (the flat index of each patch centre's match): better matches and
    their costs (squared distance of the descriptors: `features` (H, W, K) of the sources, `target`
    (N, K) of the patch centres)."""
    h, w = level.hole.shape
    r = PATCH // 2
    flat = features.reshape(h * w, -1)
    source = level.source.ravel()
    ty, tx = level.ty, level.tx

    def cost(candidate: np.ndarray, which: np.ndarray | slice = slice(None)) -> np.ndarray:
        d = flat[candidate] - target[which]
        return np.einsum("ij,ij->i", d, d)

    best = cost(match)
    index = np.full(h * w, -1, np.int64)
    index[level.targets] = np.arange(len(ty))
    my, mx = np.divmod(match, w)

    def attempt(cy: np.ndarray, cx: np.ndarray, which: np.ndarray) -> None:
        """Try the candidates (cy, cx) of the patch centres `which` (indices)."""
        candidate = np.clip(cy, r, h - 1 - r) * w + np.clip(cx, r, w - 1 - r)
        ok = source[candidate] & (candidate != match[which])
        which, candidate = which[ok], candidate[ok]
        c = cost(candidate, which)
        better = c < best[which]
        which, candidate = which[better], candidate[better]
        match[which], best[which] = candidate, c[better]
        my[which], mx[which] = np.divmod(candidate, w)

    everyone = np.arange(len(ty))
    radius0 = int(min(max(h, w), 2 * level.reach))
    for _ in range(_ROUNDS):
        for jump in _JUMPS:
            for dy, dx in ((0, jump), (0, -jump), (jump, 0), (-jump, 0)):
                k = index[np.clip(ty + dy, 0, h - 1) * w + np.clip(tx + dx, 0, w - 1)]
                which = np.flatnonzero(k >= 0)
                k = k[which]
                attempt(my[k] - dy, mx[k] - dx, which)
        radius = radius0
        while radius >= 1:
            n = len(ty)
            attempt(
                my + rng.integers(-radius, radius + 1, n), mx + rng.integers(-radius, radius + 1, n), everyone
            )
            radius //= 2
    return match, best


def _vote(
    level: _Level, match: np.ndarray, cost: np.ndarray, image: np.ndarray, reach: int = PATCH // 2
) -> np.ndarray:
    """`image` with the fill pixels replaced by the weighted mean of what the patches centred within
    `reach` pixels (every overlapping one by default) put there through their matches."""
    h, w = level.hole.shape
    r = PATCH // 2
    weight = np.exp(-cost / (2.0 * max(float(np.percentile(cost, 75)), 1e-6))).astype(np.float32)
    pw = w + 2 * r
    # per (padded) pixel: the match of the patch centred there and its weight; where no patch is
    # centred, weight 0 and a harmless match (a pixel whose whole patch lies in the image)
    at = np.full((h + 2 * r) * pw, r * w + r, np.int64)
    wt = np.zeros((h + 2 * r) * pw, np.float32)
    centre = (level.ty + r) * pw + level.tx + r
    at[centre], wt[centre] = match, weight
    fy, fx = np.nonzero(level.fill)
    here = (fy + r) * pw + fx + r
    acc = np.zeros((len(fy), 3), np.float32)
    total = np.zeros(len(fy), np.float32)
    source = level.image.reshape(-1, 3)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            covering = here - dy * pw - dx  # the patch centred here covers the pixel at (dy, dx)
            weight_k = wt.take(covering)
            acc += source.take(at.take(covering) + (dy * w + dx), axis=0) * weight_k[:, None]
            total += weight_k
    out = image.copy()
    ok = total > 0
    out[fy[ok], fx[ok]] = acc[ok] / total[ok, None]
    return out


def complete(
    rgb: np.ndarray,
    hole: np.ndarray,
    wanted: np.ndarray | None = None,
    source: np.ndarray | None = None,
    seed: int = 0,
) -> np.ndarray:
    """(H, W, 3) uint8: `rgb` (H, W, 3) uint8 with the `hole` (H, W) bool pixels filled from patches
    of the others (see the module's docstring).

    `wanted` (H, W) bool: the hole pixels that matter (None: all); only these and a patch around them
    are synthesised, the hole pixels near them get pull-push interpolation, and those farther away
    keep `rgb`'s values. `source` (H, W) bool: the pixels patches may be taken from (None: all
    outside the hole). The fill keeps the colours of pull-push interpolation from the pixels outside
    the hole (which also guides the search), blurred over a few patches; where no whole patch of
    source pixels exists, it is those colours only. Deterministic for a given `seed`."""
    import cv2

    from dioramic.scene.layers import pull_push

    hole = hole.astype(bool)
    wanted = hole if wanted is None else wanted.astype(bool) & hole
    source = ~hole if source is None else source.astype(bool) & ~hole
    image = rgb[:, :, :3].astype(np.float32)
    result = image.copy()
    if not wanted.any():
        return rgb[:, :, :3].copy()
    inside = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)
    half_width = float(inside[wanted].max())
    reach = float(np.clip(2.0 * half_width, _WINDOW[0] * PATCH, _WINDOW[1] * PATCH))
    # the work is confined to the wanted pixels and the reach around them
    rows, cols = np.nonzero(wanted.any(axis=1))[0], np.nonzero(wanted.any(axis=0))[0]
    pad = int(np.ceil(reach)) + 2 * PATCH
    box = (
        slice(max(0, rows[0] - pad), rows[-1] + pad + 1),
        slice(max(0, cols[0] - pad), cols[-1] + pad + 1),
    )
    if wanted is hole or not (hole & ~wanted).any():
        box = (slice(None), slice(None))
    part, gap = image[box], hole[box]
    colours = np.where(gap[:, :, None], pull_push(part, ~gap), part)
    if source[box].any():
        texture, synthesised = _synthesise(
            part, gap, wanted[box], source[box], colours, half_width, reach, np.random.default_rng(seed)
        )
        # the smooth colours at the scale of a few patches: a copied patch brings its texture,
        # not its own shade
        diff = np.where(synthesised[:, :, None], colours - texture, 0).astype(np.float32)
        texture = texture + cv2.GaussianBlur(diff, (0, 0), _COLOUR_SIGMA)
        colours = np.where(synthesised[:, :, None], texture, colours)
    result[box] = colours
    return np.clip(result + 0.5, 0, 255).astype(np.uint8)


def _synthesise(
    image, hole, wanted, source, start, half_width: float, reach: float, rng
) -> tuple[np.ndarray, np.ndarray]:
    """The coarse-to-fine search and vote of `complete`: the image with the pixels synthesised and
    those pixels ((H, W) bool). `start` is the pull-push fill (the guide), `half_width` the largest
    distance of a wanted pixel from the hole's edge."""
    import cv2

    count = int(np.ceil(np.log2(half_width / (PATCH / 2.0)))) if half_width > PATCH / 2.0 else 0
    # ... and coarse enough for the search to fit its budget (finer levels only carry the matches up)
    near = float((cv2.dilate(wanted.astype(np.uint8), np.ones((3 * PATCH, 3 * PATCH), np.uint8)) > 0).sum())
    count = max(count, int(np.ceil(0.5 * np.log2(max(1.0, near / _SEARCH_BUDGET)))))
    count = max(0, min(count, int(np.log2(max(1.0, min(hole.shape) / _MIN_SIDE))), _MAX_LEVELS))
    h, w = hole.shape
    sizes = [(w, h)]
    for _ in range(count):
        sizes.append((max(1, (sizes[-1][0] + 1) // 2), max(1, (sizes[-1][1] + 1) // 2)))
    previous = None
    current = start
    for index in range(count, -1, -1):
        size = sizes[index]
        level = _Level(
            np.ascontiguousarray(_shrink(image, size)),
            _shrink(hole.astype(np.float32), size) > 0,
            _shrink(source.astype(np.float32), size) >= 0.999,
            _shrink(wanted.astype(np.float32), size) > 0,
            max(_WINDOW[0] * PATCH, reach / 2**index),
        )
        if not len(level.sources) or not len(level.targets):
            return start, np.zeros(hole.shape, bool)
        if previous is not None and len(level.targets) > _SEARCH_BUDGET:
            # too many patches to search: the coarser matches, carried up, copy the finer texture
            coarse, coarse_match, coarse_image = previous
            match = _upsample(coarse, coarse_match, level, rng)
            up = cv2.resize(coarse_image, size, interpolation=cv2.INTER_LINEAR)
            current = np.where(level.hole[:, :, None], up, level.image)
            current = _vote(level, match, np.zeros(len(match), np.float32), current, 1)
            previous = (level, match, current)
            continue
        guide = np.where(level.hole[:, :, None], _shrink(start, size), level.image)
        guide_features = descriptors(guide, _LOW).reshape(-1, len(_LOW))[level.targets]

        def search(current: np.ndarray, match: np.ndarray, level: _Level = level, guide=guide_features):
            """Matches for the patches of `current`: their means are the guide's (the fill's
            colours), the rest their own (the texture being synthesised)."""
            features = descriptors(current)
            target = features.reshape(-1, len(_FILTERS))[level.targets]
            target[:, _LOW] = guide
            return _search(level, features, target, match, rng)

        if previous is None:
            current = guide
            match = level.sources[rng.integers(0, len(level.sources), len(level.targets))]
            match, cost = search(current, match)
            current = _vote(level, match, cost, current)
        else:
            coarse, coarse_match, coarse_image = previous
            match = _upsample(coarse, coarse_match, level, rng)
            up = cv2.resize(coarse_image, size, interpolation=cv2.INTER_LINEAR)
            current = np.where(level.hole[:, :, None], up, level.image)
            current = _vote(level, match, np.zeros(len(match), np.float32), current)
        # a few rounds where they are cheap (coarse levels, small holes), one elsewhere
        for _ in range(_EM_CHEAP if 4 * len(level.targets) <= _SEARCH_BUDGET else _EM):
            match, cost = search(current, match)
            current = _vote(level, match, cost, current)
        previous = (level, match, current)
    assert previous is not None
    return current, previous[0].fill


def _upsample(
    coarse: _Level, coarse_match: np.ndarray, level: _Level, rng: np.random.Generator
) -> np.ndarray:
    """The coarser level's matches carried to this level's patch centres (a random source patch
    where none carries over)."""
    ch, cw = coarse.hole.shape
    h, w = level.hole.shape
    index = np.full(ch * cw, -1, np.int64)
    index[coarse.targets] = np.arange(len(coarse.targets))
    ty, tx = level.ty, level.tx
    k = index[np.minimum(ty // 2, ch - 1) * cw + np.minimum(tx // 2, cw - 1)]
    has = k >= 0
    cy, cx = np.divmod(np.where(has, coarse_match[k], 0), cw)
    ny, nx = 2 * cy + ty % 2, 2 * cx + tx % 2
    ok = has & (ny < h) & (nx < w)
    match = np.where(ok, np.minimum(ny, h - 1) * w + np.minimum(nx, w - 1), 0)
    ok &= level.source.ravel()[match]
    match[~ok] = level.sources[rng.integers(0, len(level.sources), int((~ok).sum()))]
    return match
