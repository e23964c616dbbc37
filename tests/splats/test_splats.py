"""Gaussian splats of a scene (dioramic.splats): where they are, their shape, colour and opacity, files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dioramic.camera import project
from dioramic.export import export_scene
from dioramic.scene import SceneOptions, build_scene
from dioramic.splats import SH_C0, Splats, splats_from_scene, write_splats
from dioramic.splats.build import SIGMA, opacity_for_alpha, quaternions
from dioramic.splats.ply import FIELDS, read_ply
from dioramic.splats.spz import read_spz
from dioramic.splats.view import centre_image, psnr
from dioramic.types import Camera, DepthMap, Mesh, Photo, Scene

plyfile = pytest.importorskip("plyfile", reason="plyfile is not installed (the dev extra)")


def textured_photo(width: int, height: int) -> Photo:
    """A photo with detail at every scale (smooth waves and fine stripes)."""
    v, u = np.mgrid[0:height, 0:width] / 6.0
    rgb = np.stack(
        [128 + 80 * np.sin(u) * np.cos(0.7 * v), 140 + 90 * np.cos(0.8 * u + v), 128 + 100 * np.sin(2.3 * v)],
        axis=2,
    )
    return Photo(np.clip(rgb, 0, 255).astype(np.uint8))


def two_planes(width: int, height: int) -> DepthMap:
    """1 m on the left half, 3 m on the right: a depth edge down the middle."""
    depth = np.full((height, width), 3.0, np.float32)
    depth[:, : width // 2] = 1.0
    return DepthMap(depth)


@pytest.fixture(scope="module")
def two_plane_scene() -> tuple[Photo, Scene]:
    photo = textured_photo(96, 64)
    return photo, build_scene(photo, two_planes(96, 64), SceneOptions(max_triangles=20_000))


def _quad(texture: np.ndarray, depth: float = 2.0) -> Scene:
    """One fronto-parallel quad at `depth` m filling the view of a 60-degree camera, with `texture`."""
    height, width = texture.shape[:2]
    camera = Camera.from_fov(width, height, 60.0)
    half_h = depth * math.tan(math.radians(30))
    half_w = half_h * width / height
    vertices = np.array(
        [
            [-half_w, half_h, -depth],
            [half_w, half_h, -depth],
            [half_w, -half_h, -depth],
            [-half_w, -half_h, -depth],
        ],
        np.float32,
    )
    uvs = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    faces = np.array([[0, 3, 2], [0, 2, 1]], np.uint32)  # counter-clockwise from the camera
    mesh = Mesh("surface", vertices, uvs, faces, texture)
    return Scene((mesh,), camera, near=depth, far=depth, focus=depth)


def test_one_splat_per_texel_at_the_texel_centre_with_its_colour() -> None:
    texture = textured_photo(40, 30).rgb
    scene = _quad(texture)
    splats = splats_from_scene(scene)
    assert len(splats) == 40 * 30
    pixels = project(splats.means, scene.camera)
    cols, rows = np.floor(pixels[:, 0]).astype(int), np.floor(pixels[:, 1]).astype(int)
    np.testing.assert_allclose(pixels - np.floor(pixels), 0.5, atol=1e-4)  # texel centres
    assert len(set(zip(cols.tolist(), rows.tolist(), strict=True))) == 40 * 30  # each texel once
    np.testing.assert_allclose(splats.colours, texture[rows, cols] / 255.0, atol=1e-6)
    np.testing.assert_allclose(splats.means[:, 2], -2.0, atol=1e-5)
    np.testing.assert_allclose(splats.normals, np.tile([0, 0, 1], (len(splats), 1)), atol=1e-6)
    np.testing.assert_allclose(splats.opacities, 0.99, atol=1e-6)


def test_splats_are_flat_texel_sized_discs_in_the_surface() -> None:
    scene = _quad(np.full((30, 40, 3), 100, np.uint8))
    splats = splats_from_scene(scene)
    texel = 2 * 2.0 * math.tan(math.radians(30)) / 30  # metres
    along = np.sort(splats.scales[:, :2], axis=1)
    np.testing.assert_allclose(along, SIGMA * texel, rtol=1e-4)
    assert (splats.scales[:, 2] < 0.05 * SIGMA * texel).all()
    # the flat axis is the surface normal (the rotation's third column)
    w, x, y, z = splats.rotations.T
    third = np.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], axis=1)
    np.testing.assert_allclose(np.abs(third[:, 2]), 1.0, atol=1e-5)


def test_the_surface_is_closed_between_the_splats() -> None:
    """Sampled anywhere on the quad (away from its border), the splats hide >= 97 % of what is behind
    (in 3D; a renderer's 0.3 px^2 widening closes them further)."""
    scene = _quad(np.full((12, 16, 3), 100, np.uint8))
    splats = splats_from_scene(scene)
    rng = np.random.default_rng(1)
    corners = scene.meshes[0].vertices
    lo, hi = corners[:, :2].min(axis=0), corners[:, :2].max(axis=0)
    margin = 0.15 * (hi - lo)
    points = lo + margin + rng.random((400, 2)) * (hi - lo - 2 * margin)
    d = points[:, None, :] - splats.means[None, :, :2]  # in the plane z = -2
    sigma = splats.scales[0, 0]
    weight = np.exp(-0.5 * (d**2).sum(axis=2) / sigma**2)
    transmitted = np.prod(1.0 - splats.opacities[None, :] * weight, axis=1)
    assert transmitted.mean() < 0.02 and transmitted.max() < 0.03


def test_transparent_texels_give_no_splat_and_soft_ones_less_opacity() -> None:
    texture = np.zeros((10, 10, 4), np.uint8)
    texture[:, :, :3] = 200
    texture[:, 5:, 3] = 255
    texture[:, 2:5, 3] = 128
    splats = splats_from_scene(_quad(texture))
    assert len(splats) == 10 * 8
    opacities = np.sort(np.unique(splats.opacities.round(4)))
    assert opacities[-1] == pytest.approx(0.99)
    assert opacities[0] < 0.5  # neighbours overlap, so each is fainter than the alpha it makes up


def test_opacity_calibration_gives_the_coverage_asked_for() -> None:
    alpha = np.linspace(0.0, 0.95, 20)
    opacity = opacity_for_alpha(alpha)
    assert (np.diff(opacity) > 0).all() and (opacity <= alpha + 1e-6).all()


def test_the_budget_makes_pieces_of_several_texels() -> None:
    scene = _quad(textured_photo(80, 60).rgb)
    few = splats_from_scene(scene, max_splats=1200)
    assert 1000 <= len(few) <= 1200
    texel = 2 * 2.0 * math.tan(math.radians(30)) / 60
    assert few.scales[:, :2].min() > 1.9 * SIGMA * texel  # pieces of about 2 x 2 texels


def test_a_reconstructions_backdrop_gives_up_splats_first() -> None:
    """A model (a quad of 80 x 60 texels) before a backdrop (a far quad of 200 x 150): with room for
    the model and a quarter of the backdrop, the model keeps one splat per texel; with less, both
    shrink in proportion. As `dioramic export` of a reconstruction's scene.glb gets them."""
    from dataclasses import replace

    from dioramic.splats.build import BACKDROP

    model = replace(_quad(textured_photo(80, 60).rgb).meshes[0], name="model")
    backdrop = replace(_quad(textured_photo(200, 150).rgb, depth=10.0).meshes[0], name=BACKDROP)
    scene = replace(_quad(textured_photo(80, 60).rgb), meshes=(backdrop, model))
    on_model = lambda splats: int((np.abs(splats.means[:, 2] + 2.0) < 1e-3).sum())  # noqa: E731
    ample = splats_from_scene(scene, 80 * 60 + 200 * 150)
    assert len(ample) == 80 * 60 + 200 * 150 and on_model(ample) == 80 * 60
    roomy = splats_from_scene(scene, 80 * 60 + 200 * 150 // 3)  # the backdrop down to a third
    assert len(roomy) <= 80 * 60 + 10_000 and on_model(roomy) == 80 * 60
    tight = splats_from_scene(scene, 6_000)  # below the model and a quarter of the backdrop
    share = 80 * 60 / (80 * 60 + 200 * 150 / 4)
    assert len(tight) <= 6_000 and on_model(tight) == pytest.approx(share * 6_000, rel=0.05)


def test_quaternions_are_the_rotations() -> None:
    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    q[q[:, 0] < 0] *= -1
    w, x, y, z = q.T
    matrices = np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], 1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], 1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], 1),
        ],
        1,
    )
    np.testing.assert_allclose(quaternions(matrices), q, atol=1e-9)


