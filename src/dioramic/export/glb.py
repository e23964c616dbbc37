"""glTF 2.0 export: binary .glb (the default) and .gltf (one JSON file, data embedded as a data URI).

The document, written by hand from numpy buffers so that later additions (animations) stay simple:

* scene "dioramic scene" (extras: near, far, focus in metres) with one node per mesh layer, named
  after the layer (`Mesh.name`), and a node "photo camera": a perspective camera at the origin
  looking down -Z with the photo's vertical field of view and aspect ratio;
* Y up, metres, triangles counter-clockwise from the camera (glTF's own conventions);
* per layer: POSITION and TEXCOORD_0 (float32), indices (uint16 or uint32), and an unlit material
  (KHR_materials_unlit) whose base colour texture is the photo, embedded as JPEG or PNG, so every
  viewer shows the photo's own colours; textures with alpha use alphaMode BLEND (or MASK);
* textures shared by several layers are stored once.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import numpy as np

from dioramic import __version__
from dioramic.errors import UsageError
from dioramic.export.base import (
    DEFAULT_JPEG_QUALITY,
    EXPORTERS,
    Exporter,
    encode_texture,
    nonempty_meshes,
)
from dioramic.files import write_bytes
from dioramic.types import Scene

_FLOAT, _UINT16, _UINT32 = 5126, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_LINEAR, _LINEAR_MIPMAP_LINEAR, _CLAMP_TO_EDGE = 9729, 9987, 33071
_ALPHA_MODES = ("BLEND", "MASK")
_GLB_MAGIC, _GLB_VERSION = 0x46546C67, 2
_CHUNK_JSON, _CHUNK_BIN = 0x4E4F534A, 0x004E4942


class _Buffer:
    """The single binary buffer of a glTF document, built view by view (4-byte aligned)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.length = 0
        self.views: list[dict] = []

    def add(self, data: bytes, target: int | None = None) -> int:
        pad = (-self.length) % 4
        if pad:
            self.parts.append(b"\0" * pad)
            self.length += pad
        view: dict = {"buffer": 0, "byteOffset": self.length, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.parts.append(data)
        self.length += len(data)
        self.views.append(view)
        return len(self.views) - 1

    def tobytes(self) -> bytes:
        data = b"".join(self.parts)
        return data + b"\0" * ((-len(data)) % 4)


def build_gltf(
    scene: Scene,
    image_format: str = "auto",
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    alpha_mode: str = "BLEND",
) -> tuple[dict, bytes]:
    """The glTF JSON document (a dict) and its binary buffer for `scene`."""
    if alpha_mode not in _ALPHA_MODES:
        raise UsageError(f"unknown alpha mode '{alpha_mode}' (choose from: {', '.join(_ALPHA_MODES)})")
    buffer = _Buffer()
    accessors: list[dict] = []
    images: list[dict] = []
    materials: list[dict] = []
    meshes: list[dict] = []
    nodes: list[dict] = []
    texture_of: dict[int, int] = {}

    def accessor(array: np.ndarray, kind: str, component: int, target: int, bounds: bool = False) -> int:
        entry: dict = {
            "bufferView": buffer.add(np.ascontiguousarray(array).tobytes(), target),
            "componentType": component,
            "count": len(array),
            "type": kind,
        }
        if bounds:
            entry["min"] = [float(x) for x in array.min(axis=0)]
            entry["max"] = [float(x) for x in array.max(axis=0)]
        accessors.append(entry)
        return len(accessors) - 1

    for mesh in nonempty_meshes(scene):
        key = id(mesh.texture)
        if key not in texture_of:
            encoded = encode_texture(mesh.texture, image_format, jpeg_quality)
            images.append(
                {
                    "name": f"{mesh.name} texture",
                    "bufferView": buffer.add(encoded.data),
                    "mimeType": encoded.mime_type,
                }
            )
            texture_of[key] = len(images) - 1
        material: dict = {
            "name": f"{mesh.name} (unlit photo)",
            "pbrMetallicRoughness": {
                "baseColorTexture": {"index": texture_of[key]},
                "metallicFactor": 0.0,
                "roughnessFactor": 1.0,
            },
            "extensions": {"KHR_materials_unlit": {}},
        }
        if mesh.texture.ndim == 3 and mesh.texture.shape[2] == 4:
            material["alphaMode"] = alpha_mode
            if alpha_mode == "MASK":
                material["alphaCutoff"] = 0.5
        materials.append(material)
        faces = mesh.faces.astype(np.uint16 if len(mesh.vertices) < 65535 else np.uint32)
        primitive = {
            "attributes": {
                "POSITION": accessor(mesh.vertices.astype(np.float32), "VEC3", _FLOAT, _ARRAY_BUFFER, True),
                "TEXCOORD_0": accessor(mesh.uvs.astype(np.float32), "VEC2", _FLOAT, _ARRAY_BUFFER),
            },
            "indices": accessor(
                faces.reshape(-1),
                "SCALAR",
                _UINT16 if faces.dtype == np.uint16 else _UINT32,
                _ELEMENT_ARRAY_BUFFER,
            ),
            "material": len(materials) - 1,
            "mode": 4,
        }
        meshes.append({"name": mesh.name, "primitives": [primitive]})
        nodes.append({"name": mesh.name, "mesh": len(meshes) - 1})

    camera = scene.camera
    cameras = [
        {
            "name": "photo camera",
            "type": "perspective",
            "perspective": {
                "yfov": float(camera.fov_y),
                "aspectRatio": float(camera.aspect),
                "znear": float(max(1e-3, 0.1 * scene.near)),
                "zfar": float(max(10.0 * scene.far, 1.0)),
            },
        }
    ]
    nodes.append({"name": "photo camera", "camera": 0})
    document: dict = {
        "asset": {"version": "2.0", "generator": f"dioramic {__version__}"},
        "extensionsUsed": ["KHR_materials_unlit"],
        "scene": 0,
        "scenes": [
            {
                "name": "dioramic scene",
                "nodes": list(range(len(nodes))),
                "extras": {"near": scene.near, "far": scene.far, "focus": scene.focus, "units": "metres"},
            }
        ],
        "nodes": nodes,
        "cameras": cameras,
    }
    if meshes:
        document.update(
            meshes=meshes,
            materials=materials,
            textures=[{"sampler": 0, "source": i, "name": images[i]["name"]} for i in range(len(images))],
            images=images,
            samplers=[
                {
                    "magFilter": _LINEAR,
                    "minFilter": _LINEAR_MIPMAP_LINEAR,
                    "wrapS": _CLAMP_TO_EDGE,
                    "wrapT": _CLAMP_TO_EDGE,
                }
            ],
            accessors=accessors,
            bufferViews=buffer.views,
        )
    binary = buffer.tobytes()
    if binary:
        document["buffers"] = [{"byteLength": len(binary)}]
    return document, binary


def glb_bytes(document: dict, binary: bytes) -> bytes:
    """A GLB container: 12-byte header, JSON chunk (space-padded), BIN chunk (zero-padded)."""
    text = json.dumps(document, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-len(text)) % 4)
    chunks = struct.pack("<II", len(text), _CHUNK_JSON) + text
    if binary:
        chunks += struct.pack("<II", len(binary), _CHUNK_BIN) + binary
    return struct.pack("<III", _GLB_MAGIC, _GLB_VERSION, 12 + len(chunks)) + chunks


