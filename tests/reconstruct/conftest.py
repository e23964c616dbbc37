"""Synthetic multi-view sets for the reconstruction tests: a textured box on a textured floor, filmed by
our own renderer from a ring of known cameras, so that poses, depth and colours are known exactly.

The expensive parts (rendering the ring, one reconstruction) are session fixtures shared by the tests.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dioramic.motion.transforms import look_at
from dioramic.reconstruct.model import View
from dioramic.types import Camera, Mesh, Pose, Scene

pytest.importorskip("pycolmap", reason="the 'reconstruct' extra is not installed")
pytest.importorskip("open3d", reason="the 'reconstruct' extra is not installed")

REPO = Path(__file__).resolve().parents[2]
SIZE = (400, 300)
FOV_Y = 50.0
RING = 12
RADIUS = 3.0
ELEVATION = 25.0


def noise_texture(size: int, seed: int) -> np.ndarray:
    """(size, size, 3) uint8 colourful blobs at several scales: plenty for SIFT to find and match."""
    import cv2

    rng = np.random.default_rng(seed)
    total = np.zeros((size, size, 3), np.float32)
    for sigma, weight in ((1.0, 1.0), (2.5, 1.0), (6.0, 1.0)):
        layer = cv2.GaussianBlur(rng.normal(0, 1, (size, size, 3)).astype(np.float32), (0, 0), sigma)
        total += weight * layer / layer.std()
    total = (total - total.min()) / (total.max() - total.min())
    return (total * 255).astype(np.uint8)


def box_mesh(half: float, texture: np.ndarray) -> Mesh:
    """An axis-aligned cube of half-size `half` at the origin (its bottom on y = -half); each face
    shows its own sixth of `texture` (a 3 x 2 grid of cells)."""
    corners = {
        "+x": [(1, -1, 1), (1, -1, -1), (1, 1, -1), (1, 1, 1)],
        "-x": [(-1, -1, -1), (-1, -1, 1), (-1, 1, 1), (-1, 1, -1)],
        "+y": [(-1, 1, 1), (1, 1, 1), (1, 1, -1), (-1, 1, -1)],
        "-y": [(-1, -1, -1), (1, -1, -1), (1, -1, 1), (-1, -1, 1)],
        "+z": [(-1, -1, 1), (1, -1, 1), (1, 1, 1), (-1, 1, 1)],
        "-z": [(1, -1, -1), (-1, -1, -1), (-1, 1, -1), (1, 1, -1)],
    }
    vertices, uvs, faces = [], [], []
    for k, quad in enumerate(corners.values()):
        cu, cv = (k % 3) / 3.0, (k // 3) / 2.0
        base = len(vertices)
        vertices += [[half * x, half * y, half * z] for x, y, z in quad]
        # bottom-left, bottom-right, top-right, top-left of the cell (v grows downwards)
        uvs += [[cu, cv + 0.5], [cu + 1 / 3, cv + 0.5], [cu + 1 / 3, cv], [cu, cv]]
        faces += [[base, base + 1, base + 2], [base, base + 2, base + 3]]
    return Mesh(
        "box", np.array(vertices, np.float32), np.array(uvs, np.float32), np.array(faces, np.uint32), texture
    )


def floor_mesh(half: float, level: float, texture: np.ndarray) -> Mesh:
    """A square floor of half-size `half` at height `level`, facing up."""
    vertices = np.array(
        [[-half, level, half], [half, level, half], [half, level, -half], [-half, level, -half]]
    )
    uvs = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32)
    faces = np.array([[0, 1, 2], [0, 2, 3]], np.uint32)
    return Mesh("floor", vertices.astype(np.float32), uvs, faces, texture)


def object_scene() -> Scene:
    """A 1 m textured box standing on a 4 m textured floor, centred at the origin."""
    meshes = (floor_mesh(2.0, -0.5, noise_texture(512, 1)), box_mesh(0.5, noise_texture(768, 2)))
    return Scene(meshes=meshes, camera=Camera.from_fov(*SIZE, FOV_Y), near=1.0, far=8.0, focus=RADIUS)


def ring_poses(count: int = RING, radius: float = RADIUS, elevation: float = ELEVATION) -> list[Pose]:
    """`count` cameras on a circle around the origin, looking at it from `elevation` degrees up."""
    poses = []
    for k in range(count):
        azimuth = 2 * math.pi * k / count
        height = radius * math.sin(math.radians(elevation))
        flat = radius * math.cos(math.radians(elevation))
        position = np.array([flat * math.sin(azimuth), height, flat * math.cos(azimuth)])
        poses.append(Pose(position, look_at(position, np.zeros(3)), math.radians(FOV_Y)))
    return poses


def render(scene: Scene, poses: list[Pose], folder: Path, prefix: str = "view") -> list[Path]:
    """Render `scene` from `poses` into folder/<prefix>_NN.png."""
    from dioramic.render.opengl import GLRenderer

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with GLRenderer(scene, *SIZE, supersample=2, background=(30, 30, 30)) as renderer:
        for k, pose in enumerate(poses):
            path = folder / f"{prefix}_{k:02d}.png"
            Image.fromarray(renderer.render(pose)).save(path)
            paths.append(path)
    return paths


@dataclass(frozen=True)
class Ring:
    """A rendered ring of views."""

    folder: Path
    paths: list[Path]
    poses: list[Pose]
    """Camera of each image, in the synthetic scene's metres."""


