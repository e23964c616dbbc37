"""The layered scene (dioramic.scene.layered): every layer cut at depth edges, what the occluders
hide rebuilt from the far side, soft silhouettes, a margin, and the photo's own view unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from dioramic.camera import project
from dioramic.export import export_scene
from dioramic.scene import SILHOUETTES_NAME, SURFACE_NAME, SceneOptions, build_scene
from dioramic.scene_file import load_scene
from dioramic.types import DepthMap, Mesh, Photo, Pose, Scene, is_hidden_layer

WALL, BOX = (40, 90, 200), (230, 60, 30)  # blue wall, red box


def _box_photo(width: int, height: int, box: tuple[int, int, int, int]) -> Photo:
    """A textured blue wall with a textured red box (left, top, right, bottom) in front of it."""
    y, x = np.mgrid[0:height, 0:width]
    grain = ((x * 7 + y * 3) % 17).astype(np.int16) - 8
    rgb = np.empty((height, width, 3), np.int16)
    rgb[:] = WALL
    left, top, right, bottom = box
    rgb[top:bottom, left:right] = BOX
    return Photo(np.clip(rgb + grain[:, :, None], 0, 255).astype(np.uint8))


def _box_scene(width: int = 96, height: int = 72, **kwargs: object) -> tuple[Photo, np.ndarray, Scene]:
    box = (width * 5 // 16, height * 5 // 16, width * 11 // 16, height * 11 // 16)
    depth = np.full((height, width), 3.0, np.float32)
    depth[box[1] : box[3], box[0] : box[2]] = 1.0
    photo = _box_photo(width, height, box)
    return photo, depth, build_scene(photo, DepthMap(depth), SceneOptions(**kwargs))  # type: ignore[arg-type]


def _layer(scene: Scene, name: str) -> Mesh:
    return next(m for m in scene.meshes if m.name == name)


def _render(scene: Scene, pose: Pose, background=(255, 0, 255)) -> np.ndarray:
    from dioramic.render.opengl import GLRenderer

    cam = scene.camera
    with GLRenderer(scene, cam.width, cam.height, supersample=2, background=background) as renderer:
        return renderer.render(pose)


def _moved(scene: Scene, sideways: float) -> Pose:
    """The photo's camera moved `sideways` times the subject distance to the right."""
    return Pose(np.array([sideways * scene.focus, 0.0, 0.0]), np.eye(3), scene.camera.fov_y)


def _magenta(image: np.ndarray) -> np.ndarray:
    return (image[:, :, 0] > 250) & (image[:, :, 1] < 5) & (image[:, :, 2] > 250)


def _joins_planes(mesh: Mesh, near: float = 1.0, far: float = 3.0) -> int:
    """Triangles with a corner near each of the two planes (a sheet between them)."""
    depth = -mesh.vertices[mesh.faces, 2]
    on_near = np.abs(depth - near) < 0.25 * near
    on_far = np.abs(depth - far) < 0.25 * far
    return int((on_near.any(axis=1) & on_far.any(axis=1)).sum())


def test_the_layers_in_drawing_order() -> None:
    _, _, scene = _box_scene()
    names = [m.name for m in scene.meshes]
    assert names[-2:] == [SURFACE_NAME, SILHOUETTES_NAME]
    hidden = names[:-2]
    assert hidden and all(is_hidden_layer(n) for n in hidden)
    assert hidden == sorted(hidden, reverse=True)  # the deepest first
    for mesh in scene.meshes:
        assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.uint32
        assert mesh.uvs.min() >= 0.0 and mesh.uvs.max() <= 1.0 + 1e-6
        tri = mesh.vertices[mesh.faces].astype(np.float64)
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        assert (np.einsum("ij,ij->i", normal, -tri.mean(axis=1)) > 0).all()  # counter-clockwise
        expected = 4 if mesh.name == SILHOUETTES_NAME else 3
        assert mesh.texture.shape[2] == expected


