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
from dioramic.types import Mesh


def test_the_splats_reproduce_the_reference_photo(reconstruction, tmp_path: Path) -> None:
    """The model's and backdrop's splats, through the reference view's camera, show its photo as well
    as the model drawn by our renderer does (the reconstruction's own error bounds both)."""
    from dioramic.render.opengl import GLRenderer
    from dioramic.types import Pose

    out = reconstruction.folder
    scene = reconstruction.scene
    reference = reconstruction.report["reference_view"]
    summary = write_reconstruction_splats(scene, tmp_path, 2_000_000, reference=reference)
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


def _plane(name: str, keep, texture: np.ndarray, depth: float = 2.0) -> Mesh:
    """The square x, y in [-1, 1] at z = -depth (a 4 x 4 grid of quads), only the quads `keep(i, j)`
    allows, textured over the whole square."""
    n = 4
    ticks = np.linspace(-1.0, 1.0, n + 1)
    x, y = np.meshgrid(ticks, ticks[::-1])
    vertices = np.stack([x.ravel(), y.ravel(), np.full(x.size, -depth)], axis=1).astype(np.float32)
    uvs = np.stack([(x.ravel() + 1) / 2, (1 - y.ravel()) / 2], axis=1).astype(np.float32)
    faces = []
    for i in range(n):
        for j in range(n):
            if keep(i, j):
                a, b, c, d = (
                    i * (n + 1) + j,
                    i * (n + 1) + j + 1,
                    (i + 1) * (n + 1) + j,
                    (i + 1) * (n + 1) + j + 1,
                )
                faces += [[a, c, d], [a, d, b]]
    return Mesh(name, vertices, uvs, np.array(faces, np.uint32), texture)


def test_the_reference_photo_fills_the_models_holes_and_the_backdrop_gives_up_splats_first() -> None:
    """A model with a hole in the middle, the reference photo's measured surface behind it and a
    backdrop: the photo's splats appear in the hole only; with a small budget the model keeps one
    splat per texel and the backdrop is thinned; below that, both shrink; never over the budget."""
    from dioramic.splats.reconstruction import reconstruction_splats
    from dioramic.types import Camera, PhotoSurface, Scene

    rng = np.random.default_rng(0)
    model = _plane(
        "model", lambda i, j: not (1 <= i <= 2 and 1 <= j <= 2), rng.integers(0, 255, (64, 64, 3), np.uint8)
    )
    backdrop = _plane(
        "background", lambda i, j: True, rng.integers(0, 255, (256, 256, 3), np.uint8), depth=20.0
    )
    photo = _plane("photo", lambda i, j: True, np.zeros((32, 32, 3), np.uint8))
    image = np.full((32, 32, 4), 255, np.uint8)
    image[:, :16, 3] = 0  # the left half was filled in, not measured: no splats from it
    surface = PhotoSurface("ref.png", image, photo.vertices, photo.uvs, photo.faces, np.zeros(3))
    camera = Camera(32, 32, 32.0, 32.0, 16.0, 16.0)
    scene = Scene((backdrop, model), camera, 0.1, 50.0, 2.0, photos=(surface,))
    model_texels, backdrop_texels = 64 * 64 * 12 // 16, 256 * 256

    splats = reconstruction_splats(scene, 10_000_000, "ref.png")  # room for all: one per texel
    hole_measured = 32 * 32 // 8  # the photo's texels in the hole (the middle quarter), measured half
    assert len(splats) == model_texels + backdrop_texels + hole_measured
    fill = splats.means[-hole_measured:]  # the photo's splats come last
    assert (np.abs(fill[:, :2]) < 0.5).all() and (fill[:, 0] > 0).all() and np.allclose(fill[:, 2], -2.0)

    small = reconstruction_splats(scene, 30_000, "ref.png")
    on_model = np.abs(small.means[:, 2] + 2.0) < 1e-3
    assert len(small) <= 30_000 and on_model.sum() == model_texels + 32 * 32 // 8
    assert (~on_model).sum() < 0.5 * backdrop_texels
    # a budget below the model and a quarter of the backdrop: both give up splats in proportion
    tiny = reconstruction_splats(scene, 5_000, "ref.png")
    on_model = np.abs(tiny.means[:, 2] + 2.0) < 1e-3
    share = model_texels / (model_texels + backdrop_texels / 4)
    expected = share * (5_000 - hole_measured) + hole_measured  # the photo's splats lie on that plane too
    assert len(tiny) <= 5_000 and on_model.sum() == pytest.approx(expected, rel=0.03)
    assert reconstruction_splats(scene, 30_000, None).means.shape[0] <= 30_000  # no photo named: no fill
    assert (
        len(reconstruction_splats(scene, 1, "ref.png")) == 1
        and len(reconstruction_splats(scene, 3, "ref.png")) <= 3
    )


def test_the_reference_photo_gives_no_splats_where_it_sees_a_ramp() -> None:
    """Where the photo's surface runs nearly along its rays (a ramp between a column's edge and what
    lies behind it, stretched by stereo's mixed pixels), its splats would be long streaks from every
    other view: none come from there; the face-on part keeps its splats."""
    from dioramic.splats.reconstruction import GRAZING, reference_fill
    from dioramic.types import Camera, PhotoSurface, Scene

    rng = np.random.default_rng(1)
    model = _plane("model", lambda i, j: True, rng.integers(0, 255, (8, 8, 3), np.uint8), depth=100.0)
    photo = _plane("photo", lambda i, j: True, np.zeros((32, 32, 3), np.uint8))
    vertices = photo.vertices.copy()
    ramp = vertices[:, 0] > 0.01  # the right half recedes steeply: 4 m deeper for 1 m across
    vertices[ramp, 2] -= 4.0 * vertices[ramp, 0]
    image = np.full((32, 32, 4), 255, np.uint8)
    surface = PhotoSurface("ref.png", image, vertices, photo.uvs, photo.faces, np.zeros(3))
    scene = Scene((model,), Camera(32, 32, 32.0, 32.0, 16.0, 16.0), 0.1, 50.0, 2.0, photos=(surface,))
    fill = reference_fill(scene, "ref.png", 10_000_000)
    assert fill is not None
    across = fill.scales[:, :2]
    assert (across.max(axis=1) <= GRAZING * across.min(axis=1)).all()
    assert len(fill) == 32 * 32 // 2 and (fill.means[:, 0] < 0.01).all()  # the face-on half only


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
