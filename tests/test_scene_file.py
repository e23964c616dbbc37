from pathlib import Path

import numpy as np
import pytest

from dioramic.errors import InputError
from dioramic.export import export_scene
from dioramic.photo import photo_from_array
from dioramic.scene import build_scene
from dioramic.scene_file import load_scene
from dioramic.types import DepthMap


def _scene():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    depth = np.full((48, 64), 3.0, np.float32)
    depth[12:36, 16:48] = 1.0  # a near box in front of a far wall
    return build_scene(photo_from_array(rgb, name="box.png"), DepthMap(depth, metric=True))


def test_glb_reads_back_the_scene_it_was_written_from(tmp_path: Path) -> None:
    scene = _scene()
    loaded = load_scene(export_scene(scene, tmp_path / "scene.glb"))
    assert [m.name for m in loaded.meshes] == [m.name for m in scene.meshes]
    for a, b in zip(scene.meshes, loaded.meshes, strict=True):
        np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-6)
        np.testing.assert_allclose(a.uvs, b.uvs, atol=1e-6)
        assert np.array_equal(a.faces, b.faces)
        assert a.texture.shape[:2] == b.texture.shape[:2]
    assert (loaded.near, loaded.far, loaded.focus) == pytest.approx((scene.near, scene.far, scene.focus))
    assert loaded.camera == scene.camera


def test_not_a_scene_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.glb"
    bad.write_bytes(b"glTF but not really")
    with pytest.raises(InputError, match=r"bad\.glb"):
        load_scene(bad)
    with pytest.raises(InputError, match="no such scene file"):
        load_scene(tmp_path / "missing.glb")