@pytest.mark.parametrize("blur", [0.0, 1.5])
def test_no_triangle_joins_two_planes_in_any_layer_nor_in_the_glb(blur: float, tmp_path) -> None:
    """1 m on the left half, 3 m on the right (sharp, and blurred like a network's depth)."""
    width, height = 96, 64
    z = np.full((height, width), 1 / 3)
    z[:, : width // 2] = 1.0
    if blur:
        import cv2

        z = cv2.GaussianBlur(z, (0, 0), blur)
    photo = _box_photo(width, height, (0, 0, width // 2, height))
    scene = build_scene(photo, DepthMap((1.0 / z).astype(np.float32)), SceneOptions(lateral_move=0.1))
    assert len(scene.meshes) >= 3
    for mesh in scene.meshes:
        assert _joins_planes(mesh) == 0, mesh.name
    path = export_scene(scene, tmp_path / "scene.glb")
    for mesh in load_scene(path).meshes:
        assert _joins_planes(mesh) == 0, mesh.name


def test_the_photos_own_view_is_the_photo(gl_available: None) -> None:
    photo, _, scene = _box_scene(128, 96)
    image = _render(scene, Pose(np.zeros(3), np.eye(3), scene.camera.fov_y))
    assert not _magenta(image).any()
    mse = ((image.astype(float) - photo.rgb) ** 2).mean()
    assert 10 * np.log10(255**2 / mse) > 32  # only the soft edges and the resampling differ


def test_a_move_reveals_the_wall_behind_the_box_not_the_box_nor_a_hole(gl_available: None) -> None:
    """The camera slides right: everything moves left, the near box more than the wall, so right of
    the box a strip of wall that the photo never showed opens. It is rebuilt from the wall (blue),
    never from the box (red), and nothing is left uncovered."""
    _, _, scene = _box_scene(128, 96, lateral_move=0.12)
    image = _render(scene, _moved(scene, 0.1))
    assert not _magenta(image).any()
    move = scene.camera.fx * 0.1 * scene.focus  # parallax per unit of inverse depth
    right, top, bottom = 88, 30, 66  # the box's right, top and bottom edges in the photo
    box_edge, wall_edge = right - move / 1.0, right - move / 3.0  # where each is seen now
    assert wall_edge - box_edge > 5
    strip = image[top + 4 : bottom - 4, int(box_edge) + 2 : int(wall_edge) - 1].reshape(-1, 3).astype(float)
    to_wall = np.linalg.norm(strip - WALL, axis=1)
    to_box = np.linalg.norm(strip - BOX, axis=1)
    assert (to_wall < to_box).mean() > 0.95


def test_a_cut_out_moves_in_front_of_nothing(gl_available: None) -> None:
    """A red box cut out of its photo (alpha 0 around it, a soft edge), whatever depth the estimator
    made of the hidden colours there (here: nearer than the box). The empty surroundings go behind
    the box, the layers rebuilt behind its outline are transparent, and a move shows the box over
    the background colour: no red halo where the box was, no hole, nothing in front of it."""
    width, height = 128, 96
    box = (40, 30, 88, 66)
    photo = _box_photo(width, height, box)
    alpha = np.zeros((height, width), np.uint8)
    alpha[box[1] : box[3], box[0] : box[2]] = 255
    alpha[box[1] : box[3], box[2]] = 100  # a soft right edge
    photo = Photo(photo.rgb, alpha=alpha)
    depth = np.full((height, width), 0.8, np.float32)  # the estimator's guess for the empty part
    depth[box[1] : box[3], box[0] : box[2]] = 1.0
    scene = build_scene(photo, DepthMap(depth), SceneOptions(lateral_move=0.12))
    assert scene.focus == pytest.approx(1.0)
    surface = _layer(scene, SURFACE_NAME)
    assert (-surface.vertices[:, 2]).min() == pytest.approx(1.0, rel=0.01)  # nothing before the box
    hidden = [m for m in scene.meshes if is_hidden_layer(m.name)]
    assert hidden and all(m.texture.shape[2] == 4 for m in hidden)
    for mesh in hidden:  # what a hidden layer shows outside the box is transparent
        u, v = project(mesh.vertices, scene.camera).T
        outside = (u < box[0] - 3) | (u > box[2] + 3) | (v < box[1] - 3) | (v > box[3] + 3)
        th, tw = mesh.texture.shape[:2]
        texel = mesh.texture[
            np.clip((mesh.uvs[outside, 1] * th).astype(int), 0, th - 1),
            np.clip((mesh.uvs[outside, 0] * tw).astype(int), 0, tw - 1),
        ]
        assert (texel[:, 3] == 0).all()
    image = _render(scene, _moved(scene, 0.1), background=(255, 0, 255))
    move = scene.camera.fx * 0.1 * scene.focus
    seen = image[box[1] + 3 : box[3] - 3, int(box[0] - move) + 3 : int(box[2] - move) - 3]
    assert (np.linalg.norm(seen.reshape(-1, 3).astype(float) - BOX, axis=1) < 40).mean() > 0.95
    # where the box was before it moved, right of where it is now: the background, no red
    vacated = image[box[1] + 3 : box[3] - 3, int(box[2] - move) + 3 : box[2] + 2]
    assert vacated.size and _magenta(vacated).mean() > 0.95
    from dioramic.render.opengl import GLRenderer

    with GLRenderer(scene, 64, 48) as renderer:
        assert renderer.measure(_moved(scene, 0.1)).uncovered < 0.001


def test_hidden_layers_reach_as_far_as_the_allowed_move() -> None:
    def hidden_area(lateral: float) -> float:
        _, _, scene = _box_scene(128, 96, lateral_move=lateral, axial_move=0.0)
        area = 0.0
        for mesh in scene.meshes:
            if is_hidden_layer(mesh.name):
                p = project(mesh.vertices, scene.camera)[mesh.faces]
                e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
                area += float(np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]).sum() / 2)
        return area

    small, large = hidden_area(0.02), hidden_area(0.2)
    assert large > 2.0 * small
    # behind the box and its silhouette at most (hidden layers may overlap): it is 48 x 36 pixels
    assert large < 3.0 * 52 * 40


def test_nested_occluders_get_a_layer_each(gl_available: None) -> None:
    """A cup (1 m) over the edge of a saucer (2 m) on a table (4 m): behind the cup the saucer goes on
    from the left and the table from the right, and where they meet, behind the saucer's continued
    edge, the table again: two hidden layers. Sliding right opens table right of the cup, and right
    of the saucer below it."""
    width, height = 320, 192
    depth = np.full((height, width), 4.0, np.float32)
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:] = (30, 160, 40)  # green table
    depth[40:160, 40:200] = 2.0
    rgb[40:160, 40:200] = (240, 240, 240)  # white saucer
    depth[60:140, 170:230] = 1.0
    rgb[60:140, 170:230] = (220, 40, 30)  # red cup, over the saucer's right edge (x = 200)
    scene = build_scene(Photo(rgb), DepthMap(depth), SceneOptions(lateral_move=0.2, axial_move=0.0))
    assert sum(is_hidden_layer(m.name) for m in scene.meshes) >= 2
    image = _render(scene, _moved(scene, 0.1))
    assert _magenta(image).mean() < 0.001
    move = scene.camera.fx * 0.1 * scene.focus
    cup, table = 230 - move / 1.0, 230 - move / 4.0  # right of the cup: table opens
    behind_cup = image[80:120, int(cup) + 2 : int(table) - 1].reshape(-1, 3).astype(float)
    assert np.linalg.norm(behind_cup - (30, 160, 40), axis=1).mean() < 60
    saucer, table = 200 - move / 2.0, 200 - move / 4.0  # right of the saucer, below the cup: table
    behind_saucer = image[145:158, int(saucer) + 2 : int(table) - 1].reshape(-1, 3).astype(float)
    assert np.linalg.norm(behind_saucer - (30, 160, 40), axis=1).mean() < 60


