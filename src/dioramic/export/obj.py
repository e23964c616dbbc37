"""Wavefront OBJ export: NAME.obj, its material library NAME.mtl and the texture beside them.

One object (``o``) per mesh layer, named after it; positions in metres, Y up; texture coordinates in
OBJ's convention (origin at the image's bottom-left, so ``vt u 1-v``); faces counter-clockwise from
the camera. The material is unlit (``illum 0``: the texture's colour as it is). Textures are
NAME.jpg / NAME.png (NAME_<layer>.* when layers have different textures). The texture and the .mtl
are written before the .obj, each atomically.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from dioramic.export.base import DEFAULT_JPEG_QUALITY, EXPORTERS, Exporter, encode_texture, nonempty_meshes
from dioramic.files import atomic_path, write_bytes
from dioramic.types import Scene

_ROWS_PER_CHUNK = 65536


def _write_rows(out: io.TextIOBase, fmt: str, rows: np.ndarray) -> None:
    """Write one `fmt` line per row of `rows` (C-level formatting, chunked to bound memory)."""
    for start in range(0, len(rows), _ROWS_PER_CHUNK):
        chunk = rows[start : start + _ROWS_PER_CHUNK]
        out.write((fmt * len(chunk)) % tuple(chunk.ravel().tolist()))


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "mesh"


def write_obj(
    scene: Scene, path: Path, *, image_format: str = "auto", jpeg_quality: int = DEFAULT_JPEG_QUALITY
) -> Path:
    """Write `scene` as PATH (.obj), PATH.mtl and its texture file(s) beside it; returns PATH."""
    path = Path(path)
    meshes = nonempty_meshes(scene)
    mtl_path = path.with_suffix(".mtl")
    textures: dict[int, str] = {}
    mtl = io.StringIO()
    mtl.write("# dioramic scene materials: unlit, the photo as texture\n")
    distinct = len({id(m.texture) for m in meshes})
    for mesh in meshes:
        key = id(mesh.texture)
        if key not in textures:
            encoded = encode_texture(mesh.texture, image_format, jpeg_quality)
            stem = path.stem if distinct == 1 else f"{path.stem}_{_safe_name(mesh.name)}"
            texture_path = path.with_name(stem + encoded.extension)
            write_bytes(texture_path, encoded.data)
            textures[key] = texture_path.name
        material = _safe_name(mesh.name)
        mtl.write(f"\nnewmtl {material}\nKa 0 0 0\nKd 1 1 1\nKs 0 0 0\nd 1\nillum 0\n")
        mtl.write(f"map_Kd {textures[key]}\n")
        if mesh.texture.ndim == 3 and mesh.texture.shape[2] == 4:
            mtl.write(f"map_d -imfchan m {textures[key]}\n")
    write_bytes(mtl_path, mtl.getvalue().encode("utf-8"))

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as out:
        out.write("# dioramic scene: metres, Y up, the photo's camera at the origin looking down -Z\n")
        out.write(f"mtllib {mtl_path.name}\n")
        offset = 1
        for mesh in meshes:
            out.write(f"o {_safe_name(mesh.name)}\n")
            _write_rows(out, "v %.6f %.6f %.6f\n", mesh.vertices.astype(np.float64))
            uv = np.column_stack([mesh.uvs[:, 0], 1.0 - mesh.uvs[:, 1].astype(np.float64)])
            _write_rows(out, "vt %.7f %.7f\n", uv)
            out.write(f"usemtl {_safe_name(mesh.name)}\n")
            faces = mesh.faces.astype(np.int64) + offset
            _write_rows(out, "f %d/%d %d/%d %d/%d\n", np.repeat(faces, 2, axis=1))
            offset += len(mesh.vertices)
    return path


EXPORTERS.add(
    "obj", Exporter("obj", (".obj",), "Wavefront OBJ + MTL + texture file (unlit material)", write_obj)
)
