"""Offscreen OpenGL renderer: a `Scene` seen from a `Pose`, as an (H, W, 3) uint8 RGB frame.

The meshes are uploaded once (one vertex/index buffer and one texture per layer, mipmapped when it is
minified). Each frame is drawn into a framebuffer `supersample` times larger in each direction, with
depth testing, layers in the scene's order (farthest first) and alpha blending for RGBA textures (but
a layer that holds the photo's own transparency, `holds_photo_alpha`, is drawn opaque, the
background's colour where the photo is transparent: a cut-out's surroundings are not holes); a
second shader pass box-filters it down into the W x H output framebuffer (flipping it so that rows
come out top first) and `glReadPixels` brings the RGB back into a new array. The alpha channel records
coverage: it is cleared to 0 and geometry writes its opacity, so the output's alpha is the fraction
of each pixel that geometry covers (read back into a reused buffer only when coverage is asked for).

Colours are treated as the sRGB byte values they are (no linearisation), like most viewers do.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from dioramic.errors import UsageError
from dioramic.render.context import GLContextError, create_context
from dioramic.render.nogil import gl_calls
from dioramic.render.seal import SEAL_SHADER, seal_frame
from dioramic.types import Camera, Mesh, Pose, Scene, holds_photo_alpha, is_hidden_layer

if TYPE_CHECKING:
    import moderngl

logger = logging.getLogger(__name__)

ALPHA_CUTOFF = 1.0 / 255.0
"""Fragments of RGBA textures with a lower opacity are discarded (no colour, no depth written)."""

STRETCH_LIMIT = 4.0
"""A screen pixel counts as stretched when its surface covers more than this many times the screen area
it covers in the photo's own view (at the same render size): a rubber sheet across a depth edge, a
surface seen edge-on."""


@dataclass(frozen=True)
class FrameStats:
    """Artifact measures of one rendered frame."""

    uncovered: float
    """Fraction (0..1) of the frame no geometry covers (partly covered pixels count in part)."""
    stretched: float
    """Fraction (0..1) of the frame drawn from surfaces stretched more than the renderer's limit
    (`STRETCH_LIMIT` by default) in screen area relative to the photo's own view."""
    revealed: float = 0.0
    """Fraction (0..1) of the frame showing the scene's hidden layers: what it rebuilt behind its
    depth edges, which the photo does not show."""
    beyond: float = 0.0
    """Fraction (0..1) of the frame showing the scene beyond the photo's frame (its margin)."""

    def worse(self, other: FrameStats) -> FrameStats:
        """The larger of each measure of this frame's and `other`'s (e.g. the two eyes of a stereo
        frame)."""
        return FrameStats(
            max(self.uncovered, other.uncovered),
            max(self.stretched, other.stretched),
            max(self.revealed, other.revealed),
            max(self.beyond, other.beyond),
        )


_NEAR_FAR_MARGIN = 1.05
"""The clip planes sit this factor outside the scene's depth range as seen from the pose."""

_HIDDEN_OFFSET = (1.0, 4.0)
"""glPolygonOffset (factor, units) of hidden layers: where one coincides with the surface in front of it
(its seam with the far side it continues) the surface wins the depth test."""

_MIN_NEAR_FRACTION = 1e-3
"""The near plane never comes closer than this fraction of the far plane (24-bit depth precision)."""

_MESH_VERTEX_SHADER = """
#version 330
uniform mat4 u_mvp;
in vec3 in_position;
in vec2 in_uv;
out vec2 v_uv;
out vec3 v_position;
void main() {
    gl_Position = u_mvp * vec4(in_position, 1.0);
    v_uv = in_uv;
    v_position = in_position;
}
"""

_PLAIN_VERTEX_SHADER = """
#version 330
uniform mat4 u_mvp;
in vec3 in_position;
in vec2 in_uv;
out vec2 v_uv;
void main() {
    gl_Position = u_mvp * vec4(in_position, 1.0);
    v_uv = in_uv;
}
"""

# Stretch: the photo-pixel coordinates of the fragment (its scene position projected by the photo's
# camera) and their screen derivatives give |det J|, the photo area one screen pixel shows. Where it is
# below u_reference (its value in the photo's own view) / limit, the surface is stretched on screen.
_STRETCH_GLSL = """
uniform vec4 u_photo;  // fx, fy, cx, cy of the photo's camera, photo pixels
uniform vec2 u_size;  // width, height of the photo, pixels
uniform float u_min_det;  // photo's-own-view |det J| / stretch limit
uniform float u_hidden;  // 1 for a layer the photo does not show (rebuilt behind its edges)
in vec3 v_position;
float stretched() {
    vec2 q = vec2(u_photo.x * v_position.x, -u_photo.y * v_position.y) / -v_position.z + u_photo.zw;
    vec2 dx = dFdx(q);
    vec2 dy = dFdy(q);
    return abs(dx.x * dy.y - dx.y * dy.x) < u_min_det ? 1.0 : 0.0;
}
vec2 unseen() {  // (in a hidden layer, beyond the photo's frame)
    vec2 q = vec2(u_photo.x * v_position.x, -u_photo.y * v_position.y) / -v_position.z + u_photo.zw;
    bool outside = any(lessThan(q, vec2(0.0))) || any(greaterThan(q, u_size));
    return vec2(outside ? 0.0 : u_hidden, outside ? 1.0 : 0.0);
}
"""