def test_silhouettes_are_soft_and_their_colours_decontaminated() -> None:
    """An anti-aliased edge: the mixed column is half red, half blue. The silhouette layer holds it
    as red at half opacity; the surface behind it keeps no red."""
    width, height = 96, 64
    rgb = np.zeros((height, width, 3), np.float64)
    rgb[:] = WALL
    rgb[:, :48] = BOX
    rgb[:, 48] = 0.5 * np.array(BOX) + 0.5 * np.array(WALL)  # the mixed pixel
    depth = np.full((height, width), 3.0, np.float32)
    depth[:, :48] = 1.0  # the mixed column's depth is the wall's, as a depth edge usually is
    photo = Photo(rgb.round().astype(np.uint8))
    scene = build_scene(photo, DepthMap(depth), SceneOptions(lateral_move=0.1))

    def texel(mesh: Mesh) -> np.ndarray:
        """The texel of `mesh` at the mixed column, half-way down."""
        uv = project(mesh.vertices, scene.camera)
        at = np.argmin(np.hypot(uv[:, 0] - 48.5, uv[:, 1] - 32.5))
        assert np.hypot(*(uv[at] - (48.5, 32.5))) < 0.01
        u, v = mesh.uvs[at]
        th, tw = mesh.texture.shape[:2]
        return mesh.texture[int(v * th), int(u * tw)].astype(float)

    silhouette = texel(_layer(scene, SILHOUETTES_NAME))
    assert 80 <= silhouette[3] <= 180  # about half opaque
    assert np.linalg.norm(silhouette[:3] - BOX) < 40  # the foreground's colour
    surface = texel(_layer(scene, SURFACE_NAME))
    assert np.linalg.norm(surface[:3] - WALL) < 40  # the background's colour, no red left


