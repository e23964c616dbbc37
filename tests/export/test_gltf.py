"""glTF / GLB specifics, the Khronos validator, OBJ's files, and atomic writing."""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dioramic.errors import OutputError, UsageError
from dioramic.export import export_scene
from dioramic.export.glb import build_gltf
from dioramic.scene import SceneOptions, build_scene
from dioramic.types import DepthMap, Mesh, Photo, Scene

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = REPO / "tools" / "gltf-validator"


def _depth(height: int, width: int) -> np.ndarray:
    """(H, W) float32: a slanted wall 3-4 m away with a box at 1.5 m in front of it."""
    x = np.mgrid[0:height, 0:width][1]
    depth = (3.0 + x / width).astype(np.float32)
    depth[height // 4 : height // 2, width // 3 : 2 * width // 3] = 1.5
    return depth


def _scene(alpha: bool = False, width: int = 64, height: int = 48) -> Scene:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 4 % 256, y * 5 % 256, (x * y) % 256], axis=2).astype(np.uint8)
    depth = _depth(height, width)
    a = np.where(x < 8, 0, 255).astype(np.uint8) if alpha else None
    return build_scene(Photo(rgb, alpha=a), DepthMap(depth), SceneOptions(max_triangles=3000, layers=False))


def _read_glb(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<III", data, 0)
    assert (magic, version, length) == (0x46546C67, 2, len(data))
    json_length, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A and json_length % 4 == 0
    document = json.loads(data[20 : 20 + json_length])
    bin_length, bin_type = struct.unpack_from("<II", data, 20 + json_length)
    assert bin_type == 0x004E4942 and bin_length % 4 == 0
    return document, data[28 + json_length : 28 + json_length + bin_length]


def _accessor(document: dict, binary: bytes, index: int) -> np.ndarray:
    acc = document["accessors"][index]
    view = document["bufferViews"][acc["bufferView"]]
    dtype = {5126: np.float32, 5125: np.uint32, 5123: np.uint16}[acc["componentType"]]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3}[acc["type"]]
    start = view["byteOffset"] + acc.get("byteOffset", 0)
    return np.frombuffer(binary, dtype, acc["count"] * width, start).reshape(acc["count"], width)


def test_glb_structure(tmp_path: Path) -> None:
    scene = _scene()
    document, binary = _read_glb(export_scene(scene, tmp_path / "scene.glb"))
    assert "KHR_materials_unlit" in document["extensionsUsed"]
    assert document["scenes"][document["scene"]]["name"] == "dioramic scene"
    nodes = document["nodes"]
    assert [n["name"] for n in nodes] == ["surface", "photo camera"]
    camera_node = nodes[1]
    assert (
        "translation" not in camera_node and "rotation" not in camera_node
    )  # at the origin, looking down -Z
    perspective = document["cameras"][camera_node["camera"]]["perspective"]
    assert perspective["yfov"] == pytest.approx(scene.camera.fov_y)
    assert perspective["aspectRatio"] == pytest.approx(64 / 48)
    mesh_doc = document["meshes"][nodes[0]["mesh"]]
    assert mesh_doc["name"] == "surface"
    primitive = mesh_doc["primitives"][0]
    material = document["materials"][primitive["material"]]
    assert material["extensions"] == {"KHR_materials_unlit": {}}
    assert "alphaMode" not in material
    mesh = scene.meshes[0]
    np.testing.assert_array_equal(
        _accessor(document, binary, primitive["attributes"]["POSITION"]), mesh.vertices
    )
    np.testing.assert_array_equal(
        _accessor(document, binary, primitive["attributes"]["TEXCOORD_0"]), mesh.uvs
    )
    np.testing.assert_array_equal(
        _accessor(document, binary, primitive["indices"]).reshape(-1, 3), mesh.faces
    )
    image = document["images"][0]
    assert image["mimeType"] == "image/jpeg"


def test_gltf_is_one_self_contained_json_file(tmp_path: Path) -> None:
    scene = _scene()
    path = export_scene(scene, tmp_path / "scene.gltf", image_format="png")
    assert [p.name for p in tmp_path.iterdir()] == ["scene.gltf"]
    document = json.loads(path.read_text())
    uri = document["buffers"][0]["uri"]
    assert uri.startswith("data:application/octet-stream;base64,")
    binary = base64.b64decode(uri.split(",", 1)[1])
    assert len(binary) == document["buffers"][0]["byteLength"]
    assert document["images"][0]["mimeType"] == "image/png"


@pytest.mark.parametrize(("mode", "cutoff"), [("BLEND", None), ("MASK", 0.5)])
def test_alpha_textures_use_png_and_an_alpha_mode(mode: str, cutoff: float | None) -> None:
    document, _ = build_gltf(_scene(alpha=True), alpha_mode=mode)
    material = document["materials"][0]
    assert material["alphaMode"] == mode
    assert material.get("alphaCutoff") == cutoff
    assert document["images"][0]["mimeType"] == "image/png"


def test_jpeg_cannot_hold_alpha_and_bad_options_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="png"):
        export_scene(_scene(alpha=True), tmp_path / "a.glb", image_format="jpeg")
    with pytest.raises(UsageError, match="quality"):
        export_scene(_scene(), tmp_path / "b.glb", jpeg_quality=0)
    with pytest.raises(UsageError, match="alpha mode"):
        export_scene(_scene(), tmp_path / "c.glb", alpha_mode="OPAQUE")
    assert not list(tmp_path.iterdir())


