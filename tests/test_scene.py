"""The 3D scene built from a photo and its depth (dioramic.scene)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dioramic.camera import camera_for_photo, project, texture_coords
from dioramic.errors import InputError, UsageError
from dioramic.scene import MESH_NAME, SceneOptions
from dioramic.scene import build_scene as build_layered
from dioramic.scene.lattice import find_cuts, lattice_layout, sample_lattice
from dioramic.types import Camera, DepthMap, Mesh, Photo, Scene


def build_scene(photo: Photo, depth: DepthMap, options: SceneOptions | None = None) -> Scene:
    """The one-mesh scene (``layers=False``) whose contract most tests below check."""
    options = options or SceneOptions()
    return build_layered(photo, depth, dataclasses.replace(options, layers=False))


def _photo(width: int, height: int, alpha: bool = False) -> Photo:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 7 % 256, y * 5 % 256, (x + y) % 256], axis=2).astype(np.uint8)
    return Photo(rgb, alpha=np.full((height, width), 200, np.uint8) if alpha else None)


def _inverse_plane(width: int, height: int, z_top: float, z_bottom: float, tilt: float = 0.0) -> np.ndarray:
    """Depth of a plane: inverse depth affine in the image, z_top at v = 0 and z_bottom at v = H."""
    v, u = np.mgrid[0:height, 0:width] + 0.5
    z = z_top + (z_bottom - z_top) * v / height + tilt * u / width
    return (1.0 / z).astype(np.float32)


def _two_planes(width: int = 64, height: int = 48, blur: float = 0.0) -> np.ndarray:
    """1 m on the left half, 3 m on the right, optionally blurred (in inverse depth) like network depth."""
    z = np.full((height, width), 1 / 3)
    z[:, : width // 2] = 1.0
    if blur:
        import cv2

        z = cv2.GaussianBlur(z, (0, 0), blur)
    return (1.0 / z).astype(np.float32)


def _mesh(scene: Scene) -> Mesh:
    assert len(scene.meshes) == 1
    return scene.meshes[0]


def _projected_area(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Signed area (pixels, > 0 = counter-clockwise on the displayed image) of every triangle."""
    mesh = _mesh(scene)
    p = project(mesh.vertices, scene.camera)[mesh.faces]
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    # image v points down, so counter-clockwise on screen is a negative cross product in (u, v)
    return -0.5 * (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]), p


def _check_mesh_contract(scene: Scene) -> None:
    """What every scene must satisfy: dtypes, UV = projection, CCW from the camera, full coverage."""
    mesh = _mesh(scene)
    assert mesh.name == MESH_NAME
    assert (
        mesh.vertices.dtype == np.float32 and mesh.uvs.dtype == np.float32 and mesh.faces.dtype == np.uint32
    )
    assert mesh.faces.max() < len(mesh.vertices)
    assert len(np.unique(mesh.faces)) == len(mesh.vertices)  # no unused vertex
    assert (mesh.vertices[:, 2] < 0).all()
    np.testing.assert_allclose(mesh.uvs, texture_coords(mesh.vertices, scene.camera), atol=2e-5)
    assert mesh.uvs.min() >= 0.0 and mesh.uvs.max() <= 1.0
    # counter-clockwise seen from the camera: the normal points back towards the origin
    tri = mesh.vertices[mesh.faces].astype(np.float64)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    assert (np.einsum("ij,ij->i", normal, -tri.mean(axis=1)) > 0).all()
    # the triangles tile the frame exactly: no hole, no overlap, seen from the photo's camera
    area, _ = _projected_area(scene)
    assert (area > 0).all()
    assert area.sum() == pytest.approx(scene.camera.width * scene.camera.height, rel=1e-5)
    depth = -mesh.vertices[:, 2]
    assert scene.near == pytest.approx(depth.min()) and scene.far == pytest.approx(depth.max())
    assert scene.near <= scene.focus <= scene.far


