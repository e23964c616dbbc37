"""View-dependent rendering of a reconstruction: near the photos' viewpoints, the frame is made of the
photos themselves, each draped over its own surface, blended (an unstructured lumigraph over per-photo
geometry).

A reconstructed `Scene` carries its photos as `PhotoSurface`s: the undistorted photo and the surface
it sees (its depth map cut at depth jumps; alpha tells measured from filled-in parts). For each frame
`PhotoBlendRenderer`:

1. draws the scene's own meshes (the textured model and its backdrop), as `GLRenderer` does: they
   show wherever no photo does;
2. picks the `sources` photos whose viewpoints are nearest the camera's, seen from the model's centre
   (angle, plus the difference in distance), each with a weight that is largest at its own viewpoint
   and falls to zero where the next photo takes its place, so that frames change smoothly as the
   camera moves from photo to photo;
3. draws each picked photo's surface into a buffer of its own (colour, measured flag, depth);
4. composites: per pixel, the nearest measured surface among the photos (or, where none measured
   one, the nearest filled-in surface) and every photo whose surface lies within `DEPTH_TOLERANCE` of
   it are blended by their weights; pixels no photo covers keep the scene's own meshes.

At a photo's own viewpoint the frame is that photo; between photos it cross-fades between their
surfaces, which agree where the geometry is right. Exports (GLB) keep the scene's meshes with their
single texture atlas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dioramic.render.opengl import _FULLSCREEN_VERTEX_SHADER, _PLAIN_VERTEX_SHADER, GLRenderer
from dioramic.types import PhotoSurface, Pose, Scene

SOURCES = 3
"""Photos blended into each frame."""
DEPTH_TOLERANCE = 0.03
"""Relative depth within which two photos' surfaces count as the same surface."""
DISTANCE_DEGREES = 30.0
"""How a difference in distance from the model's centre weighs against a difference in direction:
a camera e (2.72) times nearer or farther than a photo counts like one this many degrees aside."""

_PHOTO_FRAGMENT_SHADER = """
#version 330
uniform sampler2D u_texture;
in vec2 v_uv;
out vec4 f_color;
void main() {
    vec4 c = texture(u_texture, v_uv);
    f_color = vec4(c.rgb, c.a > 0.5 ? 1.0 : 0.5);  // alpha: 1 measured, 0.5 filled in, 0 nothing
}
"""


def _composite_shader(count: int) -> str:
    """Fragment shader blending `count` photo buffers (see the module doc); samplers cannot be indexed
    by a loop variable in GLSL 3.30, so the fetches are written out per buffer."""
    samplers = "\n".join(
        f"uniform sampler2D u_color{k};\nuniform sampler2D u_depth{k};" for k in range(count)
    )
    fetches = "\n".join(
        f"    c[{k}] = texelFetch(u_color{k}, p, 0);\n"
        f"    d = texelFetch(u_depth{k}, p, 0).r;\n"
        f"    z[{k}] = d < 1.0 ? linear(d) : 1e30;"
        for k in range(count)
    )
    return f"""
#version 330
{samplers}
uniform float u_weight[{count}];
uniform vec2 u_clip;  // near, far
uniform float u_tolerance;
out vec4 f_color;
float linear(float d) {{
    float z = 2.0 * d - 1.0;
    return 2.0 * u_clip.x * u_clip.y / (u_clip.y + u_clip.x - z * (u_clip.y - u_clip.x));
}}
void main() {{
    ivec2 p = ivec2(gl_FragCoord.xy);
    vec4 c[{count}];
    float z[{count}];
    float d;
{fetches}
    float nearest_measured = 1e30;
    float nearest = 1e30;
    for (int k = 0; k < {count}; ++k) {{
        if (c[k].a > 0.75) nearest_measured = min(nearest_measured, z[k]);
        if (c[k].a > 0.25) nearest = min(nearest, z[k]);
    }}
    bool measured = nearest_measured < 1e29;
    float front = measured ? nearest_measured : nearest;
    if (front > 1e29) discard;  // no photo here: the scene's meshes will show
    vec3 sum = vec3(0.0);
    float total = 0.0;
    for (int k = 0; k < {count}; ++k) {{
        bool usable = measured ? c[k].a > 0.75 : c[k].a > 0.25;
        if (usable && abs(z[k] - front) <= u_tolerance * front) {{
            float w = max(u_weight[k], 1e-6);
            sum += w * c[k].rgb;
            total += w;
        }}
    }}
    f_color = vec4(sum / total, 1.0);
    gl_FragDepth = 0.0;
}}
"""


