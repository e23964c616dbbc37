"""--splats and splat files through the real `dioramic` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dioramic.splats.ply import read_ply
from dioramic.splats.spz import read_spz

PHOTO = Path(__file__).resolve().parents[2] / "assets" / "photos" / "product_coffee_cup.jpg"
DIORAMIC = Path(sys.executable).parent / "dioramic"


def dioramic(*args: str | Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(DIORAMIC), *map(str, args)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.usefixtures("gl_available")
def test_run_with_splats_writes_splats_ply_beside_scene_glb(tmp_path: Path) -> None:
    video = ["--size", "160x108", "--fps", "5", "--duration", "0.4", "--max-triangles", "20000"]
    dioramic(
        "run", PHOTO, "-o", tmp_path, "--depth", "classical", "--splats", "--max-splats", "50000", *video
    )
    folder = tmp_path / PHOTO.stem
    splats = read_ply(folder / "splats.ply")
    assert 40_000 < len(splats) <= 50_000
    report = json.loads((folder / "render.json").read_text())
    assert "splats" in report["timings_s"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_export_to_a_splat_file_writes_only_the_splats(tmp_path: Path) -> None:
    args = ["--depth", "classical", "--max-triangles", "20000", "--max-splats", "30000"]
    proc = dioramic("export", PHOTO, "-o", tmp_path / "cup.splat.ply", *args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cup.splat.ply"]
    assert "cup.splat.ply" in proc.stdout and len(read_ply(tmp_path / "cup.splat.ply")) <= 30_000
    dioramic("export", PHOTO, "-o", tmp_path / "cup.spz", *args)
    assert len(read_spz(tmp_path / "cup.spz")) <= 30_000
    dioramic("export", PHOTO, "-o", tmp_path / "x" / "scene.glb", "--splats", *args)
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["scene.glb", "splats.ply"]
