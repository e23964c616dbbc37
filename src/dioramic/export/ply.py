"""PLY export (binary little-endian): the mesh ('ply') or a point cloud sampled from it ('points').

Mesh: vertices x, y, z (float, metres, Y up), texture coordinates s, t (float, origin at the image's
bottom-left as in OBJ and MeshLab: t = 1 - v) and red, green, blue (and alpha when the texture has
one) sampled from the texture at each vertex; faces as vertex index lists, counter-clockwise from the
camera. All layers go into one vertex and face list. With ``texture_file=True`` the texture is also
written beside it (NAME.jpg / NAME.png) and named in a ``comment TextureFile`` header line.

Points: x, y, z, red, green, blue, spread evenly over the image (not over the mesh's vertices, which
are sparse where the decimation merged flat regions): ``density`` points per photo pixel, at most
``max_points``, each on the mesh surface with the photo's colour there. Transparent texels give no
point. Sampling is seeded, so the same scene gives the same file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dioramic.camera import project, texture_coords, unproject_pixels
from dioramic.errors import UsageError
from dioramic.export.base import (
    DEFAULT_JPEG_QUALITY,
    EXPORTERS,
    Exporter,
    encode_texture,
    nonempty_meshes,
    sample_texture,
)
from dioramic.files import write_bytes
from dioramic.types import Mesh, Scene

_COMMENT = "comment dioramic scene: metres, Y up, the photo's camera at the origin looking down -Z"


def _header(elements: list[tuple[str, int, list[str]]], comments: list[str]) -> bytes:
    lines = ["ply", "format binary_little_endian 1.0", _COMMENT, *comments]
    for name, count, properties in elements:
        lines.append(f"element {name} {count}")
        lines += [f"property {p}" for p in properties]
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def _colour_fields(channels: int) -> list[tuple[str, str]]:
    names = ["red", "green", "blue", "alpha"][:channels]
    return [(n, "u1") for n in names]


def write_ply(
    scene: Scene,
    path: Path,
    *,
    texture_file: bool = False,
    image_format: str = "auto",
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
) -> Path:
    """Write `scene`'s meshes as one PLY mesh with UVs and vertex colours (see the module docstring)."""
    path = Path(path)
    meshes = nonempty_meshes(scene)
    channels = max((m.texture.shape[2] for m in meshes), default=3)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("s", "<f4"), ("t", "<f4"), *_colour_fields(channels)]
    count = sum(len(m.vertices) for m in meshes)
    vertices = np.empty(count, dtype=fields)
    face_type = np.dtype([("n", "u1"), ("i", "<i4", (3,))])
    faces = np.empty(sum(len(m.faces) for m in meshes), dtype=face_type)
    faces["n"] = 3
    v0 = f0 = 0
    for mesh in meshes:
        n, m = len(mesh.vertices), len(mesh.faces)
        block = vertices[v0 : v0 + n]
        for k, axis in enumerate("xyz"):
            block[axis] = mesh.vertices[:, k]
        block["s"] = mesh.uvs[:, 0]
        block["t"] = 1.0 - mesh.uvs[:, 1]
        colours = sample_texture(mesh.texture, mesh.uvs)
        for k, (name, _) in enumerate(_colour_fields(channels)):
            block[name] = colours[:, k] if k < colours.shape[1] else 255
        faces["i"][f0 : f0 + m] = mesh.faces.astype(np.int64) + v0
        v0, f0 = v0 + n, f0 + m
    comments: list[str] = []
    if texture_file and meshes:
        if len({id(m.texture) for m in meshes}) > 1:
            raise UsageError("PLY holds one texture: this scene's layers have several (use glb or obj)")
        encoded = encode_texture(meshes[0].texture, image_format, jpeg_quality)
        texture_path = path.with_name(path.stem + encoded.extension)
        write_bytes(texture_path, encoded.data)
        comments.append(f"comment TextureFile {texture_path.name}")
    properties = [f"{'float' if t == '<f4' else 'uchar'} {name}" for name, t in fields]
    header = _header(
        [("vertex", count, properties), ("face", len(faces), ["list uchar int vertex_indices"])], comments
    )
    return write_bytes(path, header + vertices.tobytes() + faces.tobytes())