def source_weights(scene: Scene, camera: np.ndarray, count: int = SOURCES) -> list[tuple[int, float]]:
    """The `count` photos of `scene` nearest a camera at `camera` (scene coordinates, object space),
    as (index, weight), weights summing to 1.

    Nearness is the angle between the camera's and the photo's directions from the model's centre,
    plus `DISTANCE_DEGREES` per e-fold difference in their distances from it. A photo's weight is
    (1 - p / p_next) / p, p its nearness and p_next that of the first photo left out: it is zero at
    the moment the photo enters or leaves the set, and dominates at its own viewpoint.
    """
    photos = scene.photos
    if not photos:
        return []
    centre = scene.views.centre if scene.views is not None else np.array([0.0, 0.0, -scene.focus])
    offset = np.asarray(camera, dtype=np.float64) - centre
    distance = max(float(np.linalg.norm(offset)), 1e-12)
    nearness = []
    for photo in photos:
        other = photo.position - centre
        reach = max(float(np.linalg.norm(other)), 1e-12)
        cos = float(np.clip(offset @ other / (distance * reach), -1.0, 1.0))
        nearness.append(math.degrees(math.acos(cos)) + DISTANCE_DEGREES * abs(math.log(distance / reach)))
    order = np.argsort(nearness, kind="stable")
    chosen = [int(i) for i in order[:count]]
    bound = nearness[int(order[count])] if len(order) > count else max(nearness) * 2.0 + 1.0
    weights = [max(0.0, 1.0 - nearness[i] / max(bound, 1e-9)) / max(nearness[i], 1e-3) for i in chosen]
    total = sum(weights)
    if total <= 0.0:  # the camera is as near the chosen photos as the next one: share equally
        weights = [1.0] * len(chosen)
        total = float(len(chosen))
    return [(i, w / total) for i, w in zip(chosen, weights, strict=True)]


@dataclass
class _Photo:
    vao: Any
    texture: Any