def _layer_shader(body: str, statistics: bool) -> str:
    """A layer's fragment shader: `body` (GLSL statements) sets `f_color` from the texel `c` and,
    with `statistics`, `f_stretch` (the second attachment: `_STRETCH_GLSL`'s flags)."""
    outputs = (
        f"layout(location = 0) out vec4 f_color;\nlayout(location = 1) out vec4 f_stretch;\n{_STRETCH_GLSL}"
        if statistics
        else "out vec4 f_color;"
    )
    return f"""
#version 330
uniform sampler2D u_texture;
uniform vec3 u_background;
in vec2 v_uv;
{outputs}
void main() {{
    vec4 c = texture(u_texture, v_uv);
{body}
}}
"""


_OPAQUE = "    f_color = vec4(c.rgb, 1.0);"
_STATS_OPAQUE = "    f_stretch = vec4(stretched(), unseen(), 1.0);"
_ALPHA = f"    if (c.a < {ALPHA_CUTOFF:.8f}) discard;\n    f_color = c;"
_STATS_ALPHA = (
    "    f_stretch = vec4(stretched(), unseen(), c.a > 0.25 ? 1.0 : 0.0);  // what the colour mostly is"
)
# A layer holding the photo's own transparency (`holds_photo_alpha`: a cut-out's empty surroundings)
# is opaque, with the background's colour where the photo shows nothing: that is no hole, and what
# a transparent texel shows of the layer is no fill, so its flags count by its opacity.
_CUTOUT = "    f_color = vec4(mix(u_background, c.rgb, c.a), 1.0);"
_STATS_CUTOUT = "    f_stretch = vec4(vec3(stretched(), unseen()) * c.a, 1.0);"

_OPAQUE_FRAGMENT_SHADER = _layer_shader(f"{_OPAQUE}\n{_STATS_OPAQUE}", statistics=True)
_ALPHA_FRAGMENT_SHADER = _layer_shader(f"{_ALPHA}\n{_STATS_ALPHA}", statistics=True)
_CUTOUT_FRAGMENT_SHADER = _layer_shader(f"{_CUTOUT}\n{_STATS_CUTOUT}", statistics=True)
# The video's frames need only the colour: no second attachment, no derivatives.
_PLAIN_OPAQUE_SHADER = _layer_shader(_OPAQUE, statistics=False)
_PLAIN_ALPHA_SHADER = _layer_shader(_ALPHA, statistics=False)
_PLAIN_CUTOUT_SHADER = _layer_shader(_CUTOUT, statistics=False)

# One triangle that covers the whole viewport, its corners made from gl_VertexID (no vertex buffer).
_FULLSCREEN_VERTEX_SHADER = """
#version 330
void main() {
    vec2 p = vec2((gl_VertexID << 1) & 2, gl_VertexID & 2);
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
"""


def _downsample_shader(factor: int, height: int) -> str:
    """Fragment shader averaging each `factor` x `factor` block of the supersampled image (box filter).

    Output row y (OpenGL counts from the bottom) takes the block of image row ``height - 1 - y``, so
    that glReadPixels, which returns the bottom row first, gives the image top row first. An even
    factor uses (factor/2)^2 bilinear taps placed on texel corners (each one is the exact mean of a
    2 x 2 block); an odd factor fetches every texel.
    """
    if factor % 2 == 0:
        body = f"""
    vec2 inv_size = 1.0 / vec2(textureSize(u_source, 0));
    for (int j = 1; j < {factor}; j += 2)
        for (int i = 1; i < {factor}; i += 2) {{
            vec2 at = vec2(base + ivec2(i, j)) * inv_size;
            sum += texture(u_source, at);
            flag += texture(u_stretch, at).rgb;
        }}
    f_color = sum / {(factor // 2) ** 2:.1f};
    f_stretch = vec4(flag / {(factor // 2) ** 2:.1f}, 0.0);"""
    else:
        body = f"""
    for (int j = 0; j < {factor}; ++j)
        for (int i = 0; i < {factor}; ++i) {{
            sum += texelFetch(u_source, base + ivec2(i, j), 0);
            flag += texelFetch(u_stretch, base + ivec2(i, j), 0).rgb;
        }}
    f_color = sum / {factor * factor:.1f};
    f_stretch = vec4(flag / {factor * factor:.1f}, 0.0);"""
    return f"""
#version 330
uniform sampler2D u_source;
uniform sampler2D u_stretch;
layout(location = 0) out vec4 f_color;
layout(location = 1) out vec4 f_stretch;
void main() {{
    ivec2 pixel = ivec2(gl_FragCoord.xy);
    ivec2 base = ivec2(pixel.x, {height - 1} - pixel.y) * {factor};
    vec4 sum = vec4(0.0);
    vec3 flag = vec3(0.0);{body}
}}
"""