def test_the_two_plane_scene_is_reproduced_through_the_photos_camera(two_plane_scene) -> None:
    photo, scene = two_plane_scene
    splats = splats_from_scene(scene)
    assert {"hidden-1", "surface", "silhouettes"} <= {m.name for m in scene.meshes}
    image, covered = centre_image(splats, scene.camera)
    assert covered.mean() > 0.95
    assert psnr(image, photo.rgb / 255.0, covered) >= 25.0
    # the planes are where the mesh has them: 1 m on the left, 3 m on the right
    pixels = project(splats.means, scene.camera)
    left = (pixels[:, 0] < 40) & (pixels[:, 0] > 2) & (splats.opacities > 0.9)
    right = (pixels[:, 0] > 56) & (pixels[:, 0] < 94) & (splats.means[:, 2] > -3.5)
    assert np.median(-splats.means[left, 2]) == pytest.approx(1.0, rel=1e-3)
    assert np.median(-splats.means[right, 2]) == pytest.approx(3.0, rel=1e-3)


def test_ply_has_the_3dgs_fields_and_reads_back(two_plane_scene, tmp_path: Path) -> None:
    _, scene = two_plane_scene
    splats = splats_from_scene(scene)
    path = export_scene(scene, tmp_path / "splats.ply")
    vertex = plyfile.PlyData.read(str(path))["vertex"]
    assert [p.name for p in vertex.properties] == list(FIELDS)
    assert vertex.count == len(splats)
    np.testing.assert_allclose(np.stack([vertex["x"], vertex["y"], vertex["z"]], 1), splats.means)
    np.testing.assert_allclose(0.5 + SH_C0 * vertex["f_dc_1"], splats.colours[:, 1], atol=1e-6)
    np.testing.assert_allclose(1 / (1 + np.exp(-vertex["opacity"])), splats.opacities, atol=1e-5)
    np.testing.assert_allclose(np.exp(vertex["scale_0"]), splats.scales[:, 0], rtol=1e-5)
    rot = np.stack([vertex[f"rot_{k}"] for k in range(4)], 1)
    np.testing.assert_allclose(np.linalg.norm(rot, axis=1), 1.0, atol=1e-5)
    again = read_ply(path)
    for name in ("means", "normals", "colours", "scales", "rotations"):
        np.testing.assert_allclose(getattr(again, name), getattr(splats, name), rtol=1e-5, atol=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_spz_is_smaller_and_close(two_plane_scene, tmp_path: Path) -> None:
    _, scene = two_plane_scene
    splats = splats_from_scene(scene)
    ply = write_splats(splats, tmp_path / "s.ply")
    spz = export_scene(scene, tmp_path / "s.spz")
    assert Path(str(spz)).stat().st_size < Path(str(ply)).stat().st_size / 4
    back = read_spz(spz)
    assert len(back) == len(splats)
    np.testing.assert_allclose(back.means, splats.means, atol=1.5 / 4096)
    np.testing.assert_allclose(back.colours, splats.colours, atol=0.01)
    np.testing.assert_allclose(back.opacities, splats.opacities, atol=0.003)
    np.testing.assert_allclose(np.log(back.scales[:, :2]), np.log(splats.scales[:, :2]), atol=0.04)
    dots = np.abs((back.rotations * splats.rotations).sum(axis=1))
    assert dots.min() > 0.99


def test_an_empty_scene_gives_an_empty_file(tmp_path: Path) -> None:
    scene = Scene((), Camera.from_fov(8, 6, 50.0), near=1.0, far=2.0, focus=1.5)
    path = export_scene(scene, tmp_path / "empty.splat.ply")
    assert len(read_ply(path)) == 0 and isinstance(splats_from_scene(scene), Splats)