class PhotoBlendRenderer(GLRenderer):
    """A `GLRenderer` for scenes with `photos`: frames near the photos' viewpoints are made of the
    photos themselves (see the module doc). Takes `GLRenderer`'s arguments, and `sources`: the photos
    blended per frame. The statistics (`measure`, `render_stats`) are the scene meshes' own."""

    def __init__(
        self, scene: Scene, width: int, height: int, *, sources: int | None = None, **kwargs: Any
    ) -> None:
        if not scene.photos:
            raise ValueError("PhotoBlendRenderer needs a scene with photos")
        self.sources = max(1, min(int(SOURCES if sources is None else sources), len(scene.photos)))
        self._photos: list[_Photo] = []
        super().__init__(scene, width, height, **kwargs)
        points = [p.vertices for p in scene.photos if len(p.vertices)] + [m.vertices for m in scene.meshes]
        lo = np.min([p.min(axis=0) for p in points], axis=0).astype(np.float64)
        hi = np.max([p.max(axis=0) for p in points], axis=0).astype(np.float64)
        self._corners = np.array(
            [[x, y, z, 1.0] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        )

    def _setup(self, mipmaps: bool | None) -> None:
        import moderngl

        super()._setup(mipmaps)
        ctx = self._ctx
        self._photo_program = ctx.program(
            vertex_shader=_PLAIN_VERTEX_SHADER, fragment_shader=_PHOTO_FRAGMENT_SHADER
        )
        self._photo_program["u_texture"].value = 0
        for photo in self.scene.photos:
            self._photos.append(self._upload_photo(photo))
        size = (self.width * self.supersample, self.height * self.supersample)
        self._slots = []
        for _ in range(self.sources):
            colour = ctx.texture(size, 4)
            depth = ctx.depth_texture(size)
            for texture in (colour, depth):
                texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
                texture.repeat_x = texture.repeat_y = False
            depth.compare_func = ""  # read as depth values, not compared (shadow lookups)
            self._slots.append((ctx.framebuffer([colour], depth), colour, depth))
        self._composite = ctx.program(
            vertex_shader=_FULLSCREEN_VERTEX_SHADER, fragment_shader=_composite_shader(self.sources)
        )
        for k in range(self.sources):
            self._composite[f"u_color{k}"].value = k
            self._composite[f"u_depth{k}"].value = self.sources + k
        self._composite["u_tolerance"].value = DEPTH_TOLERANCE
        self._composite_vao = ctx.vertex_array(self._composite, [])

    def _upload_photo(self, photo: PhotoSurface) -> _Photo:
        import moderngl

        ctx = self._ctx
        image = np.ascontiguousarray(photo.image)
        texture = ctx.texture((image.shape[1], image.shape[0]), 4, image, alignment=1)
        texture.repeat_x = texture.repeat_y = False
        texture.build_mipmaps()
        texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
        vertices = np.empty((len(photo.vertices), 5), dtype=np.float32)
        vertices[:, :3] = photo.vertices
        vertices[:, 3:] = photo.uvs
        vbo = ctx.buffer(vertices.tobytes())
        ibo = ctx.buffer(np.ascontiguousarray(photo.faces, dtype=np.uint32).tobytes())
        vao = ctx.vertex_array(
            self._photo_program,
            [(vbo, "3f 2f", "in_position", "in_uv")],
            index_buffer=ibo,
            index_element_size=4,
        )
        return _Photo(vao, texture)

    def _underlay(self, fbo: Any, projection: np.ndarray, pose: Pose) -> None:
        import moderngl

        ctx = self._ctx
        object_from_world = np.linalg.inv(np.asarray(pose.object_matrix, dtype=np.float64))
        camera = (object_from_world @ np.append(pose.camera_position, 1.0))[:3]
        chosen = source_weights(self.scene, camera, self.sources)
        mvp = projection.T.astype(np.float32).tobytes()
        self._photo_program["u_mvp"].write(mvp)
        ctx.enable(moderngl.DEPTH_TEST)
        for slot, (index, _) in zip(self._slots, chosen, strict=False):
            target, _, _ = slot
            target.use()
            target.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            photo = self._photos[index]
            photo.texture.use(0)
            photo.vao.render(moderngl.TRIANGLES)
        ctx.disable(moderngl.DEPTH_TEST)
        weights = [w for _, w in chosen] + [0.0] * (self.sources - len(chosen))
        for k, (target, colour, depth) in enumerate(self._slots):
            if k >= len(chosen):  # fewer photos than slots: an empty buffer
                target.use()
                target.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            colour.use(k)
            depth.use(self.sources + k)
        near, far = self.clip_planes(pose)
        self._composite["u_weight"].write(np.asarray(weights, dtype=np.float32).tobytes())
        self._composite["u_clip"].value = (near, far)
        fbo.use()
        # the composite marks what the photos cover as nearest (depth 0): the scene's own meshes,
        # drawn next, fill only the rest, and their hidden fragments fail the depth test unshaded
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.depth_func = "1"
        self._composite_vao.render(moderngl.TRIANGLES, vertices=3)
        ctx.depth_func = "<"

    def _release_gl(self) -> None:
        self._photos.clear()
        super()._release_gl()
