"""Splats of a reconstruction (`reconstruct --splats`), and the GPU refinement's refusal where it
cannot run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from dioramic.cli import main
from dioramic.splats.ply import read_ply
from dioramic.splats.reconstruction import write_reconstruction_splats
from dioramic.splats.view import psnr, reconstruction_psnr


def test_the_splats_reproduce_the_reference_photo(reconstruction, tmp_path: Path) -> None:
    """The model's and backdrop's splats, through the reference view's camera, show its photo as well
    as the model drawn by our renderer does (the reconstruction's own error bounds both)."""
    from dioramic.render.opengl import GLRenderer
    from dioramic.types import Pose

    out = reconstruction.folder
    scene = reconstruction.scene
    summary = write_reconstruction_splats(scene, tmp_path, 2_000_000)
    splats = read_ply(tmp_path / "splats.ply")
    assert summary == {"file": "splats.ply", "splats": len(splats)} and len(splats) > 10_000
    value, covered, photo, mask = reconstruction_psnr(out, splats, details=True)
    camera = scene.camera
    with GLRenderer(scene, camera.width, camera.height) as renderer:
        frame = renderer.render(Pose(np.zeros(3), np.eye(3), camera.fov_y))
    drawn = psnr(frame / 255.0, photo, mask)
    print(f"splat centres {value:.2f} dB, our frame {drawn:.2f} dB over {100 * covered:.1f} %")
    assert covered > 0.8 and value >= min(25.0, drawn - 1.0), (value, drawn, covered)
    # the same frame as scene.glb: the splats lie on the model's and backdrop's triangles
    vertices = np.concatenate([m.vertices for m in reconstruction.scene.meshes])
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    assert (splats.means >= low - 1e-4).all() and (splats.means <= high + 1e-4).all()


def _gpu_ready() -> bool:
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("gsplat") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


@pytest.mark.skipif(_gpu_ready(), reason="PyTorch, gsplat and a CUDA GPU are here: nothing is refused")
def test_refine_splats_is_refused_in_one_line_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    photos = tmp_path / "photos"
    photos.mkdir()  # never read: the refusal comes first
    assert main(["reconstruct", str(photos), "-o", str(out), "--refine-splats", "100"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--refine-splats" in err[0], err
    assert "splats-gpu" in err[0] or "CUDA" in err[0]
    assert not out.exists() and not list(tmp_path.glob(".out*"))
