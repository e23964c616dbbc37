"""Every registered exporter writes a file that trimesh reads back with the same geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from dioramic.camera import project
from dioramic.errors import UsageError
from dioramic.export import EXPORTERS, export_scene, format_for_path
from dioramic.scene import SceneOptions, build_scene
from dioramic.types import DepthMap, Photo, Scene

EXTENSION = {
    "glb": ".glb",
    "gltf": ".gltf",
    "obj": ".obj",
    "ply": ".ply",
    "points": ".points.ply",
    "splats": ".splat.ply",  # read back in tests/splats
    "blend": ".blend",  # needs Blender: tested in tests/blender
}


def _scene(alpha: bool = False) -> Scene:
    """A small real scene: a box at 1.5 m in front of a slanted wall, photo with distinct colours."""
    height, width = 48, 64
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 4, y * 5, (x * y) % 256], axis=2).astype(np.uint8)
    depth = (3.0 + x / width).astype(np.float32)
    depth[12:30, 20:44] = 1.5
    a = np.where(x < 8, 0, 255).astype(np.uint8) if alpha else None
    return build_scene(Photo(rgb, alpha=a), DepthMap(depth), SceneOptions(max_triangles=3000, layers=False))


def _only_mesh(loaded: trimesh.Scene | trimesh.Trimesh) -> trimesh.Trimesh:
    if isinstance(loaded, trimesh.Trimesh):
        return loaded
    meshes = list(loaded.geometry.values())
    assert len(meshes) == 1
    return meshes[0]


def test_every_builtin_format_is_registered() -> None:
    assert {"glb", "gltf", "obj", "ply", "points", "blend"} <= set(EXPORTERS.names())
    assert set(EXPORTERS.names()) <= set(EXTENSION), "add the new format to this round-trip test"


@pytest.mark.parametrize("name", ["glb", "gltf", "obj", "ply"])
def test_mesh_formats_round_trip_through_trimesh(name: str, tmp_path: Path) -> None:
    scene = _scene()
    mesh = scene.meshes[0]
    path = export_scene(scene, tmp_path / f"scene{EXTENSION[name]}")
    assert path == tmp_path / f"scene{EXTENSION[name]}" and path.stat().st_size > 0
    loaded = _only_mesh(trimesh.load(path, process=False, maintain_order=True))
    np.testing.assert_allclose(loaded.vertices, mesh.vertices, atol=1e-6 if name == "obj" else 0)
    np.testing.assert_array_equal(loaded.faces, mesh.faces)
    # trimesh flips v to OpenGL's convention (origin at the bottom-left) for every one of these formats
    uv = np.asarray(loaded.visual.uv)
    np.testing.assert_allclose(uv[:, 0], mesh.uvs[:, 0], atol=1e-6)
    np.testing.assert_allclose(1.0 - uv[:, 1], mesh.uvs[:, 1], atol=1e-6)


@pytest.mark.parametrize("name", ["glb", "gltf", "obj"])
def test_texture_round_trips(name: str, tmp_path: Path) -> None:
    scene = _scene()
    path = export_scene(scene, tmp_path / f"scene{EXTENSION[name]}", image_format="png")
    loaded = _only_mesh(trimesh.load(path, process=False, maintain_order=True))
    material = loaded.visual.material
    image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
    np.testing.assert_array_equal(np.asarray(image.convert("RGB")), scene.meshes[0].texture)


def test_ply_vertex_colours_are_the_texture_at_each_vertex(tmp_path: Path) -> None:
    scene = _scene()
    mesh = scene.meshes[0]
    raw = export_scene(scene, tmp_path / "scene.ply").read_bytes()
    header, body = raw.split(b"end_header\n", 1)
    assert b"format binary_little_endian 1.0" in header
    assert f"element vertex {len(mesh.vertices)}".encode() in header
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("s", "<f4"), ("t", "<f4")]
    fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    vertices = np.frombuffer(body, dtype=fields, count=len(mesh.vertices))
    h, w = mesh.texture.shape[:2]
    texel = mesh.texture[
        np.clip((mesh.uvs[:, 1] * h).astype(int), 0, h - 1),
        np.clip((mesh.uvs[:, 0] * w).astype(int), 0, w - 1),
    ]
    np.testing.assert_array_equal(np.stack([vertices[c] for c in ("red", "green", "blue")], 1), texel)
    np.testing.assert_allclose(vertices["t"], 1.0 - mesh.uvs[:, 1], atol=1e-7)


def test_points_cover_the_photo_with_its_colours(tmp_path: Path) -> None:
    scene = _scene()
    path = export_scene(scene, tmp_path / "points.ply")
    cloud = trimesh.load(path)
    assert isinstance(cloud, trimesh.PointCloud)
    points = np.asarray(cloud.vertices)
    camera = scene.camera
    assert abs(len(points) - camera.width * camera.height) < 0.05 * camera.width * camera.height
    pixels = project(points, camera)
    assert pixels.min() >= -1e-3 and pixels[:, 0].max() <= camera.width + 1e-3
    # evenly spread over the frame: every 8x8 block of the photo has points
    blocks = np.unique(
        (pixels // 8).clip(0, [camera.width // 8 - 1, camera.height // 8 - 1]).astype(int), axis=0
    )
    assert len(blocks) == (camera.width // 8) * (camera.height // 8)
    # colours are the photo's at each point
    texture = scene.meshes[0].texture
    cols = np.clip(pixels[:, 0].astype(int), 0, camera.width - 1)
    rows = np.clip(pixels[:, 1].astype(int), 0, camera.height - 1)
    np.testing.assert_array_equal(np.asarray(cloud.colors)[:, :3], texture[rows, cols])
    # points lie on the mesh: the box's points are at 1.5 m
    inside = (cols > 22) & (cols < 42) & (rows > 14) & (rows < 28)
    np.testing.assert_allclose(-points[inside, 2], 1.5, rtol=1e-5)


def test_points_options(tmp_path: Path) -> None:
    scene = _scene()
    few = trimesh.load(export_scene(scene, tmp_path / "a.ply", format="points", max_points=100))
    assert 0 < len(few.vertices) <= 100
    again = trimesh.load(export_scene(scene, tmp_path / "b.ply", format="points", max_points=100))
    np.testing.assert_array_equal(few.vertices, again.vertices)  # seeded: reproducible
    with pytest.raises(UsageError):
        export_scene(scene, tmp_path / "c.ply", format="points", density=0.0)


def test_transparent_photo_points_skip_transparent_pixels(tmp_path: Path) -> None:
    scene = _scene(alpha=True)
    cloud = trimesh.load(export_scene(scene, tmp_path / "points.ply"))
    assert project(np.asarray(cloud.vertices), scene.camera)[:, 0].min() >= 8 - 1e-3


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("scene.glb", "glb"),
        ("SCENE.GLTF", "gltf"),
        ("a/b.obj", "obj"),
        ("scene.ply", "ply"),
        ("points.ply", "points"),
        ("scene.points.ply", "points"),
        ("scene_points.ply", "points"),
        ("checkpoints.ply", "ply"),
        ("splats.ply", "splats"),
        ("scene.splat.ply", "splats"),
        ("scene_splats.ply", "splats"),
        ("scene.spz", "splats"),
        ("nosplat.ply", "ply"),
    ],
)
def test_format_from_the_file_name(name: str, expected: str) -> None:
    assert format_for_path(Path(name)) == expected


def test_unknown_extension_and_format_are_usage_errors(tmp_path: Path) -> None:
    scene = _scene()
    with pytest.raises(UsageError, match=r"\.glb"):
        export_scene(scene, tmp_path / "scene.fbx")
    with pytest.raises(UsageError, match="choose from"):
        export_scene(scene, tmp_path / "scene.glb", format="fbx")
    with pytest.raises(UsageError, match="no option 'quality'"):
        export_scene(scene, tmp_path / "scene.glb", quality=3)
    assert not list(tmp_path.iterdir())


def test_explicit_format_wins_over_the_extension(tmp_path: Path) -> None:
    path = export_scene(_scene(), tmp_path / "scene.bin", format="glb")
    assert path.read_bytes()[:4] == b"glTF"
