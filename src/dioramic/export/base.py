"""The exporter registry and what every exporter shares: choosing a format, options, textures.

An exporter is a `write(scene, path, **options) -> Path` function registered with its file name
extensions; a plugin registers the same way the built-ins do::

    EXPORTERS.add("stl", Exporter("stl", (".stl",), "STL triangles, no texture", write_stl))

Every file is written atomically (`dioramic.files.atomic_path`): it appears complete or not at all.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dioramic.errors import UsageError
from dioramic.registry import Registry
from dioramic.types import Mesh, Scene

IMAGE_FORMATS = ("auto", "jpeg", "png")
"""Texture encodings: 'auto' is PNG for textures with alpha, JPEG otherwise."""
DEFAULT_JPEG_QUALITY = 90


@dataclass(frozen=True)
class Exporter:
    """One export format."""

    name: str
    """Registry name, e.g. 'glb' (what ``format=`` takes)."""
    extensions: tuple[str, ...]
    """File name endings that select it, lower case with the dot, e.g. ('.glb',)."""
    description: str
    """One line for help texts."""
    write: Callable[..., Path]
    """``write(scene, path, **options) -> path``: writes the file(s), atomically each."""

    def options(self) -> tuple[str, ...]:
        """Names of the keyword options `write` accepts."""
        params = list(inspect.signature(self.write).parameters.values())[2:]
        return tuple(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))


EXPORTERS: Registry[Exporter] = Registry("export format")


def format_for_path(path: Path) -> str:
    """The registered format whose extension ends `path`'s name.

    A PLY file whose name ends in 'points' (points.ply, scene.points.ply, scene_points.ply) is the
    point cloud format 'points', one whose name ends in 'splats' or 'splat' (splats.ply,
    scene.splat.ply, scene_splats.ply) the Gaussian splats 'splats'; any other .ply is the mesh
    format 'ply'.
    """
    name = path.name.lower()
    stem = path.stem.lower()
    for kind, words in (("points", ("points",)), ("splats", ("splats", "splat"))):
        named = stem in words or stem.endswith(tuple(f"{sep}{w}" for w in words for sep in "._-"))
        if name.endswith(".ply") and named and kind in EXPORTERS:
            return kind
    matches = [
        (len(ext), fmt) for fmt, exp in EXPORTERS.items() for ext in exp.extensions if name.endswith(ext)
    ]
    if not matches:
        known = ", ".join(ext for _, exp in EXPORTERS.items() for ext in exp.extensions)
        raise UsageError(f"{path}: cannot tell the export format from the name (use one of: {known})")
    return max(matches)[1]


def check_options(exporter: Exporter, options: dict[str, object]) -> None:
    """Raise UsageError for an option `exporter` does not take."""
    valid = exporter.options()
    for key in options:
        if key not in valid:
            raise UsageError(
                f"the {exporter.name} exporter has no option '{key}' (options: {', '.join(valid) or 'none'})"
            )


@dataclass(frozen=True)
class EncodedImage:
    """A texture encoded for a file."""

    data: bytes
    mime_type: str
    """'image/jpeg' or 'image/png'."""
    extension: str
    """'.jpg' or '.png'."""


def encode_texture(
    image: np.ndarray, image_format: str = "auto", jpeg_quality: int = DEFAULT_JPEG_QUALITY
) -> EncodedImage:
    """Encode an (H, W, 3|4) uint8 texture as JPEG or PNG (see `IMAGE_FORMATS`)."""
    from PIL import Image

    if image_format not in IMAGE_FORMATS:
        raise UsageError(f"unknown texture format '{image_format}' (choose from: {', '.join(IMAGE_FORMATS)})")
    if not 1 <= int(jpeg_quality) <= 100:
        raise UsageError(f"the JPEG quality must be within 1..100, got {jpeg_quality}")
    has_alpha = image.ndim == 3 and image.shape[2] == 4
    fmt = ("png" if has_alpha else "jpeg") if image_format == "auto" else image_format
    if fmt == "jpeg" and has_alpha:
        raise UsageError("the texture has transparency, which JPEG cannot hold: use the png texture format")
    buffer = io.BytesIO()
    picture = Image.fromarray(np.ascontiguousarray(image))
    if fmt == "jpeg":
        picture.save(
            buffer, format="JPEG", quality=int(jpeg_quality), subsampling=0 if jpeg_quality >= 90 else 2
        )
        return EncodedImage(buffer.getvalue(), "image/jpeg", ".jpg")
    picture.save(buffer, format="PNG", compress_level=6)
    return EncodedImage(buffer.getvalue(), "image/png", ".png")


def sample_texture(texture: np.ndarray, uvs: np.ndarray) -> np.ndarray:
    """Colours of an (Ht, Wt, C) uint8 texture at (N, 2) glTF UVs (nearest texel): (N, C) uint8."""
    height, width = texture.shape[:2]
    cols = np.clip((uvs[:, 0] * width).astype(np.int64), 0, width - 1)
    rows = np.clip((uvs[:, 1] * height).astype(np.int64), 0, height - 1)
    return texture[rows, cols]


def nonempty_meshes(scene: Scene) -> list[Mesh]:
    """The scene's meshes that have at least one triangle (empty layers are not exported)."""
    return [mesh for mesh in scene.meshes if len(mesh.faces)]