@pytest.mark.parametrize("blur", [0.0, 0.8])
def test_two_planes_are_never_joined_by_a_triangle(blur: float) -> None:
    """Sharp, or blurred over a few pixels as network depth is: a blurred step is a ramp the move
    would stretch (on this tiny photo only a large move does), so it becomes a step and is cut."""
    photo = _photo(64, 48)
    scene = build_scene(photo, DepthMap(_two_planes(blur=blur)), SceneOptions(lateral_move=0.25))
    _check_mesh_contract(scene)
    depth = -_mesh(scene).vertices[:, 2][_mesh(scene).faces]
    near = np.abs(depth - 1.0) < 0.05
    far = np.abs(depth - 3.0) < 0.15
    assert (near | far).all()  # no vertex floats between the planes
    assert (near.all(axis=1) | far.all(axis=1)).all()  # every triangle lies on one plane
    assert near.all(axis=1).any() and far.all(axis=1).any()
    assert scene.near == pytest.approx(1.0, abs=0.05) and scene.far == pytest.approx(3.0, rel=0.05)


def test_the_background_extends_under_the_foreground_edge() -> None:
    """Along the cut the far plane reaches the near plane's last column: seen from the camera the
    far side covers the strip between them, so the photo's view has no hole."""
    scene = build_scene(_photo(64, 48), DepthMap(_two_planes()))
    mesh = _mesh(scene)
    u = project(mesh.vertices, scene.camera)[:, 0]
    depth = -mesh.vertices[:, 2]
    assert u[depth > 2].min() < u[depth < 2].max()