def test_jpeg_quality_changes_the_size(tmp_path: Path) -> None:
    scene = _scene(width=256, height=192)
    small = export_scene(scene, tmp_path / "low.glb", jpeg_quality=20).stat().st_size
    large = export_scene(scene, tmp_path / "high.glb", jpeg_quality=98).stat().st_size
    assert small < large


def test_layers_become_nodes_and_share_one_texture() -> None:
    scene = _scene()
    mesh = scene.meshes[0]
    back = Mesh("background", mesh.vertices * 1.1, mesh.uvs, mesh.faces, mesh.texture)
    front = Mesh("foreground", mesh.vertices, mesh.uvs, mesh.faces[:10], mesh.texture)
    empty = Mesh("nothing", mesh.vertices[:0], mesh.uvs[:0], mesh.faces[:0], mesh.texture)
    layered = Scene((back, front, empty), scene.camera, scene.near, scene.far, scene.focus)
    document, _ = build_gltf(layered)
    assert [n["name"] for n in document["nodes"]] == ["background", "foreground", "photo camera"]
    assert len(document["images"]) == 1 and len(document["materials"]) == 2
    assert document["scenes"][0]["nodes"] == [0, 1, 2]


def test_obj_writes_its_material_and_texture_beside_it(tmp_path: Path) -> None:
    scene = _scene()
    export_scene(scene, tmp_path / "model.obj")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.jpg", "model.mtl", "model.obj"]
    text = (tmp_path / "model.obj").read_text()
    assert text.count("\nv ") == len(scene.meshes[0].vertices)
    assert text.count("\nf ") == len(scene.meshes[0].faces)
    assert "mtllib model.mtl" in text and "usemtl surface" in text
    mtl = (tmp_path / "model.mtl").read_text()
    assert "map_Kd model.jpg" in mtl and "illum 0" in mtl


def test_a_failed_export_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dioramic.export.glb as glb

    def explode(*args: object) -> bytes:
        raise RuntimeError("disk on fire")

    target = tmp_path / "scene.glb"
    target.write_bytes(b"old")
    monkeypatch.setattr(glb, "glb_bytes", explode)
    with pytest.raises(RuntimeError):
        export_scene(_scene(), target)
    assert target.read_bytes() == b"old"  # the previous file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["scene.glb"]  # and no temporary file is left


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder_is_an_output_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError):
            export_scene(_scene(), folder / "scene.glb")
    finally:
        folder.chmod(0o700)


def test_output_folders_are_created(tmp_path: Path) -> None:
    path = export_scene(_scene(), tmp_path / "a" / "b" / "scene.glb")
    assert path.is_file()


def _validate(path: Path) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Khronos glTF validator runs on node")
    if not (VALIDATOR / "node_modules" / "gltf-validator").is_dir():
        pytest.skip(f"the glTF validator is not installed: run 'npm ci' in {VALIDATOR}")
    result = subprocess.run(
        [node, str(VALIDATOR / "validate.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("name", "alpha"), [("scene.glb", False), ("scene.gltf", False), ("alpha.glb", True)]
)
def test_khronos_validator_finds_no_error(name: str, alpha: bool, tmp_path: Path) -> None:
    scene = _scene(alpha=alpha)
    path = export_scene(scene, tmp_path / name)
    report = _validate(path)
    issues = report["issues"]
    assert issues["numErrors"] == 0, issues["messages"]
    assert issues["numWarnings"] == 0, issues["messages"]
    assert report["info"]["totalTriangleCount"] == scene.triangle_count
    assert report["info"]["totalVertexCount"] == len(scene.meshes[0].vertices)
    assert report["info"]["extensionsUsed"] == ["KHR_materials_unlit"]


@pytest.mark.parametrize(
    ("name", "motion", "interpolation"),
    [
        ("circle.glb", "circle", "LINEAR"),
        ("zoom.glb", "dolly-zoom", "LINEAR"),
        ("turntable.gltf", "turntable", "STEP"),
    ],
)
def test_khronos_validator_finds_no_error_in_animations(
    name: str, motion: str, interpolation: str, tmp_path: Path
) -> None:
    from dioramic.motion import make_motion

    # the layered scene: background and an RGBA foreground under the animated "diorama" node
    scene = build_scene(
        Photo(_scene().meshes[0].texture), DepthMap(_depth(48, 64)), SceneOptions(max_triangles=3000)
    )
    move = make_motion(motion, scene, duration=2.0)
    path = export_scene(
        scene, tmp_path / name, motion=move, fps=12, size=(128, 72), interpolation=interpolation
    )
    report = _validate(path)
    issues = report["issues"]
    assert issues["numErrors"] == 0, issues["messages"]
    assert issues["numWarnings"] == 0, issues["messages"]
    info = report["info"]
    assert info["animationCount"] == 1
    assert info["totalTriangleCount"] == scene.triangle_count
    zooms = motion == "dolly-zoom"
    expected = ["KHR_materials_unlit", "KHR_animation_pointer"] if zooms else ["KHR_materials_unlit"]
    assert info["extensionsUsed"] == expected
    # the validator knows KHR_animation_pointer only in part: it says so, as information
    partial = [m for m in issues["messages"] if m["code"] == "INCOMPLETE_EXTENSION_SUPPORT"]
    assert bool(partial) == zooms
