"""Rendering a model through a photo's lens, with coverage."""

from __future__ import annotations

import numpy as np

from dioramic.reconstruct.holdout import render_photo_view
from dioramic.reconstruct.model import Lens
from dioramic.types import Camera, Mesh, Scene


def _scene(*meshes: Mesh) -> Scene:
    return Scene(meshes, Camera.from_fov(80, 40, 53.0), near=1.0, far=4.0, focus=2.0)


def test_a_wall_fills_the_frame_with_its_colours(gl_available: None) -> None:
    texture = np.zeros((2, 2, 3), np.uint8)
    texture[:, 0] = (255, 0, 0)
    texture[:, 1] = (0, 0, 255)
    vertices = np.array([[-2, -1, 2], [2, -1, 2], [2, 1, 2], [-2, 1, 2]], np.float32)  # 2 m ahead (z)
    wall = Mesh("wall", vertices, np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32),
                np.array([[0, 1, 2], [0, 2, 3]], np.uint32), texture)  # fmt: skip
    lens = Lens(80, 40, "SIMPLE_RADIAL", (40.0, 40.0, 20.0, 0.0))  # sees x within +-2, y +-1 at z = 2
    rgba = render_photo_view(_scene(wall), lens, np.zeros(3), np.eye(3), 80, 40)
    assert rgba.shape == (40, 80, 4) and (rgba[..., 3] == 255).all()
    assert rgba[20, 5, 0] > 200 and rgba[20, 75, 2] > 200  # left red, right blue
    # turned away: nothing covered, alpha 0 and black
    away = render_photo_view(_scene(wall), lens, np.zeros(3), np.diag([-1.0, 1.0, -1.0]), 80, 40)
    assert (away == 0).all()
    # half the wall: the edge pixels are partly covered
    half = Mesh("half", vertices + np.array([2.0, 0, 0], np.float32), wall.uvs, wall.faces, texture)
    edge = render_photo_view(_scene(half), lens, np.zeros(3), np.eye(3), 80, 40)[..., 3]
    assert (edge[:, :39] == 0).all() and (edge[:, 41:] == 255).all()
