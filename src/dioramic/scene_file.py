"""Reading a scene file (.glb / .gltf) back into a `Scene`, for `dioramic render SCENE.glb`.

Scenes written by Dioramic carry their subject distance and depth range in the glTF scene's extras,
the move they were built for (`Scene.reach`) and, for a reconstructed model, the circle its input
views stood on;
other glTF files work too: their textured meshes are read (node transforms applied), the depth range is
measured from the geometry, and the camera comes from the file's first perspective camera or a default.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np

from dioramic.errors import InputError
from dioramic.types import Camera, Mesh, Scene, ViewCircle

SCENE_SUFFIXES = (".glb", ".gltf")


def _texture_of(geometry: object) -> np.ndarray:
    material = getattr(getattr(geometry, "visual", None), "material", None)
    image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
    if image is None:
        colour = getattr(material, "baseColorFactor", None)
        rgba = np.asarray(colour if colour is not None else (200, 200, 200, 255), dtype=np.uint8).reshape(-1)
        return np.broadcast_to(rgba[:3] if len(rgba) >= 3 else (200, 200, 200), (2, 2, 3)).astype(np.uint8)
    mode = "RGBA" if image.mode in ("RGBA", "LA", "PA", "P") else "RGB"
    return np.asarray(image.convert(mode)).copy()


def load_scene(path: str | Path) -> Scene:
    """The scene stored in a .glb or .gltf file, in the coordinates of `dioramic.types`."""
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such scene file")
    try:
        loaded = trimesh.load(path, force="scene", process=False)
    except Exception as exc:  # trimesh raises many types for broken files
        raise InputError(f"{path}: not a readable glTF scene ({type(exc).__name__}: {exc})") from None
    meshes: list[Mesh] = []
    for name, geometry in _named(loaded):
        uv = getattr(getattr(geometry, "visual", None), "uv", None)
        vertices = np.asarray(geometry.vertices, np.float32)
        if uv is None or len(uv) != len(vertices) or len(geometry.faces) == 0:
            continue
        uvs = np.asarray(uv, np.float32).copy()
        uvs[:, 1] = 1.0 - uvs[:, 1]  # trimesh flips v to OpenGL's convention; glTF's has v down
        meshes.append(Mesh(name, vertices, uvs, np.asarray(geometry.faces, np.uint32), _texture_of(geometry)))
    if not meshes:
        raise InputError(f"{path}: the file holds no textured mesh")
    order = _node_order(path)
    meshes.sort(key=lambda m: order.get(m.name, len(order)))  # layers farthest first, as written
    depths = np.concatenate([-m.vertices[:, 2] for m in meshes])
    depths = depths[depths > 1e-6]
    if depths.size == 0:
        raise InputError(f"{path}: no geometry lies in front of the camera (looking down -Z)")
    extras = loaded.metadata if isinstance(loaded.metadata, dict) else {}
    near = float(extras.get("near", np.percentile(depths, 0.5)))
    far = float(extras.get("far", np.percentile(depths, 99.5)))
    focus = float(extras.get("focus", np.median(depths)))
    camera = _camera(extras.get("photo_camera"), loaded)
    views = _views(extras.get("views"))
    return Scene(
        meshes=tuple(meshes),
        camera=camera,
        near=near,
        far=far,
        focus=focus,
        views=views,
        reach=_reach(extras.get("reach")),
    )


def _reach(stored: object) -> tuple[float, float] | None:
    """The move a scene was built for, as our extras store it (`Scene.reach`), else None.

    >>> _reach({"lateral": 0.06, "axial": 0.25}), _reach(None), _reach({"lateral": "far"})
    ((0.06, 0.25), None, None)
    """
    if not isinstance(stored, dict):
        return None
    try:
        lateral, axial = float(stored["lateral"]), float(stored["axial"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(lateral) and math.isfinite(axial) and lateral >= 0 and axial >= 0):
        return None
    return lateral, axial


def _views(stored: object) -> ViewCircle | None:
    """The circle a reconstructed model's input views stood on, as our extras store it, else None."""
    if not isinstance(stored, dict):
        return None
    try:
        return ViewCircle(
            centre=np.array(stored["centre"], dtype=np.float64),
            axis=np.array(stored["axis"], dtype=np.float64),
            radius=float(stored["radius"]),
            height=float(stored["height"]),
            cameras=np.array(stored["cameras"], dtype=np.float64).reshape(-1, 3)
            if "cameras" in stored
            else None,
        )
    except (KeyError, TypeError, ValueError):
        return None


def _camera(stored: object, loaded: object) -> Camera:
    """The photo's camera as the file stores it (our extras), else from the file's first perspective
    camera (field of view and aspect), else the default lens on a 4:3 frame."""
    if isinstance(stored, dict):
        try:
            return Camera(
                int(stored["width"]),
                int(stored["height"]),
                *(float(stored[k]) for k in ["fx", "fy", "cx", "cy"]),
            )
        except (KeyError, TypeError, ValueError):
            pass
    if getattr(loaded, "has_camera", False):
        camera = loaded.camera  # type: ignore[attr-defined]
        fov_x, fov_y = (float(v) for v in camera.fov)
        height = 1000
        width = max(1, round(height * math.tan(math.radians(fov_x) / 2) / math.tan(math.radians(fov_y) / 2)))
        return Camera.from_fov(width, height, fov_y)
    return Camera.from_focal_35mm(1024, 768, None)


def _node_order(path: Path) -> dict[str, int]:
    """Node names in the order the glTF document lists them (trimesh's graph does not keep it)."""
    data = path.read_bytes()
    try:
        if data[:4] == b"glTF":
            length = struct.unpack_from("<I", data, 12)[0]
            document = json.loads(data[20 : 20 + length])
        else:
            document = json.loads(data)
        return {str(n.get("name")): i for i, n in enumerate(document.get("nodes", []))}
    except (ValueError, struct.error, AttributeError):
        return {}


def _named(loaded: object) -> list[tuple[str, object]]:
    """(node name, geometry with the node's world transform applied) for each mesh node."""
    out = []
    graph = loaded.graph  # type: ignore[attr-defined]
    for node in graph.nodes_geometry:
        transform, geometry_name = graph[node]
        geometry = loaded.geometry[geometry_name].copy()  # type: ignore[attr-defined]
        geometry.apply_transform(transform)
        out.append((str(node), geometry))
    return out
