"""The video's colour conversion: RGB frames to the encoders' 4:2:0 YUV (BT.709, limited range).

H.264 and VP9 encode YUV 4:2:0. Each chroma sample here is the mean of its 2 x 2 pixels, and the
planes come in the I420 layout the encoder takes as it is. Two implementations of the same formula:
- `Yuv420` draws the conversion on the renderer as two full-frame passes (luma at full size, both
  chroma planes at half size). On a GPU that frees the CPU and quarters the read back (1.5 bytes a
  pixel instead of four).
- `rgb_to_i420` converts a frame read back as RGB on the CPU, with OpenCV's vectorised colour
  transform (about 2 CPU ms a 720p frame; swscale's RGB to YUV took 6 to 8 ms). Where llvmpipe draws,
  this is cheaper than another pass of the rasteriser.

    >>> rgb_to_yuv709(255, 255, 255), rgb_to_yuv709(0, 0, 0)
    ((235.0, 128.0, 128.0), (16.0, 128.0, 128.0))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Yuv420", "rgb_to_i420", "rgb_to_yuv709"]

_LUMA = (0.2126, 0.7152, 0.0722)  # BT.709 luma weights of R, G, B
_CB_SCALE = 1.8556  # 2 (1 - 0.0722): B - Y spans +-that
_CR_SCALE = 1.5748  # 2 (1 - 0.2126): R - Y spans +-that


def rgb_to_yuv709(red: float, green: float, blue: float) -> tuple[float, float, float]:
    """(Y, Cb, Cr) of an 8-bit RGB colour, BT.709 limited range (Y 16..235, Cb and Cr 16..240), unrounded:
    the formula the shaders apply."""
    r, g, b = red / 255.0, green / 255.0, blue / 255.0
    y = _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b
    return 16.0 + 219.0 * y, 128.0 + 224.0 * (b - y) / _CB_SCALE, 128.0 + 224.0 * (r - y) / _CR_SCALE


_TO_YUV = np.array(
    [
        [219.0 * _LUMA[0] / 255.0, 219.0 * _LUMA[1] / 255.0, 219.0 * _LUMA[2] / 255.0, 16.0],
        [*(224.0 / _CB_SCALE / 255.0 * np.array([-_LUMA[0], -_LUMA[1], 1.0 - _LUMA[2]])), 128.0],
        [*(224.0 / _CR_SCALE / 255.0 * np.array([1.0 - _LUMA[0], -_LUMA[1], -_LUMA[2]])), 128.0],
    ]
)
"""(3, 4) affine map of 8-bit R, G, B to Y, Cb, Cr: `rgb_to_yuv709` as a matrix."""


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """A (height, width, 3) uint8 RGB frame (both even) as a new (height * 3 / 2, width) uint8 array of
    I420 planes: Y, then Cb, then Cr, each chroma sample the mean of its 2 x 2 pixels (as `Yuv420`).
    Values are those of `rgb_to_yuv709` within a level (OpenCV's transform is fixed-point; chroma is
    averaged after rounding)."""
    import cv2

    height, width = rgb.shape[:2]
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or height % 2 or width % 2:
        raise ValueError(f"expected an (even, even, 3) uint8 RGB frame, got {rgb.shape} {rgb.dtype}")
    out = np.empty((height * 3 // 2, width), dtype=np.uint8)
    yuv = cv2.transform(rgb, _TO_YUV)  # OpenCV's fast path is the 3-to-3 channel one
    cv2.extractChannel(yuv, 0, dst=out[:height])
    half = cv2.resize(yuv, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    chroma = out.reshape(-1)[height * width :].reshape(2, height // 2, width // 2)
    cv2.extractChannel(half, 1, dst=chroma[0])
    cv2.extractChannel(half, 2, dst=chroma[1])
    return out


_VERTEX = """
#version 330
void main() {
    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""

_WEIGHTS = f"vec3({_LUMA[0]}, {_LUMA[1]}, {_LUMA[2]})"

# Each fragment writes four 8-bit samples as one RGBA texel (the renderer's fast format, and a
# quarter of the fragments): luma of pixels 4x .. 4x + 3 of its row; Cb and Cr of four 2 x 2 blocks,
# each block's mean read as one bilinear sample at the block's centre.
_LUMA_SHADER = f"""
#version 330
uniform sampler2D u_rgb;
out vec4 f_y;
void main() {{
    ivec2 p = ivec2(4 * int(gl_FragCoord.x), int(gl_FragCoord.y));
    vec4 y = vec4(
        dot(texelFetch(u_rgb, p, 0).rgb, {_WEIGHTS}),
        dot(texelFetch(u_rgb, p + ivec2(1, 0), 0).rgb, {_WEIGHTS}),
        dot(texelFetch(u_rgb, p + ivec2(2, 0), 0).rgb, {_WEIGHTS}),
        dot(texelFetch(u_rgb, p + ivec2(3, 0), 0).rgb, {_WEIGHTS}));
    f_y = (16.0 + 219.0 * y) / 255.0;
}}
"""

_CHROMA_SHADER = f"""
#version 330
uniform sampler2D u_rgb;
layout(location = 0) out vec4 f_u;
layout(location = 1) out vec4 f_v;
void main() {{
    vec2 texel = 1.0 / vec2(textureSize(u_rgb, 0));
    vec2 at = vec2(8.0 * floor(gl_FragCoord.x) + 1.0, 2.0 * floor(gl_FragCoord.y) + 1.0) * texel;
    vec3 c0 = texture(u_rgb, at).rgb;
    vec3 c1 = texture(u_rgb, at + vec2(2.0, 0.0) * texel).rgb;
    vec3 c2 = texture(u_rgb, at + vec2(4.0, 0.0) * texel).rgb;
    vec3 c3 = texture(u_rgb, at + vec2(6.0, 0.0) * texel).rgb;
    vec4 r = vec4(c0.r, c1.r, c2.r, c3.r);
    vec4 b = vec4(c0.b, c1.b, c2.b, c3.b);
    vec4 y = vec4(dot(c0, {_WEIGHTS}), dot(c1, {_WEIGHTS}), dot(c2, {_WEIGHTS}), dot(c3, {_WEIGHTS}));
    f_u = (128.0 + 224.0 * (b - y) / {_CB_SCALE}) / 255.0;
    f_v = (128.0 + 224.0 * (r - y) / {_CR_SCALE}) / 255.0;
}}
"""


@dataclass(frozen=True)
class _Planes:
    """The framebuffers one frame's planes are drawn into."""

    luma: Any
    chroma: Any
    """Two attachments: Cb, Cr."""


class Yuv420:
    """Draws RGB frames of `width` x `height` (both even) into I420 planes on an OpenGL context and
    reads them back: (height * 3 / 2, width) uint8, the Y plane, then Cb, then Cr (each
    (height / 2, width / 2), packed), as `av.VideoFrame.from_ndarray(..., format="yuv420p")` takes
    them. Rows are read in the order the frame's texture holds them (the renderer's frames: top row
    first)."""

    def __init__(self, ctx: Any, width: int, height: int) -> None:
        if width % 8 or height % 2:
            raise ValueError(
                f"the planes need a width that is a multiple of 8 and an even height, got {width}x{height}"
            )
        self._ctx = ctx
        self.width, self.height = width, height
        luma = ctx.program(vertex_shader=_VERTEX, fragment_shader=_LUMA_SHADER)
        chroma = ctx.program(vertex_shader=_VERTEX, fragment_shader=_CHROMA_SHADER)
        for program in (luma, chroma):
            program["u_rgb"].value = 0
        self._luma = ctx.vertex_array(luma, [])
        self._chroma = ctx.vertex_array(chroma, [])

    def planes(self) -> _Planes:
        """New framebuffers for one frame's planes (one set per frame in flight)."""
        ctx = self._ctx
        chroma = (self.width // 8, self.height // 2)
        return _Planes(
            ctx.framebuffer([ctx.renderbuffer((self.width // 4, self.height), 4)]),
            ctx.framebuffer([ctx.renderbuffer(chroma, 4), ctx.renderbuffer(chroma, 4)]),
        )

    def draw(self, rgb: Any, planes: _Planes) -> None:
        """Queue the conversion of the RGB(A) texture `rgb` (width x height) into `planes`."""
        import moderngl

        rgb.use(0)
        planes.luma.use()
        self._luma.render(moderngl.TRIANGLES, vertices=3)
        planes.chroma.use()
        self._chroma.render(moderngl.TRIANGLES, vertices=3)

    def read(self, planes: _Planes) -> np.ndarray:
        """The planes as a new (height * 3 / 2, width) uint8 I420 array."""
        size = self.width * self.height
        out = np.empty((self.height * 3 // 2, self.width), dtype=np.uint8)
        planes.luma.read_into(out, components=4, alignment=1)
        planes.chroma.read_into(out, components=4, attachment=0, alignment=1, write_offset=size)
        planes.chroma.read_into(out, components=4, attachment=1, alignment=1, write_offset=size * 5 // 4)
        return out
