"""View-dependent rendering: a reconstruction's photos draped over their own surfaces, blended."""

from __future__ import annotations

import numpy as np
import pytest

from dioramic.render import make_renderer
from dioramic.render.blend import PhotoBlendRenderer, source_weights
from dioramic.render.opengl import GLRenderer
from dioramic.types import Camera, Mesh, PhotoSurface, Pose, Scene, ViewCircle

CAMERA = Camera.from_fov(64, 48, 40.0)


def plane(
    z: float, half: float, image: np.ndarray, measured: bool, position: tuple[float, float, float]
) -> PhotoSurface:
    """A photo whose surface is the square of side 2 * `half` at depth `z` (looking down -Z)."""
    vertices = np.array([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]], np.float32)
    uvs = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32)
    rgba = np.dstack([image, np.full(image.shape[:2], 255 if measured else 0, np.uint8)])
    return PhotoSurface(
        "photo", rgba, vertices, uvs, np.array([[0, 1, 2], [0, 2, 3]], np.uint32), np.array(position)
    )


def flat(colour: tuple[int, int, int]) -> np.ndarray:
    return np.tile(np.array(colour, np.uint8), (16, 16, 1))


def halves(left: tuple[int, int, int], right: tuple[int, int, int]) -> np.ndarray:
    image = flat(left)
    image[:, 8:] = right
    return image


def scene(photos: tuple[PhotoSurface, ...], meshes: tuple[Mesh, ...] = ()) -> Scene:
    views = ViewCircle(np.array([0.0, 0.0, -2.0]), np.array([0.0, 1.0, 0.0]), 0.5, 0.0)
    return Scene(meshes, CAMERA, near=0.5, far=4.0, focus=2.0, views=views, photos=photos)


def pose_at(x: float) -> Pose:
    return Pose(np.array([x, 0.0, 0.0]), np.eye(3), CAMERA.fov_y)


def test_weights_pick_the_nearest_photos_and_favour_the_one_at_the_camera() -> None:
    photos = tuple(plane(-2.0, 2.0, flat((0, 0, 0)), True, (x, 0.0, 0.0)) for x in (-0.4, 0.0, 0.4, 0.8))
    chosen = source_weights(scene(photos), np.array([0.0, 0.0, 0.0]), 3)
    assert [i for i, _ in chosen] == [1, 0, 2] or [i for i, _ in chosen] == [1, 2, 0]
    assert chosen[0][1] > 0.99 and sum(w for _, w in chosen) == pytest.approx(1.0)
    # half way between two photos they share the frame; the next one out has no weight yet
    between = dict(source_weights(scene(photos), np.array([0.2, 0.0, 0.0]), 2))
    assert set(between) == {1, 2} and between[1] == pytest.approx(between[2], rel=0.1)


def test_at_a_photo_the_frame_is_that_photo(gl_available: None) -> None:
    photos = (
        plane(-2.0, 2.0, halves((255, 0, 0), (0, 0, 255)), True, (0.0, 0.0, 0.0)),
        plane(-2.0, 2.0, flat((0, 255, 0)), True, (0.6, 0.0, 0.0)),
    )
    with make_renderer(scene(photos), 64, 48) as renderer:
        assert isinstance(renderer, PhotoBlendRenderer)
        frame = renderer.render(pose_at(0.0)).astype(int)
        assert frame[24, 10].tolist() == [255, 0, 0] and frame[24, 54].tolist() == [0, 0, 255]
        # nearer the other photo, its colour takes over
        assert renderer.render(pose_at(0.59))[24, 32, 1] > 200


def test_a_measured_surface_wins_over_a_nearer_filled_in_one(gl_available: None) -> None:
    photos = (
        plane(-2.0, 2.0, flat((255, 0, 0)), True, (0.0, 0.0, 0.0)),
        plane(-1.0, 0.2, flat((0, 255, 0)), False, (0.05, 0.0, 0.0)),  # a guess, in front
    )
    with PhotoBlendRenderer(scene(photos), 64, 48) as renderer:
        assert renderer.render(pose_at(0.04))[24, 32].tolist() == [255, 0, 0]


def test_the_meshes_show_where_no_photo_does(gl_available: None) -> None:
    wall = Mesh(
        "background",
        np.array([[-9, -9, -3], [9, -9, -3], [9, 9, -3], [-9, 9, -3]], np.float32),
        np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32),
        np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
        flat((255, 255, 0)),
    )
    photos = (plane(-2.0, 0.3, flat((0, 0, 255)), True, (0.0, 0.0, 0.0)),)  # covers the centre only
    with PhotoBlendRenderer(scene(photos, (wall,)), 64, 48) as renderer:
        frame = renderer.render(pose_at(0.0))
    assert frame[24, 32].tolist() == [0, 0, 255] and frame[2, 2].tolist() == [255, 255, 0]
    # without photos the plain renderer is used
    with make_renderer(Scene((wall,), CAMERA, near=0.5, far=4.0, focus=2.0), 64, 48) as plain:
        assert type(plain) is GLRenderer


def test_a_pinhole_with_its_own_principal_point(gl_available: None) -> None:
    """`render_camera`: a principal point off the centre shifts the picture by as many pixels."""
    wall = Mesh(
        "wall",
        np.array([[-4, -3, -2], [4, -3, -2], [4, 3, -2], [-4, 3, -2]], np.float32),
        np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32),
        np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
        halves((255, 0, 0), (0, 0, 255)),
    )
    plain = Scene((wall,), CAMERA, near=0.5, far=4.0, focus=2.0)
    with GLRenderer(plain, 64, 48) as renderer:
        centred = renderer.render_camera(pose_at(0.0), CAMERA)
        shifted = Camera(64, 48, CAMERA.fx, CAMERA.fy, CAMERA.cx + 10, CAMERA.cy)
        moved = renderer.render_camera(pose_at(0.0), shifted)
    edge = lambda image: int(np.argmax(image[24, :, 2] > 128))  # noqa: E731 - first blue column
    assert edge(moved) - edge(centred) == 10