@pytest.fixture(scope="session")
def ring(tmp_path_factory: pytest.TempPathFactory, gl_available: None) -> Ring:
    folder = tmp_path_factory.mktemp("ring")
    poses = ring_poses()
    return Ring(folder, render(object_scene(), poses, folder), poses)


@pytest.fixture(scope="session")
def reconstruction(ring: Ring, tmp_path_factory: pytest.TempPathFactory):
    """One reconstruction of the ring with every 4th image held out, without the video (the CLI test
    makes one)."""
    from dioramic.reconstruct import ReconstructOptions, reconstruct

    out = tmp_path_factory.mktemp("reconstruction") / "out"
    options = ReconstructOptions(holdout=4, max_triangles=30_000, write_video=False)
    return reconstruct([ring.folder], out, options)


def umeyama_error(estimated: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Per-point distances after the least-squares similarity that maps `estimated` onto `true`."""
    mu_e, mu_t = estimated.mean(0), true.mean(0)
    e, t = estimated - mu_e, true - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ e / len(e))
    d = np.eye(3)
    d[2, 2] = np.sign(np.linalg.det(u @ vt))
    rotation = u @ d @ vt
    scale = np.trace(np.diag(sigma) @ d) / (e**2).sum(1).mean()
    aligned = scale * e @ rotation.T + mu_t
    return np.linalg.norm(aligned - true, axis=1)


def colmap_centres(images_txt: Path) -> dict[str, np.ndarray]:
    """{image name: camera centre} from COLMAP's images.txt."""
    lines = [line for line in images_txt.read_text().splitlines() if line and not line.startswith("#")]
    out = {}
    for line in lines[0::2]:
        p = line.split()
        qw, qx, qy, qz = map(float, p[1:5])
        t = np.array(list(map(float, p[5:8])))
        r = np.array(
            [
                [1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * qw), 2 * (qx * qz + qy * qw)],
                [2 * (qx * qy + qz * qw), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * qw)],
                [2 * (qx * qz - qy * qw), 2 * (qy * qz + qx * qw), 1 - 2 * (qx * qx + qy * qy)],
            ]
        )
        out[p[9]] = -r.T @ t
    return out


def validate_gltf(path: Path) -> dict:
    """The Khronos glTF validator's report (tools/gltf-validator), or a skip without node/npm ci."""
    validator = REPO / "tools" / "gltf-validator"
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Khronos glTF validator runs on node")
    if not (validator / "node_modules" / "gltf-validator").is_dir():
        pytest.skip(f"the glTF validator is not installed: run 'npm ci' in {validator}")
    result = subprocess.run(
        [node, str(validator / "validate.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


def view_from_pose(name: str, image: np.ndarray, pose: Pose) -> View:
    """A reconstruction `View` (computer-vision camera axes) of `image` rendered from `pose`."""
    height, width = image.shape[:2]
    camera = Camera.from_fov(width, height, math.degrees(pose.fov_y))
    world_from_camera = pose.camera_rotation @ np.diag([1.0, -1.0, -1.0])  # y down, z ahead
    rotation = world_from_camera.T
    return View(
        name=name,
        image=image,
        valid=np.ones((height, width), bool),
        camera=camera,
        rotation=rotation,
        translation=-rotation @ pose.camera_position,
    )


def render_views(scene: Scene, poses: list[Pose], size: tuple[int, int] = SIZE) -> list[View]:
    """`scene` rendered from `poses` as reconstruction views."""
    from dioramic.render.opengl import GLRenderer

    with GLRenderer(scene, *size, supersample=2, background=(0, 0, 0)) as renderer:
        return [view_from_pose(f"v{k}", renderer.render(pose), pose) for k, pose in enumerate(poses)]


def textured_wall(depth: float = 4.0, half: float = 3.0, seed: int = 3) -> Scene:
    """A 6 m square wall of noise facing +Z, `depth` metres in front of the origin."""
    vertices = np.array(
        [[-half, -half, -depth], [half, -half, -depth], [half, half, -depth], [-half, half, -depth]],
        np.float32,
    )
    uvs = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32)
    mesh = Mesh("wall", vertices, uvs, np.array([[0, 1, 2], [0, 2, 3]], np.uint32), noise_texture(768, seed))
    return Scene(meshes=(mesh,), camera=Camera.from_fov(*SIZE, FOV_Y), near=1.0, far=8.0, focus=depth)