def write_glb(
    scene: Scene,
    path: Path,
    *,
    image_format: str = "auto",
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    alpha_mode: str = "BLEND",
) -> Path:
    """Write `scene` as one binary glTF file (see the module docstring for its layout)."""
    document, binary = build_gltf(scene, image_format, jpeg_quality, alpha_mode)
    return write_bytes(path, glb_bytes(document, binary))


def write_gltf(
    scene: Scene,
    path: Path,
    *,
    image_format: str = "auto",
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    alpha_mode: str = "BLEND",
) -> Path:
    """Write `scene` as one self-contained .gltf JSON file (its buffer embedded as a base64 data URI)."""
    document, binary = build_gltf(scene, image_format, jpeg_quality, alpha_mode)
    if binary:
        uri = "data:application/octet-stream;base64," + base64.b64encode(binary).decode("ascii")
        document["buffers"][0]["uri"] = uri
    return write_bytes(path, json.dumps(document, indent=1).encode("utf-8"))


EXPORTERS.add(
    "glb", Exporter("glb", (".glb",), "binary glTF 2.0: textured, unlit, with the photo's camera", write_glb)
)
EXPORTERS.add(
    "gltf",
    Exporter("gltf", (".gltf",), "glTF 2.0 JSON with the data embedded (one file), like glb", write_gltf),
)