def test_the_layers_share_the_triangle_budget() -> None:
    for budget in (2_000, 20_000):
        _, _, scene = _box_scene(128, 96, max_triangles=budget)
        assert scene.triangle_count <= budget
        assert any(is_hidden_layer(m.name) for m in scene.meshes)


def test_a_plane_is_one_layer() -> None:
    v = np.mgrid[0:64, 0:96][0] + 0.5
    depth = (1.0 / (0.02 + 0.98 * v / 64)).astype(np.float32)  # a floor running to the horizon
    photo = _box_photo(96, 64, (0, 0, 0, 0))
    scene = build_scene(photo, DepthMap(depth))
    assert [m.name for m in scene.meshes] == [SURFACE_NAME]


def test_a_noisy_surface_is_not_shredded() -> None:
    """Depth noise of a few per cent (an estimate's) makes no cut and no hidden layer."""
    rng = np.random.default_rng(1)
    depth = (2.0 * (1.0 + 0.03 * rng.standard_normal((64, 96)))).astype(np.float32)
    scene = build_scene(_box_photo(96, 64, (0, 0, 0, 0)), DepthMap(depth))
    assert [m.name for m in scene.meshes] == [SURFACE_NAME]


def test_the_margin_is_inpainted_not_mirrored() -> None:
    from dioramic.scene.margin import pad_colour

    image = np.full((40, 60, 3), 100, np.uint8)
    image[:, 3] = 250  # a bright line three pixels inside the left border
    padded = pad_colour(image, (20, 0, 0, 0))
    # a mirror would show the line three pixels outside the border; an inpainting fades it out
    assert padded[:, 20 - 4].mean() < 200
    np.testing.assert_array_equal(padded[:, 20:], image)  # the photo itself is untouched


def test_beyond_a_transparent_border_the_margin_stays_transparent() -> None:
    from dioramic.scene.margin import pad_colour

    image = np.zeros((40, 60, 4), np.uint8)
    image[5:35, 5:55] = (200, 100, 50, 255)  # an opaque subject, its surroundings transparent
    padded = pad_colour(image, (40, 30, 40, 30))
    assert padded.shape == (100, 140, 4)
    margin = np.ones((100, 140), bool)
    margin[30:70, 40:100] = False
    # the colours fade into their wide average there; the alpha does not (it stays the border's,
    # give or take what the inpainting sees of the subject five pixels inside)
    assert padded[..., 3][margin].max() <= 8
    np.testing.assert_array_equal(padded[30:70, 40:100], image)


def test_glb_round_trip_keeps_the_layers(tmp_path) -> None:
    _, _, scene = _box_scene()
    loaded = load_scene(export_scene(scene, tmp_path / "scene.glb"))
    assert [m.name for m in loaded.meshes] == [m.name for m in scene.meshes]
    assert [m.texture.shape[2] for m in loaded.meshes] == [m.texture.shape[2] for m in scene.meshes]
