from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dioramic.errors import OutputError
from dioramic.files import atomic_path, save_depth, save_npy, write_bytes
from dioramic.types import DepthMap


def test_atomic_path_renames_on_success_and_cleans_up_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out" / "video.mp4"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".mp4" and tmp != target
        tmp.write_bytes(b"abc")
        assert not target.exists()
    assert target.read_bytes() == b"abc"
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)

    other = tmp_path / "out" / "scene.glb"
    with pytest.raises(RuntimeError), atomic_path(other) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert not other.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["video.mp4"]


def test_write_into_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot"):
        write_bytes(blocker / "sub" / "a.bin", b"1")


def test_save_depth_png_is_16bit_near_bright_and_npy_keeps_values(tmp_path: Path) -> None:
    depth = DepthMap(np.array([[1.0, 2.0], [4.0, 8.0]], np.float32))
    save_depth(depth, tmp_path / "d.png")
    img = Image.open(tmp_path / "d.png")
    arr = np.asarray(img)
    assert img.mode.startswith("I;16") and arr.shape == (2, 2)
    assert arr[0, 0] == 65535 and arr[1, 1] == 0 and arr[0, 1] > arr[1, 0]
    save_depth(depth, tmp_path / "d.npy")
    loaded = np.load(tmp_path / "d.npy")
    assert loaded.dtype == np.float32 and np.array_equal(loaded, depth.depth)
    with pytest.raises(OutputError, match=r"\.npy or \.png"):
        save_depth(depth, tmp_path / "d.jpg")


def test_save_npy_roundtrip(tmp_path: Path) -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(np.load(save_npy(tmp_path / "a.npy", a)), a)


def test_full_disk_is_explained_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(OutputError, match="the disk is full"):
        save_npy(tmp_path / "depth.npy", np.zeros((2, 2), np.float32))
    assert list(tmp_path.iterdir()) == []
