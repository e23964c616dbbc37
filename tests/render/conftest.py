"""Shared fixtures of the render tests: an OpenGL check, and tiny hand-built scenes."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from dioramic.types import Camera, Mesh, Pose, Scene

FOV_Y = math.radians(50.0)


@pytest.fixture
def gl(gl_available: None) -> None:
    """Request this in tests that need OpenGL."""


def quad(
    camera: Camera,
    depth: float,
    texture: np.ndarray,
    *,
    box: tuple[float, float, float, float] | None = None,
    name: str = "quad",
) -> Mesh:
    """A textured rectangle facing the camera at `depth` metres.

    `box` = (left, top, right, bottom) in pixels of `camera`'s image (default: the whole image), so
    that from the identity pose the quad covers exactly those pixels and shows all of `texture`.
    """
    left, top, right, bottom = box if box is not None else (0.0, 0.0, camera.width, camera.height)

    def point(u: float, v: float) -> list[float]:
        return [(u - camera.cx) / camera.fx * depth, -(v - camera.cy) / camera.fy * depth, -depth]

    vertices = np.array(
        [point(left, top), point(right, top), point(right, bottom), point(left, bottom)], dtype=np.float32
    )
    uvs = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float32)
    faces = np.array([[0, 3, 2], [0, 2, 1]], dtype=np.uint32)  # counter-clockwise seen from the camera
    return Mesh(name, vertices, uvs, faces, texture)


@pytest.fixture
def make_quad() -> Callable[..., Mesh]:
    return quad


@pytest.fixture
def camera() -> Camera:
    """The photo camera of the test scenes: 64 x 48 pixels, 50 degrees vertically."""
    return Camera.from_fov(64, 48, math.degrees(FOV_Y))


@pytest.fixture
def pattern() -> np.ndarray:
    """(48, 64, 3) uint8 test texture: four flat quadrants of known colours with smooth ramps inside."""
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    image[:24, :32] = (220, 40, 40)
    image[:24, 32:] = (40, 200, 60)
    image[24:, :32] = (30, 60, 210)
    image[24:, 32:] = (230, 220, 50)
    return image


@pytest.fixture
def make_scene() -> Callable[..., Scene]:
    def build(camera: Camera, *meshes: Mesh, focus: float = 2.0) -> Scene:
        depths = np.concatenate([-m.vertices[:, 2] for m in meshes])
        return Scene(tuple(meshes), camera, float(depths.min()), float(depths.max()), focus)

    return build


@pytest.fixture
def identity_pose(camera: Camera) -> Pose:
    return Pose(np.zeros(3), np.eye(3), camera.fov_y)