@pytest.mark.parametrize(("z_top", "tilt"), [(0.02, 0.0), (0.002, 0.05), (0.5, -0.3)])
def test_a_steep_plane_keeps_every_triangle(z_top: float, tilt: float) -> None:
    """A floor running to the horizon (50 m or 500 m at the top, 1 m at the bottom) is not cut."""
    width, height = 96, 64
    photo = _photo(width, height)
    depth = _inverse_plane(width, height, z_top, 1.0, tilt)
    lattice = sample_lattice(depth, width, height, SceneOptions().edge_threshold)
    cut_x, cut_y = find_cuts(lattice, SceneOptions().edge_threshold)
    assert not cut_x.any() and not cut_y.any()
    scene = build_scene(photo, DepthMap(depth))
    _check_mesh_contract(scene)
    mesh = _mesh(scene)
    # every vertex lies on the plane (within float32 rounding): no vertex was pushed anywhere
    uv = project(mesh.vertices, scene.camera)
    z_plane = z_top + (1.0 - z_top) * uv[:, 1] / height + tilt * uv[:, 0] / width
    np.testing.assert_allclose(-mesh.vertices[:, 2] * z_plane, 1.0, rtol=1e-4)
    assert scene.triangle_count <= 2 * (width // 32) * (height // 32) * 4  # a plane needs few triangles


def test_cuts_are_scale_free() -> None:
    depth = _two_planes(blur=0.8)
    threshold = SceneOptions().edge_threshold
    cuts = find_cuts(sample_lattice(depth, 64, 48, threshold), threshold)
    scaled = find_cuts(sample_lattice(depth * 7.5, 64, 48, threshold), threshold)
    assert cuts[0].any()
    np.testing.assert_array_equal(cuts[0], scaled[0])
    np.testing.assert_array_equal(cuts[1], scaled[1])


def _bumpy(width: int, height: int) -> np.ndarray:
    v, u = np.mgrid[0:height, 0:width] + 0.5
    return (2.0 + 0.3 * np.sin(u / width * 9) * np.cos(v / height * 7)).astype(np.float32)


@pytest.mark.parametrize("budget", [60, 300, 2000])
def test_decimation_meets_the_budget_and_keeps_uvs_exact(budget: int) -> None:
    photo = _photo(128, 96)
    scene = build_scene(photo, DepthMap(_bumpy(128, 96)), SceneOptions(max_triangles=budget))
    assert 0 < scene.triangle_count <= budget
    _check_mesh_contract(scene)


def test_decimation_spends_triangles_on_edges_not_on_flat_regions() -> None:
    width, height = 256, 192
    depth = np.full((height, width), 4.0, np.float32)
    depth[64:128, 80:160] = 1.5  # a box in front of a wall
    scene = build_scene(_photo(width, height), DepthMap(depth), SceneOptions(max_triangles=100_000))
    _check_mesh_contract(scene)
    area, p = _projected_area(scene)
    centre = p.mean(axis=1)
    corner = (centre[:, 0] < 40) & (centre[:, 1] < 40)
    beside = (np.abs(centre[:, 0] - 80) < 1.5) | (np.abs(centre[:, 0] - 160) < 1.5)
    edges = beside & (centre[:, 1] > 66) & (centre[:, 1] < 126)
    assert area[edges].max() <= 1.01  # level-0 cells (1 x 1 pixel) and their neighbours along the cut
    assert area[corner].min() >= 127.0  # 16 x 16 pixel cells or larger away from it
    assert scene.triangle_count < 0.1 * (2 * width * height)  # a tenth of the full-resolution mesh


def test_vertices_lie_on_the_unprojected_depth() -> None:
    width, height = 80, 60
    depth = _bumpy(width, height)
    camera = camera_for_photo(_photo(width, height))
    scene = build_scene(_photo(width, height), DepthMap(depth))
    mesh = _mesh(scene)
    uv = project(mesh.vertices, camera)
    inner = (uv[:, 0] > 1) & (uv[:, 0] < width - 1) & (uv[:, 1] > 1) & (uv[:, 1] < height - 1)
    assert inner.sum() > 10
    # inner vertices sit on pixel centres and carry that pixel's depth
    np.testing.assert_allclose(uv[inner] % 1.0, 0.5, atol=1e-3)
    cols, rows = uv[inner, 0].astype(int), uv[inner, 1].astype(int)
    np.testing.assert_allclose(-mesh.vertices[inner, 2], depth[rows, cols], rtol=1e-6)


@pytest.mark.parametrize(("width", "height"), [(16, 16), (1024, 128), (96, 768), (3, 2), (1, 1), (17, 5)])
def test_tiny_photos_and_panoramas(width: int, height: int) -> None:
    photo = _photo(width, height)
    scene = build_scene(photo, DepthMap(_bumpy(width, height)))
    _check_mesh_contract(scene)


def test_depth_at_another_resolution_than_the_photo() -> None:
    photo = _photo(128, 96)
    scene = build_scene(photo, DepthMap(_bumpy(64, 48)))
    assert scene.camera == camera_for_photo(photo)
    _check_mesh_contract(scene)


def test_cuts_alone_over_budget_coarsen_the_lattice() -> None:
    # a checkerboard of depths has cuts everywhere: they cannot all keep full resolution
    v, u = np.mgrid[0:96, 0:128]
    depth = np.where((u // 4 + v // 4) % 2, 1.0, 3.0).astype(np.float32)
    scene = build_scene(_photo(128, 96), DepthMap(depth), SceneOptions(max_triangles=500))
    assert 0 < scene.triangle_count <= 500
    _check_mesh_contract(scene)


def test_texture_is_the_photo_downscaled_with_its_alpha() -> None:
    photo = _photo(200, 100, alpha=True)
    scene = build_scene(photo, DepthMap(_bumpy(200, 100)), SceneOptions(texture_max_size=50))
    texture = _mesh(scene).texture
    assert texture.shape == (25, 50, 4) and texture.dtype == np.uint8
    assert (texture[..., 3] == 200).all()
    assert build_scene(_photo(20, 10), DepthMap(_bumpy(20, 10))).meshes[0].texture.shape == (10, 20, 3)


def test_a_cut_outs_hidden_colours_are_continued_from_the_subject() -> None:
    from dioramic.scene import texture_image

    rgb = np.zeros((40, 60, 3), np.uint8)  # black where transparent, as many cut-out files are
    rgb[10:30, 20:41] = (200, 30, 30)
    alpha = np.zeros((40, 60), np.uint8)
    alpha[10:30, 20:40] = 255
    alpha[10:30, 40] = 100  # a soft edge keeps its own colour
    texture = texture_image(Photo(rgb, alpha=alpha), 4096)
    np.testing.assert_array_equal(texture[..., 3], alpha)
    np.testing.assert_array_equal(texture[alpha > 0][:, :3], rgb[alpha > 0])
    # next to the subject, filtering the texture blends the subject's red, never black
    assert (texture[10:30, 19, :3] == (200, 30, 30)).all()
    assert (texture[alpha == 0][:, 0] > 150).all()


def test_focus_is_the_subject_in_the_middle() -> None:
    v, u = np.mgrid[0:96, 0:128] + 0.5
    depth = np.where((u - 64) ** 2 + (v - 48) ** 2 < 30**2, 2.0, 5.0).astype(np.float32)
    scene = build_scene(_photo(128, 96), DepthMap(depth))
    assert scene.focus == pytest.approx(2.0)
    assert scene.near == pytest.approx(2.0) and scene.far == pytest.approx(5.0)


def test_fov_option_sets_the_camera() -> None:
    photo = _photo(64, 48)
    scene = build_scene(photo, DepthMap(_bumpy(64, 48)), SceneOptions(fov=90.0))
    assert np.degrees(scene.camera.fov_x) == pytest.approx(90.0)
    _check_mesh_contract(scene)


@pytest.mark.parametrize("bad", [np.nan, 0.0, -1.0, np.inf])
def test_invalid_depth_is_an_input_error(bad: float) -> None:
    depth = _bumpy(32, 24)
    depth[3, 4] = bad
    with pytest.raises(InputError, match="finite and > 0"):
        build_scene(_photo(32, 24), DepthMap(depth))


def test_depth_with_another_aspect_ratio_is_an_input_error() -> None:
    with pytest.raises(InputError, match="aspect ratio"):
        build_scene(_photo(64, 48), DepthMap(_bumpy(48, 48)))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_triangles": 1},
        {"edge_threshold": 0.0},
        {"max_error": -1.0},
        {"view_size": 0},
        {"mesh_resolution": 0},
        {"texture_max_size": 0},
        {"edge_threshold": float("nan")},
    ],
)
def test_invalid_options_are_usage_errors(kwargs: dict) -> None:
    with pytest.raises(UsageError):
        SceneOptions(**kwargs)


def test_lattice_layout_keeps_cells_square_and_within_the_pixels() -> None:
    for width, height in [(4000, 3000), (3000, 4000), (451, 300), (8192, 1024), (17, 5), (1, 1)]:
        cells_x, cells_y, levels = lattice_layout(width, height, 1536)
        assert 1 <= cells_x <= width and 1 <= cells_y <= height
        assert cells_x % 2**levels == 0 and cells_y % 2**levels == 0
        assert cells_x / cells_y == pytest.approx(width / height, rel=0.25)


def test_camera_is_the_photo_camera() -> None:
    photo = Photo(np.zeros((30, 40, 3), np.uint8), focal_length_35mm=35.0)
    scene = build_scene(photo, DepthMap(_bumpy(40, 30)))
    assert scene.camera == Camera.from_focal_35mm(40, 30, 35.0)


def _copies(scene: Scene) -> int:
    """Vertices sharing an image position with another one (pushed behind a cut)."""
    uv = np.round(project(_mesh(scene).vertices, scene.camera), 4)
    return len(uv) - len(np.unique(uv, axis=0))


def test_a_speck_of_noise_is_not_cut_but_an_object_is() -> None:
    depth = np.full((48, 64), 3.0, np.float32)
    depth[20, 30] = 2.0  # one wrong pixel
    assert _copies(build_scene(_photo(64, 48), DepthMap(depth))) == 0
    depth[10:18, 40:48] = 2.0  # an 8 x 8 pixel object
    assert _copies(build_scene(_photo(64, 48), DepthMap(depth))) > 0


def test_unknown_inpainter_lists_the_valid_ones() -> None:
    with pytest.raises(UsageError, match="smooth"):
        SceneOptions(inpainter="magic")
