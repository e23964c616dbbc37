"""glTF 2.0 export: binary .glb (the default) and .gltf (one JSON file, data embedded as a data URI).

The document, written by hand from numpy buffers so that later additions (animations) stay simple:

* scene "dioramic scene" (extras: near, far, focus in metres; the photo's camera intrinsics; the
  move the scene was built for, `reach` {lateral, axial} as fractions of focus, see `Scene.reach`;
  for a reconstructed model, `views`: the circle its input views stood on, see `ViewCircle`) with one
  node per mesh layer, named after the layer (`Mesh.name`), and a node "photo camera": a perspective
  camera at the origin looking down -Z with the photo's vertical field of view and aspect ratio;
* Y up, metres, triangles counter-clockwise from the camera (glTF's own conventions);
* per layer: POSITION and TEXCOORD_0 (float32), indices (uint16 or uint32), and an unlit material
  (KHR_materials_unlit) whose base colour texture is the photo, embedded as JPEG or PNG, so every
  viewer shows the photo's own colours; textures with alpha use alphaMode BLEND (or MASK);
* textures shared by several layers are stored once.

With a ``motion`` (see `dioramic.export.animation`) the document holds the video's move instead:

* the layer nodes are children of one node "diorama", whose translation, rotation and scale follow
  `Pose.object_matrix`;
* the camera node "video camera" has the video's aspect ratio (``size``) and follows the camera;
* one animation "dioramic motion" samples both nodes at the video's frame times (input accessor in
  seconds, LINEAR or STEP), with extras {fps, frame_count, width, height}; when the field of view
  changes, a KHR_animation_pointer channel animates ``/cameras/0/perspective/yfov`` (optional
  extension). Each node's own TRS is the first frame's, for viewers that do not play animations.
"""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import numpy as np

from dioramic import __version__
from dioramic.errors import InputError, UsageError
from dioramic.export.animation import INTERPOLATIONS, MotionLike, animation_json, node_series, sample_motion
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


def _add_accessor(
    buffer: _Buffer,
    accessors: list[dict],
    array: np.ndarray,
    kind: str,
    component: int,
    target: int | None = None,
    bounds: bool = False,
) -> int:
    """Append `array`'s bytes to `buffer` as a new view and an accessor over it; returns its index."""
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


def _check_size(size: tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise UsageError(f"size must be (width, height) in pixels, got {size!r}") from None
    if width < 1 or height < 1:
        raise UsageError(f"size must be positive, got {width}x{height}")
    return width, height


def build_gltf(
    scene: Scene,
    image_format: str = "auto",
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    alpha_mode: str = "BLEND",
    *,
    motion: MotionLike | None = None,
    fps: float = 30.0,
    size: tuple[int, int] | None = None,
    duration: float | None = None,
    interpolation: str = "LINEAR",
) -> tuple[dict, bytes]:
    """The glTF JSON document (a dict) and its binary buffer for `scene`.

    `size` (width, height in pixels) sets the camera's aspect ratio (default: the photo's). With a
    `motion`, the document animates the camera and the scene at `fps` for `duration` seconds
    (default: the motion's), as the renderer films it; see the module docstring.
    """
    if alpha_mode not in _ALPHA_MODES:
        raise UsageError(f"unknown alpha mode '{alpha_mode}' (choose from: {', '.join(_ALPHA_MODES)})")
    if interpolation not in INTERPOLATIONS:
        raise UsageError(
            f"unknown interpolation '{interpolation}' (choose from: {', '.join(INTERPOLATIONS)})"
        )
    size = _check_size(size)
    samples = sample_motion(motion, fps, duration, distance=scene.focus) if motion is not None else None
    buffer = _Buffer()
    accessors: list[dict] = []
    images: list[dict] = []
    materials: list[dict] = []
    meshes: list[dict] = []
    nodes: list[dict] = []
    texture_of: dict[int, int] = {}

    def accessor(array: np.ndarray, kind: str, component: int, target: int, bounds: bool = False) -> int:
        return _add_accessor(buffer, accessors, array, kind, component, target, bounds)

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
    camera_name = "photo camera" if samples is None else "video camera"
    cameras = [
        {
            "name": camera_name,
            "type": "perspective",
            "perspective": {
                "yfov": float(camera.fov_y if samples is None else samples.fov_y[0]),
                "aspectRatio": float(camera.aspect if size is None else size[0] / size[1]),
                "znear": float(max(1e-3, 0.1 * scene.near)),
                "zfar": float(max(10.0 * scene.far, 1.0)),
            },
        }
    ]
    extensions = ["KHR_materials_unlit"]
    if samples is None:
        nodes.append({"name": camera_name, "camera": 0})
        roots = list(range(len(nodes)))
    else:
        layers = list(range(len(nodes)))
        nodes.append({"name": "diorama", **({"children": layers} if layers else {})})
        nodes.append({"name": camera_name, "camera": 0})
        roots = [len(nodes) - 2, len(nodes) - 1]
    document: dict = {
        "asset": {"version": "2.0", "generator": f"dioramic {__version__}"},
        "extensionsUsed": extensions,
        "scene": 0,
        "scenes": [
            {
                "name": "dioramic scene",
                "nodes": roots,
                "extras": {
                    "near": scene.near,
                    "far": scene.far,
                    "focus": scene.focus,
                    "units": "metres",
                    "photo_camera": {  # the photo's own pinhole camera, to read the scene back exactly
                        "width": scene.camera.width,
                        "height": scene.camera.height,
                        "fx": scene.camera.fx,
                        "fy": scene.camera.fy,
                        "cx": scene.camera.cx,
                        "cy": scene.camera.cy,
                    },
                },
            }
        ],
        "nodes": nodes,
        "cameras": cameras,
    }
    if scene.reach is not None:  # how far a move may go before it looks past what the scene holds
        lateral, axial = scene.reach
        document["scenes"][0]["extras"]["reach"] = {"lateral": float(lateral), "axial": float(axial)}
    if scene.views is not None:  # a reconstructed model: where its input views stood (for `spin`)
        document["scenes"][0]["extras"]["views"] = {
            "centre": [float(v) for v in scene.views.centre],
            "axis": [float(v) for v in scene.views.axis],
            "radius": float(scene.views.radius),
            "height": float(scene.views.height),
        }
        if scene.views.cameras is not None:
            document["scenes"][0]["extras"]["views"]["cameras"] = scene.views.cameras.round(6).tolist()
    if samples is not None:
        width, height = size if size is not None else (camera.width, camera.height)
        object_node, camera_node = roots
        document["animations"] = [
            animation_json(
                samples,
                lambda values, kind, bounds: _add_accessor(
                    buffer, accessors, values, kind, _FLOAT, None, bounds
                ),
                object_node,
                camera_node,
                interpolation,
                (width, height),
            )
        ]
        for index in roots:  # each node's own transform is the first frame's
            series = node_series(samples, camera=index == camera_node)
            nodes[index].update({name: values[0].tolist() for name, values in series.items()})
        if samples.fov_varies:
            extensions.append("KHR_animation_pointer")
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
        )
    if accessors:
        document.update(accessors=accessors, bufferViews=buffer.views)
    binary = buffer.tobytes()
    if binary:
        document["buffers"] = [{"byteLength": len(binary)}]
    return document, binary