def sample_points(
    mesh: Mesh, scene: Scene, density: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Points spread evenly (in the image) over `mesh`: (P, 3) float32 positions, (P, C) uint8 colours.

    Each triangle gets on average `density` points per photo pixel it covers; a point at image
    position p inside a triangle has the triangle's inverse depth interpolated linearly in the image
    (exact for a planar triangle seen by a pinhole camera), and the photo's colour at p.
    """
    camera = scene.camera
    image = project(mesh.vertices, camera)[mesh.faces]  # (M, 3, 2) pixels
    inverse = (-1.0 / mesh.vertices[:, 2].astype(np.float64))[mesh.faces]  # (M, 3)
    e1, e2 = image[:, 1] - image[:, 0], image[:, 2] - image[:, 0]
    area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    expected = area * density
    counts = np.floor(expected + rng.random(len(expected))).astype(np.int64)
    tri = np.repeat(np.arange(len(counts)), counts)
    r1, r2 = np.sqrt(rng.random(len(tri))), rng.random(len(tri))
    weights = np.stack([1.0 - r1, r1 * (1.0 - r2), r1 * r2], axis=1)  # uniform in the triangle
    pixel = np.einsum("pk,pkd->pd", weights, image[tri])
    depth = 1.0 / np.einsum("pk,pk->p", weights, inverse[tri])
    points = unproject_pixels(pixel[:, 0], pixel[:, 1], depth, camera)
    colours = sample_texture(mesh.texture, texture_coords(points, camera))
    if colours.shape[1] == 4:
        visible = colours[:, 3] >= 128
        points, colours = points[visible], colours[visible, :3]
    return points.astype(np.float32), colours


def write_points(
    scene: Scene, path: Path, *, density: float = 1.0, max_points: int = 2_000_000, seed: int = 0
) -> Path:
    """Write a coloured point cloud sampled over the scene's meshes (see the module docstring)."""
    if not density > 0:
        raise UsageError(f"the point density must be positive, got {density}")
    if max_points < 1:
        raise UsageError(f"max_points must be at least 1, got {max_points}")
    camera = scene.camera
    density = min(float(density), max_points / (camera.width * camera.height))
    rng = np.random.default_rng(seed)
    parts = [sample_points(mesh, scene, density, rng) for mesh in nonempty_meshes(scene)]
    points = np.concatenate([p for p, _ in parts]) if parts else np.zeros((0, 3), np.float32)
    colours = np.concatenate([c for _, c in parts]) if parts else np.zeros((0, 3), np.uint8)
    if len(points) > max_points:  # the rounding of counts can overshoot a little
        keep = np.sort(rng.choice(len(points), max_points, replace=False))
        points, colours = points[keep], colours[keep]
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), *_colour_fields(3)]
    table = np.empty(len(points), dtype=fields)
    for k, axis in enumerate("xyz"):
        table[axis] = points[:, k]
    for k, (name, _) in enumerate(_colour_fields(3)):
        table[name] = colours[:, k]
    properties = [f"{'float' if t == '<f4' else 'uchar'} {name}" for name, t in fields]
    header = _header([("vertex", len(table), properties)], [])
    return write_bytes(path, header + table.tobytes())


EXPORTERS.add(
    "ply",
    Exporter("ply", (".ply",), "PLY mesh with texture coordinates and vertex colours", write_ply),
)
EXPORTERS.add(
    "points",
    Exporter(
        "points",
        (".points.ply",),
        "PLY point cloud with colours, sampled evenly over the image",
        write_points,
    ),
)