def _colour_downsample_shader(factor: int, height: int) -> str:
    """Like `_downsample_shader`, for the colour alone (the video's frames)."""
    if factor % 2 == 0:
        body = f"""
    vec2 inv_size = 1.0 / vec2(textureSize(u_source, 0));
    for (int j = 1; j < {factor}; j += 2)
        for (int i = 1; i < {factor}; i += 2)
            sum += texture(u_source, vec2(base + ivec2(i, j)) * inv_size);
    f_color = sum / {(factor // 2) ** 2:.1f};"""
    else:
        body = f"""
    for (int j = 0; j < {factor}; ++j)
        for (int i = 0; i < {factor}; ++i)
            sum += texelFetch(u_source, base + ivec2(i, j), 0);
    f_color = sum / {factor * factor:.1f};"""
    return f"""
#version 330
uniform sampler2D u_source;
out vec4 f_color;
void main() {{
    ivec2 pixel = ivec2(gl_FragCoord.xy);
    ivec2 base = ivec2(pixel.x, {height - 1} - pixel.y) * {factor};
    vec4 sum = vec4(0.0);{body}
}}
"""


def perspective(fov_y: float, aspect: float, near: float, far: float, shift_x: float = 0.0) -> np.ndarray:
    """(4, 4) float64 OpenGL projection matrix (camera space -> clip space, depth to [-1, 1]).

    `fov_y` is the vertical field of view in radians, `aspect` width / height, `near`/`far` the clip
    distances in metres and `shift_x` a horizontal lens shift in normalised device coordinates (the
    image is 2 wide), used for off-axis stereo.
    """
    f = 1.0 / math.tan(fov_y / 2.0)
    proj = np.zeros((4, 4))
    proj[0, 0] = f / aspect
    proj[0, 2] = shift_x
    proj[1, 1] = f
    proj[2, 2] = (far + near) / (near - far)
    proj[2, 3] = 2.0 * far * near / (near - far)
    proj[3, 2] = -1.0
    return proj


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # einsum keeps these tiny products off BLAS, whose idle threads would spin on the shared cores.
    return np.einsum("ij,jk->ik", a, b)