def read_gltf(path: str | Path) -> dict:
    """The JSON document of a .glb or .gltf file (buffers are not read).

    Raises InputError when the file cannot be read or is not glTF 2.0.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        if data[:4] == b"glTF":
            _, version, _ = struct.unpack_from("<III", data, 0)
            length, kind = struct.unpack_from("<II", data, 12)
            if version != _GLB_VERSION or kind != _CHUNK_JSON:
                raise ValueError("not a glTF 2.0 binary")
            document = json.loads(data[20 : 20 + length])
        else:
            document = json.loads(data)
        if not isinstance(document, dict) or not str(document["asset"]["version"]).startswith("2."):
            raise ValueError("not glTF 2.0")
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise InputError(f"{path}: not a glTF 2.0 file ({exc})") from None
    return document


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
    motion: MotionLike | None = None,
    fps: float = 30.0,
    size: tuple[int, int] | None = None,
    duration: float | None = None,
    interpolation: str = "LINEAR",
) -> Path:
    """Write `scene` as one binary glTF file (see the module docstring and `build_gltf`)."""
    document, binary = build_gltf(
        scene,
        image_format,
        jpeg_quality,
        alpha_mode,
        motion=motion,
        fps=fps,
        size=size,
        duration=duration,
        interpolation=interpolation,
    )
    return write_bytes(path, glb_bytes(document, binary))


def write_gltf(
    scene: Scene,
    path: Path,
    *,
    image_format: str = "auto",
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    alpha_mode: str = "BLEND",
    motion: MotionLike | None = None,
    fps: float = 30.0,
    size: tuple[int, int] | None = None,
    duration: float | None = None,
    interpolation: str = "LINEAR",
) -> Path:
    """Write `scene` as one self-contained .gltf JSON file (its buffer embedded as a base64 data URI)."""
    document, binary = build_gltf(
        scene,
        image_format,
        jpeg_quality,
        alpha_mode,
        motion=motion,
        fps=fps,
        size=size,
        duration=duration,
        interpolation=interpolation,
    )
    if binary:
        uri = "data:application/octet-stream;base64," + base64.b64encode(binary).decode("ascii")
        document["buffers"][0]["uri"] = uri
    return write_bytes(path, json.dumps(document, indent=1).encode("utf-8"))


EXPORTERS.add(
    "glb",
    Exporter(
        "glb", (".glb",), "binary glTF 2.0: textured, unlit, with the camera (and its animation)", write_glb
    ),
)
EXPORTERS.add(
    "gltf",
    Exporter("gltf", (".gltf",), "glTF 2.0 JSON with the data embedded (one file), like glb", write_gltf),
)
