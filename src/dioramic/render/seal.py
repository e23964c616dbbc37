"""Closing the pinhole gaps of a video frame: cracks of a pixel or two that no surface covers.

Where a hidden layer's fill meets the surface in front of it, or two fragments of an occluder's
fill meet, the rasteriser can leave a crack a pixel or two wide that nothing covers. In the right
colour nobody would notice it; in the background's colour it is a speck that flickers through the
video. A pixel no surface covers, or covers in part, that has covered pixels (at least half
covered) on both sides of it along some line (across, down or along a diagonal) within
`SEAL_RADIUS` pixels takes what they show, the nearer side weighing more (the pair of sides nearest
together wins). An open stretch of background, such as beyond a scene's margin or at the frame's
edge, has no such pair and keeps the background's colour: the coverage the frame measures
(`GLRenderer.render_rgba`, `FrameStats`) is untouched.

The same rule runs on the CPU on the frames read back as RGBA (`seal_frame`: cheaper there than a
second pass of llvmpipe over the whole frame, and nearly free when nothing is uncovered) and as a
fragment shader (`SEAL_SHADER`) where frames go to the encoder as YUV drawn on the GPU.
"""

from __future__ import annotations

import numpy as np

SEAL_RADIUS = 6
"""Farthest (pixels) a gap pixel looks for covered pixels on either side of it."""

SEAL_SHADER = f"""
#version 330
uniform sampler2D u_source;
uniform vec3 u_background;
out vec4 f_color;
const ivec2 STEPS[4] = ivec2[4](ivec2(1, 0), ivec2(0, 1), ivec2(1, 1), ivec2(1, -1));
// The first pixel at least half covered along `step` from `pixel` within the radius: its distance
// (0 if none: past the frame's edge is not found) and what it shows (premultiplied by coverage).
float hit(ivec2 pixel, ivec2 step, ivec2 size, out vec4 seen) {{
    seen = vec4(0.0);
    for (int r = 1; r <= {SEAL_RADIUS}; ++r) {{
        ivec2 at = pixel + r * step;
        if (any(lessThan(at, ivec2(0))) || any(greaterThanEqual(at, size)))
            return 0.0;
        vec4 near = texelFetch(u_source, at, 0);
        if (near.a >= 0.5) {{
            seen = vec4(near.rgb - u_background * (1.0 - near.a), near.a);
            return float(r);
        }}
    }}
    return 0.0;
}}
void main() {{
    ivec2 pixel = ivec2(gl_FragCoord.xy);
    vec4 colour = texelFetch(u_source, pixel, 0);
    if (colour.a >= 1.0) {{
        f_color = colour;
        return;
    }}
    // a gap enclosed along some line through it (covered pixels on both sides within the radius):
    // what the nearer sides show, weighted by nearness; an open stretch of background stays
    ivec2 size = textureSize(u_source, 0);
    vec4 best = vec4(0.0);
    float shortest = 1e9;
    for (int k = 0; k < 4; ++k) {{
        vec4 a, b;
        float da = hit(pixel, STEPS[k], size, a), db = hit(pixel, -STEPS[k], size, b);
        if (da > 0.0 && db > 0.0 && da + db < shortest) {{
            shortest = da + db;
            best = a / da + b / db;
        }}
    }}
    if (best.a > 0.0) {{
        colour.rgb += (1.0 - colour.a) * (best.rgb / best.a - u_background);
        colour.a = 1.0;
    }}
    f_color = colour;
}}
"""


_RAYS = np.array([(1, 0), (0, 1), (1, 1), (1, -1), (-1, 0), (0, -1), (-1, -1), (-1, 1)])
"""The lines' two directions: ray k + 4 is ray k reversed."""

_CHUNK = 1 << 15
"""Gap pixels looked along at once (bounds the (gaps, 8, radius) arrays)."""

_MANY = 4096
"""With more gap pixels than this, those with no covered pixel within the radius (in open background,
which stays) are set aside first."""


def seal_frame(rgba: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """(H, W, 3) uint8 RGB of the (H, W, 4) uint8 RGBA frame (alpha = coverage, colour blended over
    `background`) with its pinhole gaps closed (see the module)."""
    import cv2

    rgb = cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB)
    alpha = cv2.extractChannel(rgba, 3)
    gaps = cv2.findNonZero(cv2.bitwise_not(alpha))  # x, y of the pixels not fully covered
    if gaps is None:
        return rgb
    gaps = gaps.reshape(-1, 2)
    if len(gaps) > _MANY:
        covered = cv2.threshold(alpha, 127, 255, cv2.THRESH_BINARY)[1]
        near = cv2.dilate(covered, np.ones((2 * SEAL_RADIUS + 1,) * 2, np.uint8))
        gaps = gaps[near[gaps[:, 1], gaps[:, 0]] > 0]
    for start in range(0, len(gaps), _CHUNK):
        _seal(rgba, rgb, gaps[start : start + _CHUNK], np.asarray(background, dtype=np.float64))
    return rgb


def _seal(rgba: np.ndarray, rgb: np.ndarray, gaps: np.ndarray, background: np.ndarray) -> None:
    """Close the gaps at (x, y) `gaps` of `rgba` in `rgb`: all of them along all 8 rays at once."""
    height, width = rgba.shape[:2]
    reach = np.arange(1, SEAL_RADIUS + 1)
    # (gaps, ray, r): the pixels r steps along each ray; past the frame's edge nothing is found
    x = gaps[:, 0, None, None] + _RAYS[None, :, 0, None] * reach
    y = gaps[:, 1, None, None] + _RAYS[None, :, 1, None] * reach
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    x, y = np.clip(x, 0, width - 1), np.clip(y, 0, height - 1)
    hit = inside & (rgba[y, x, 3] >= 128)
    first = hit.argmax(axis=2)  # the nearest covered pixel along each ray (leaving the frame is final)
    found = hit.any(axis=2)
    distance = np.where(found, first + 1, 0)  # (gaps, ray); 0: none
    rows = np.arange(len(gaps))[:, None]
    seen = rgba[y[rows, np.arange(8), first], x[rows, np.arange(8), first]].astype(np.float64)
    cover = seen[:, :, 3:] / 255.0
    shown = np.concatenate([seen[:, :, :3] - background * (1.0 - cover), cover], axis=2)  # premultiplied
    # the line (ray and its reverse) whose two covered pixels are nearest together, the first on a tie
    da, db = distance[:, :4], distance[:, 4:]
    span = np.where((da > 0) & (db > 0), da + db, np.iinfo(np.int64).max)
    line = span.argmin(axis=1)
    enclosed = span[np.arange(len(gaps)), line] < np.iinfo(np.int64).max
    if not enclosed.any():
        return
    gaps, line, rows = gaps[enclosed], line[enclosed], np.flatnonzero(enclosed)
    near = shown[rows, line] / da[rows, line, None] + shown[rows, line + 4] / db[rows, line, None]
    xs, ys = gaps[:, 0], gaps[:, 1]
    cover = rgba[ys, xs, 3:] / 255.0
    colour = rgba[ys, xs, :3] + (1.0 - cover) * (near[:, :3] / near[:, 3:] - background)
    rgb[ys, xs] = np.clip(np.rint(colour), 0, 255).astype(np.uint8)