class GLRenderer:
    """Renders a `Scene` offscreen into W x H RGB frames.

    Parameters
    ----------
    scene
        The scene; its meshes are uploaded once, here.
    width, height
        Output size in pixels.
    supersample
        Anti-aliasing factor: the scene is drawn at (supersample * width) x (supersample * height)
        and box-filtered down on the GPU. 1 disables anti-aliasing.
    background
        RGB colour (0..255) of pixels no geometry covers.
    backend
        OpenGL context backend (see `dioramic.render.context.create_context`).
    mipmaps
        Sample textures trilinearly from mipmaps (True) or bilinearly from the full-size image
        (False: about 15% faster on llvmpipe, but aliasing where a texture is strongly minified).
        None (the default) decides per texture: mipmaps only for a texture with more texels than
        the supersampled frame has pixels along either axis, i.e. one that is minified on screen.
    stretch_limit
        The screen-area ratio over which a surface counts as stretched in `FrameStats.stretched`.

    The renderer owns an OpenGL context current on the creating thread: call it from that thread, and
    `close()` it (or use it as a context manager).
    """

    def __init__(
        self,
        scene: Scene,
        width: int,
        height: int,
        *,
        supersample: int = 1,
        background: tuple[int, int, int] = (0, 0, 0),
        backend: str = "egl",
        mipmaps: bool | None = None,
        stretch_limit: float = STRETCH_LIMIT,
    ) -> None:
        if width < 1 or height < 1:
            raise UsageError(f"the frame size must be positive, got {width}x{height}")
        if not 1 <= supersample <= 8:
            raise UsageError(f"supersample must be within 1..8, got {supersample}")
        if len(background) != 3 or not all(0 <= c <= 255 for c in background):
            raise UsageError(f"background must be three values within 0..255, got {background}")
        self.scene = scene
        self.width = int(width)
        self.height = int(height)
        self.supersample = int(supersample)
        self.background = tuple(int(c) for c in background)
        if not (math.isfinite(stretch_limit) and stretch_limit > 1.0):
            raise UsageError(f"the stretch limit must be a ratio > 1, got {stretch_limit}")
        self.stretch_limit = float(stretch_limit)
        self._layers: list[_Layer] = []
        self._yuv: Any = None
        self._yuv_planes: list[Any] = []
        self._released = False
        self._ctx = create_context(backend)
        self._gl = gl_calls(backend)  # the long calls without the GIL, where the driver allows
        self._in_flight = 1 if self.software else 2  # frames `render_sequence` draws ahead (see there)
        try:
            self._setup(mipmaps)
        except BaseException:
            self._release_gl()
            raise
        self._corners = _bounding_box_corners(scene.meshes)
        self._rgba = np.empty((self.height, self.width, 4), dtype=np.uint8)
        self._flags = np.empty((self.height, self.width, 3), dtype=np.uint8)

    # -- setup -------------------------------------------------------------------------------------

    def _setup(self, mipmaps: bool | None) -> None:
        import moderngl

        ctx = self._ctx
        ss_size = (self.width * self.supersample, self.height * self.supersample)
        limit = min(int(ctx.info["GL_MAX_RENDERBUFFER_SIZE"]), int(ctx.info["GL_MAX_VIEWPORT_DIMS"][0]))
        if max(ss_size) > limit:
            raise UsageError(
                f"{self.width}x{self.height} at supersample {self.supersample} needs a "
                f"{ss_size[0]}x{ss_size[1]} framebuffer, over this OpenGL's limit of {limit}: "
                "lower the size or the supersample factor"
            )
        self._opaque_program = ctx.program(
            vertex_shader=_MESH_VERTEX_SHADER, fragment_shader=_OPAQUE_FRAGMENT_SHADER
        )
        self._alpha_program = ctx.program(
            vertex_shader=_MESH_VERTEX_SHADER, fragment_shader=_ALPHA_FRAGMENT_SHADER
        )
        cam = self.scene.camera
        # photo pixels per screen pixel in the photo's own view: fx / f_screen and fy / f_screen
        reference = (cam.fx / cam.fy) * (cam.height / ss_size[1]) ** 2
        self._cutout_program = ctx.program(
            vertex_shader=_MESH_VERTEX_SHADER, fragment_shader=_CUTOUT_FRAGMENT_SHADER
        )
        for program in (self._opaque_program, self._alpha_program, self._cutout_program):
            program["u_photo"].value = (cam.fx, cam.fy, cam.cx, cam.cy)
            program["u_size"].value = (cam.width, cam.height)
            program["u_min_det"].value = reference / self.stretch_limit
        self._plain_opaque = ctx.program(
            vertex_shader=_PLAIN_VERTEX_SHADER, fragment_shader=_PLAIN_OPAQUE_SHADER
        )
        self._plain_alpha = ctx.program(
            vertex_shader=_PLAIN_VERTEX_SHADER, fragment_shader=_PLAIN_ALPHA_SHADER
        )
        self._plain_cutout = ctx.program(
            vertex_shader=_PLAIN_VERTEX_SHADER, fragment_shader=_PLAIN_CUTOUT_SHADER
        )
        background = tuple(c / 255.0 for c in self.background)
        self._cutout_program["u_background"].value = background
        self._plain_cutout["u_background"].value = background
        max_texture = int(ctx.info["GL_MAX_TEXTURE_SIZE"])
        for mesh in self.scene.meshes:
            if len(mesh.faces) == 0:
                continue
            rgba = mesh.texture.ndim == 3 and mesh.texture.shape[2] == 4
            cutout = rgba and holds_photo_alpha(mesh.name)  # opaque, the background where transparent
            blended = rgba and not cutout
            program, plain = (
                (self._alpha_program, self._plain_alpha)
                if blended
                else (self._cutout_program, self._plain_cutout)
                if cutout
                else (self._opaque_program, self._plain_opaque)
            )
            height, width = mesh.texture.shape[:2]
            minified = width > ss_size[0] or height > ss_size[1]
            texture = self._upload_texture(mesh, max_texture, minified if mipmaps is None else mipmaps)
            vertices = np.empty((len(mesh.vertices), 5), dtype=np.float32)
            vertices[:, :3] = mesh.vertices
            vertices[:, 3:] = mesh.uvs
            faces = mesh.faces if blended else _in_locality_order(mesh.faces, mesh.uvs)
            vbo = ctx.buffer(vertices.tobytes())
            ibo = ctx.buffer(np.ascontiguousarray(faces, dtype=np.uint32).tobytes())
            vao, plain_vao = (
                ctx.vertex_array(
                    shader, [(vbo, "3f 2f", "in_position", "in_uv")], index_buffer=ibo, index_element_size=4
                )
                for shader in (program, plain)
            )
            self._layers.append(_Layer(vao, plain_vao, texture, blended, program, is_hidden_layer(mesh.name)))
        # the frame: opaque layers nearest first (what the surface covers fails the depth test before
        # it is shaded), then the blended ones in the scene's order
        self._frame_order = [layer for layer in reversed(self._layers) if not layer.blended] + [
            layer for layer in self._layers if layer.blended
        ]

        self._ss_color = ctx.texture(ss_size, 4)
        self._ss_color.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self._ss_color.repeat_x = self._ss_color.repeat_y = False
        self._ss_stretch = ctx.texture(ss_size, 3)
        self._ss_stretch.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self._ss_stretch.repeat_x = self._ss_stretch.repeat_y = False
        self._ss_depth = ctx.depth_renderbuffer(ss_size)
        self._ss_fbo = ctx.framebuffer([self._ss_color, self._ss_stretch], self._ss_depth)
        self._stretch_fbo = ctx.framebuffer([self._ss_stretch])  # to clear the flags to 0 alone
        self._out_color = ctx.renderbuffer((self.width, self.height), 4)
        self._out_stretch = ctx.renderbuffer((self.width, self.height), 3)
        self._out_fbo = ctx.framebuffer([self._out_color, self._out_stretch])
        self._downsample_program = ctx.program(
            vertex_shader=_FULLSCREEN_VERTEX_SHADER,
            fragment_shader=_downsample_shader(self.supersample, self.height),
        )
        self._downsample_program["u_source"].value = 0
        self._downsample_program["u_stretch"].value = 1
        self._downsample_vao = ctx.vertex_array(self._downsample_program, [])
        seal = ctx.program(vertex_shader=_FULLSCREEN_VERTEX_SHADER, fragment_shader=SEAL_SHADER)
        seal["u_source"].value = 0
        seal["u_background"].value = tuple(c / 255.0 for c in self.background)
        self._seal_vao = ctx.vertex_array(seal, [])
        # the video's frames: drawn straight into the output at 1x, else downsampled from a
        # supersampled colour buffer; a second slot is made for `render_sequence`
        self._frame_slots = [self._frame_slot(self._ss_color, self._ss_depth)]
        if self.supersample > 1:
            colour_down = ctx.program(
                vertex_shader=_FULLSCREEN_VERTEX_SHADER,
                fragment_shader=_colour_downsample_shader(self.supersample, self.height),
            )
            colour_down["u_source"].value = 0
            self._colour_down_vao = ctx.vertex_array(colour_down, [])
        # Colour is blended with "over"; alpha accumulates coverage: a + dst_a * (1 - a).
        ctx.blend_func = (
            moderngl.SRC_ALPHA,
            moderngl.ONE_MINUS_SRC_ALPHA,
            moderngl.ONE,
            moderngl.ONE_MINUS_SRC_ALPHA,
        )

    def _frame_slot(self, ss_color: Any = None, ss_depth: Any = None) -> _Slot:
        """Framebuffers for the video's frames: at 1x one with its own depth; supersampled, one at the
        large size (`ss_color`, `ss_depth` or new ones) and the output it is filtered down into."""
        import moderngl

        ctx = self._ctx
        colour = ctx.texture((self.width, self.height), 4)  # a texture: the seal pass reads it
        out = ctx.framebuffer(
            [colour], ctx.depth_renderbuffer((self.width, self.height)) if self.supersample == 1 else None
        )
        sealed_colour = ctx.texture((self.width, self.height), 4)  # and the YUV passes this one
        sealed = ctx.framebuffer([sealed_colour])
        if self.supersample == 1:
            return _Slot(out, out, None, colour, sealed, sealed_colour)
        size = (self.width * self.supersample, self.height * self.supersample)
        if ss_color is None:
            ss_color = ctx.texture(size, 4)
            ss_color.filter = (moderngl.LINEAR, moderngl.LINEAR)
            ss_color.repeat_x = ss_color.repeat_y = False
            ss_depth = ctx.depth_renderbuffer(size)
        return _Slot(ctx.framebuffer([ss_color], ss_depth), out, ss_color, colour, sealed, sealed_colour)

    def _upload_texture(self, mesh: Mesh, max_size: int, mipmaps: bool) -> moderngl.Texture:
        import moderngl

        image = mesh.texture
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
            raise ValueError(
                f"Mesh '{mesh.name}' texture must be (H, W, 3|4) uint8, got {image.shape} {image.dtype}"
            )
        height, width = image.shape[:2]
        if max(height, width) > max_size:
            import cv2

            scale = max_size / max(height, width)
            size = (max(1, int(width * scale)), max(1, int(height * scale)))
            logger.warning(
                "texture of '%s' is %dx%d, over this OpenGL's limit of %d: using %dx%d",
                mesh.name, width, height, max_size, *size,
            )  # fmt: skip
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            height, width = image.shape[:2]
        # Rows go up top row first, so texture coordinate v = 0 is the image's top row, as in glTF.
        texture = self._ctx.texture((width, height), image.shape[2], np.ascontiguousarray(image), alignment=1)
        texture.repeat_x = texture.repeat_y = False
        if mipmaps:
            texture.build_mipmaps()
            texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
        else:
            texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        return texture

    @property
    def software(self) -> bool:
        """Whether the OpenGL driver rasterises on the CPU (Mesa's llvmpipe or softpipe)."""
        return any(name in str(self._ctx.info["GL_RENDERER"]) for name in ("llvmpipe", "softpipe"))

    @property
    def device(self) -> str:
        """The OpenGL renderer and version, e.g. 'llvmpipe (LLVM 15.0.6, 256 bits), 4.5 ...'."""
        return f"{self._ctx.info['GL_RENDERER']}, {self._ctx.info['GL_VERSION']}"

    # -- drawing -----------------------------------------------------------------------------------

    def clip_planes(self, pose: Pose) -> tuple[float, float]:
        """(near, far) clip distances in metres for `pose`, from the scene's bounding box.

        The box's corners are moved by the pose's object matrix and view; the planes enclose their
        depth range with a margin (at the identity pose: about scene.near / 1.05 .. scene.far * 1.05).
        """
        to_camera = _matmul(pose.view_matrix(), np.asarray(pose.object_matrix, dtype=np.float64))
        depths = -(_matmul(self._corners, to_camera.T)[:, 2])
        far = max(float(depths.max()), self.scene.far, 1e-6) * _NEAR_FAR_MARGIN
        nearest = float(depths.min()) / _NEAR_FAR_MARGIN
        near = max(nearest, far * _MIN_NEAR_FRACTION)
        return near, far

    def projection(self, pose: Pose, eye_offset: float = 0.0, convergence: float | None = None) -> np.ndarray:
        """(4, 4) float64 clip-from-world matrix (projection @ view @ object) for `pose`.

        `eye_offset` moves the eye that many metres along the camera's right axis; `convergence`
        (metres in front of the camera) is then where the off-axis frustum puts zero parallax.
        """
        if not 0.0 < pose.fov_y < math.pi:
            raise ValueError(f"Pose.fov_y must be within (0, pi) radians, got {pose.fov_y}")
        near, far = self.clip_planes(pose)
        aspect = self.width / self.height
        shift = 0.0
        if eye_offset and convergence and convergence > 0.0:
            shift = -eye_offset / convergence / (math.tan(pose.fov_y / 2.0) * aspect)
        proj = perspective(pose.fov_y, aspect, near, far, shift)
        view = pose.view_matrix()
        if eye_offset:
            view[0, 3] -= eye_offset
        return _matmul(_matmul(proj, view), np.asarray(pose.object_matrix, dtype=np.float64))

    @overload
    def render(
        self,
        pose: Pose,
        *,
        with_coverage: Literal[False] = ...,
        eye_offset: float = ...,
        convergence: float | None = ...,
    ) -> np.ndarray: ...

    @overload
    def render(
        self,
        pose: Pose,
        *,
        with_coverage: Literal[True],
        eye_offset: float = ...,
        convergence: float | None = ...,
    ) -> tuple[np.ndarray, float]: ...

    def render(
        self,
        pose: Pose,
        *,
        with_coverage: bool = False,
        eye_offset: float = 0.0,
        convergence: float | None = None,
    ) -> np.ndarray | tuple[np.ndarray, float]:
        """Draw the scene as seen from `pose`.

        Returns
        -------
        frame
            (height, width, 3) uint8 RGB, top row first, a new array each call.
        uncovered
            Only with ``with_coverage=True``: the fraction (0..1) of the frame no geometry covers
            (pixels partly covered count in part), i.e. where the background shows.
        """
        self._check_open()
        with self._ctx:  # current on this thread, even if another renderer's context was made since
            self._draw_frame(pose, eye_offset, convergence)
            if not with_coverage:
                return self._read_rgb(self._frame_slots[0])
            self._frame_slots[0].out.read_into(self._rgba, components=4, alignment=1)
        import cv2  # a strided numpy copy of the RGB channels costs several times the read

        return cv2.cvtColor(self._rgba, cv2.COLOR_RGBA2RGB), _uncovered(self._rgba)

    def render_sequence(
        self, views: Iterable[tuple[Pose, float, float | None]], *, yuv420: bool = False
    ) -> Iterator[np.ndarray]:
        """Draw the scene from each (pose, eye_offset, convergence) of `views` in turn: yields each
        frame as `render` returns it, in order, or with `yuv420` as (height * 3 / 2, width) uint8
        I420 planes, BT.709 limited range (`dioramic.render.yuv`; an even width and height).

        On a GPU two frames are in flight: each is drawn before the one before it is read back, so
        that the GPU draws while the CPU sets up the next frame. A CPU rasteriser (llvmpipe) already
        keeps every core busy while it rasterises, and drawing ahead would only make its threads
        compete with the setup of the next frame: there one frame is drawn at a time. Either way the
        waits for the rasteriser release the GIL (`dioramic.render.nogil`). The renderer's other
        methods may be called between frames (they wait for what is in flight)."""
        self._check_open()
        with self._ctx:
            while len(self._frame_slots) < self._in_flight:
                self._frame_slots.append(self._frame_slot())
            if yuv420 and self._yuv is None:
                from dioramic.render.yuv import Yuv420

                self._yuv = Yuv420(self._ctx, self.width, self.height)
                self._yuv_planes = [self._yuv.planes() for _ in range(2)]
        pending: list[tuple[int, int | None]] = []  # (slot, fence) of the frames in flight
        for index, (pose, eye_offset, convergence) in enumerate(views):
            slot = index % self._in_flight
            with self._ctx:
                self._draw_frame(pose, eye_offset, convergence, slot=self._frame_slots[slot], seal=yuv420)
                if yuv420:
                    self._yuv.draw(self._frame_slots[slot].sealed_colour, self._yuv_planes[slot])
                pending.append((slot, None if self._gl is None else self._gl.fence()))
                frame = self._read_slot(*pending.pop(0), yuv420) if len(pending) == self._in_flight else None
            if frame is not None:
                yield frame
        while pending:
            with self._ctx:
                frame = self._read_slot(*pending.pop(0), yuv420)
            yield frame

    def _read_slot(self, index: int, fence: int | None, yuv420: bool) -> np.ndarray:
        if fence is not None and self._gl is not None:
            self._gl.wait(fence)  # the frame is done: the read below does not wait (with the GIL)
        if yuv420:
            assert self._yuv is not None
            return self._yuv.read(self._yuv_planes[index])
        return self._read_rgb(self._frame_slots[index])

    def _read_rgb(self, slot: _Slot) -> np.ndarray:
        """A slot's frame as a new (height, width, 3) uint8 RGB array, top row first, its pinhole gaps
        sealed (`dioramic.render.seal`)."""
        slot.out.read_into(self._rgba, components=4, alignment=1)
        return seal_frame(self._rgba, self.background)

    def render_rgba(
        self, pose: Pose, *, eye_offset: float = 0.0, convergence: float | None = None
    ) -> np.ndarray:
        """Draw the scene as seen from `pose`: (height, width, 4) uint8 RGBA, top row first, alpha =
        coverage, into a buffer the next call reuses (the cheapest read; copy it to keep it)."""
        self._check_open()
        with self._ctx:
            self._draw_frame(pose, eye_offset, convergence)
            self._frame_slots[0].out.read_into(self._rgba, components=4, alignment=1)
            return self._rgba

    def render_stats(
        self, pose: Pose, *, eye_offset: float = 0.0, convergence: float | None = None
    ) -> tuple[np.ndarray, FrameStats]:
        """Draw the scene as seen from `pose` through the statistics' shaders: the frame (as
        `render`) and its `FrameStats`."""
        self._check_open()
        with self._ctx:
            self._draw(pose, eye_offset, convergence)
            frame = np.empty((self.height, self.width, 3), dtype=np.uint8)
            self._out_fbo.read_into(frame, components=3, alignment=1)
            return frame, self._read_stats()

    def measure(self, pose: Pose, *, eye_offset: float = 0.0, convergence: float | None = None) -> FrameStats:
        """The `FrameStats` of the frame `pose` gives, without reading the frame back."""
        self._check_open()
        with self._ctx:
            self._draw(pose, eye_offset, convergence)
            return self._read_stats()

    def measure_pixels(self, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
        """What `measure` averages, per pixel: (height, width) uint8 coverage (255 = covered) and
        (height, width, 3) uint8 flags (stretched, revealed, beyond; 255 = the whole pixel), new
        arrays, top row first."""
        self._check_open()
        with self._ctx:
            self._draw(pose, 0.0, None)
            self._read_stats()
            return self._rgba[:, :, 3].copy(), self._flags.copy()

    def _read_stats(self) -> FrameStats:
        self._out_fbo.read_into(self._flags, components=3, attachment=1, alignment=1)
        self._out_fbo.read_into(self._rgba, components=4, alignment=1)
        share = [
            min(1.0, int(self._flags[:, :, k].sum(dtype=np.uint64)) / (255.0 * self.width * self.height))
            for k in range(3)
        ]
        return FrameStats(_uncovered(self._rgba), share[0], share[1], share[2])

    def _check_open(self) -> None:
        if self._released:
            raise GLContextError("this renderer has been closed")

    def camera_projection(self, pose: Pose, camera: Camera) -> np.ndarray:
        """(4, 4) float64 clip-from-world matrix for `pose` seen through the pinhole `camera` (its
        focal lengths and principal point, in pixels of the renderer's own width x height)."""
        if (camera.width, camera.height) != (self.width, self.height):
            raise ValueError(
                f"the camera is {camera.width}x{camera.height}, the renderer {self.width}x{self.height}"
            )
        near, far = self.clip_planes(pose)
        proj = perspective(pose.fov_y, self.width / self.height, near, far)
        proj[0, 0] = 2.0 * camera.fx / camera.width
        proj[1, 1] = 2.0 * camera.fy / camera.height
        proj[0, 2] = 1.0 - 2.0 * camera.cx / camera.width
        proj[1, 2] = 2.0 * camera.cy / camera.height - 1.0
        return _matmul(_matmul(proj, pose.view_matrix()), np.asarray(pose.object_matrix, dtype=np.float64))

    def render_camera(self, pose: Pose, camera: Camera) -> np.ndarray:
        """Draw the scene from `pose` through the pinhole `camera` (see `camera_projection`): a new
        (height, width, 4) uint8 RGBA array, top row first, alpha = coverage."""
        self._check_open()
        with self._ctx:
            self._draw_frame(pose, 0.0, None, self.camera_projection(pose, camera))
            self._frame_slots[0].out.read_into(self._rgba, components=4, alignment=1)
            return self._rgba.copy()

    def _draw_frame(
        self,
        pose: Pose,
        eye_offset: float,
        convergence: float | None,
        projection: np.ndarray | None = None,
        slot: _Slot | None = None,
        seal: bool = False,
    ) -> None:
        """Draw the video's frame (colour only) into `slot.out` (the first slot by default), to be
        read top row first; with `seal`, then into `slot.sealed` with its pinhole gaps closed on the
        GPU (`dioramic.render.seal`; frames read back as RGB are sealed on the CPU)."""
        import moderngl

        ctx = self._ctx
        slot = slot or self._frame_slots[0]
        direct = self.supersample == 1
        fbo = slot.draw
        fbo.use()
        ctx.enable(moderngl.DEPTH_TEST)
        red, green, blue = (c / 255.0 for c in self.background)
        fbo.clear(red, green, blue, 0.0, depth=1.0)
        if projection is None:
            projection = self.projection(pose, eye_offset, convergence)
        if direct:  # drawn upside down, so that glReadPixels gives the top row first
            projection = _FLIP @ projection
        self._underlay(fbo, projection, pose)
        mvp = projection.T.astype(np.float32).tobytes()
        for program in (self._plain_opaque, self._plain_alpha, self._plain_cutout):
            program["u_mvp"].write(mvp)
        for layer in self._frame_order:
            if layer.blended:
                ctx.enable(moderngl.BLEND)
            else:
                ctx.disable(moderngl.BLEND)
            ctx.polygon_offset = _HIDDEN_OFFSET if layer.hidden else (0.0, 0.0)
            layer.texture.use(0)
            if self._gl is None:
                layer.plain_vao.render(moderngl.TRIANGLES)
            else:
                self._gl.draw(layer.plain_vao)
        ctx.disable(moderngl.DEPTH_TEST | moderngl.BLEND)
        ctx.polygon_offset = (0.0, 0.0)
        if not direct:
            slot.out.use()
            slot.ss_color.use(0)
            self._colour_down_vao.render(moderngl.TRIANGLES, vertices=3)
        if seal:
            slot.sealed.use()
            slot.colour.use(0)
            self._seal_vao.render(moderngl.TRIANGLES, vertices=3)

    def _underlay(self, fbo: Any, projection: np.ndarray, pose: Pose) -> None:
        """Draw into the cleared `fbo` (clip-from-world `projection`) before the frame's layers, which
        then show only where this leaves the depth at the far plane; a hook for renderers that show
        something else in front of the scene's own meshes (`dioramic.render.blend`). Nothing here."""

    def _draw(self, pose: Pose, eye_offset: float, convergence: float | None) -> None:
        """The frame and its statistics' flags into `self._out_fbo` (colour, flags; read top row first)."""
        import moderngl

        ctx = self._ctx
        self._ss_fbo.use()
        ctx.enable(moderngl.DEPTH_TEST)
        red, green, blue = (c / 255.0 for c in self.background)
        self._ss_fbo.clear(red, green, blue, 0.0, depth=1.0)
        self._stretch_fbo.clear(0.0, 0.0, 0.0, 0.0)
        self._ss_fbo.use()
        mvp = self.projection(pose, eye_offset, convergence).T.astype(np.float32).tobytes()
        for program in (self._opaque_program, self._alpha_program, self._cutout_program):
            program["u_mvp"].write(mvp)
        for layer in self._layers:
            if layer.blended:
                ctx.enable(moderngl.BLEND)
            else:
                ctx.disable(moderngl.BLEND)
            layer.program["u_hidden"].value = 1.0 if layer.hidden else 0.0
            # a hidden layer coincides with the surface in front of it where it joins it: it yields
            ctx.polygon_offset = _HIDDEN_OFFSET if layer.hidden else (0.0, 0.0)
            layer.texture.use(0)
            layer.vao.render(moderngl.TRIANGLES)
        ctx.disable(moderngl.DEPTH_TEST | moderngl.BLEND)
        ctx.polygon_offset = (0.0, 0.0)
        self._out_fbo.use()
        self._ss_color.use(0)
        self._ss_stretch.use(1)
        self._downsample_vao.render(moderngl.TRIANGLES, vertices=3)

    # -- lifetime ----------------------------------------------------------------------------------

    def _release_gl(self) -> None:
        self._released = True
        self._layers.clear()
        self._ctx.release()

    def close(self) -> None:
        """Release the OpenGL context and everything on it; the renderer cannot be used after."""
        if not self._released:
            self._release_gl()

    def __enter__(self) -> GLRenderer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class _Layer:
    vao: Any
    """The mesh's vertex array for the statistics' shaders."""
    plain_vao: Any
    """The same buffers for the frame's shaders."""
    texture: Any
    blended: bool
    program: Any
    hidden: bool


@dataclass(frozen=True)
class _Slot:
    """Where one video frame is drawn (`draw`) and read from (`out`: the same at 1x)."""

    draw: Any
    out: Any
    ss_color: Any
    """The supersampled colour texture `draw` renders into; None at 1x."""
    colour: Any
    """The frame's colour texture, `out`'s attachment."""
    sealed: Any
    """The frame with its pinhole gaps closed on the GPU (`dioramic.render.seal`), for the YUV passes."""
    sealed_colour: Any
    """`sealed`'s colour texture."""


_FLIP = np.diag([1.0, -1.0, 1.0, 1.0])
"""Clip-space flip of the image's rows (drawn upside down, read top row first)."""


def _in_locality_order(faces: np.ndarray, uvs: np.ndarray, bits: int = 10) -> np.ndarray:
    """`faces` sorted along a Z-order curve over the texture: neighbours on screen are drawn one after
    another, so llvmpipe's vertex cache shades each shared vertex about once (the quadtree lists its
    triangles level by level, scattered over the image). Only for opaque layers: their result does
    not depend on the order."""
    if len(faces) < 2:
        return faces
    cells = np.clip(uvs[faces].mean(axis=1) * (1 << bits), 0, (1 << bits) - 1).astype(np.uint32)
    code = np.zeros(len(faces), np.uint64)
    for axis in (0, 1):
        spread = cells[:, axis].astype(np.uint64)  # interleave: bit b of the axis to bit 2b + axis
        for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
            spread = (spread | (spread << np.uint64(shift))) & np.uint64(mask)
        code |= spread << np.uint64(axis)
    return faces[np.argsort(code, kind="stable")]


def _uncovered(rgba: np.ndarray) -> float:
    """The fraction (0..1) of an RGBA frame (alpha = coverage) that no geometry covers."""
    covered = int(rgba[:, :, 3].sum(dtype=np.uint64)) / (255.0 * rgba.shape[0] * rgba.shape[1])
    return float(min(1.0, max(0.0, 1.0 - covered)))


def _bounding_box_corners(meshes: tuple[Mesh, ...]) -> np.ndarray:
    """(8, 4) float64 homogeneous corners of the box around every vertex of `meshes`."""
    points = [m.vertices for m in meshes if len(m.vertices)]
    if not points:
        return np.array([[0.0, 0.0, -1.0, 1.0]] * 8)
    lo = np.min([p.min(axis=0) for p in points], axis=0).astype(np.float64)
    hi = np.max([p.max(axis=0) for p in points], axis=0).astype(np.float64)
    corners = np.array(
        [[x, y, z, 1.0] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    return corners
