"""Make the README's reconstruction picture: photos of a box around which the camera walked, and the
reconstructed model seen from all around by the `spin` move.

.venv/bin/python tools/reconstruct_picture.py docs/images/reconstruct.png

The "photos" are our renders of a box dressed in the bundled CC0 photos, standing on a floor of
another, from 12 cameras on a ring (so the picture needs no outside data); they go through
`dioramic reconstruct` like any photos.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from dioramic.motion import make_motion
from dioramic.motion.transforms import look_at
from dioramic.photo import load_photo
from dioramic.reconstruct import ReconstructOptions, reconstruct
from dioramic.render.opengl import GLRenderer
from dioramic.types import Camera, Mesh, Pose, Scene

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "photos"
SIZE = (480, 360)


def _atlas() -> np.ndarray:
    """A 3 x 2 grid of square crops of the bundled photos: one per face of the box."""
    crops = []
    for path in sorted(PHOTOS.glob("*.jpg")):
        rgb = load_photo(path).rgb
        side = min(rgb.shape[:2])
        top, left = (rgb.shape[0] - side) // 2, (rgb.shape[1] - side) // 2
        crops.append(
            np.asarray(Image.fromarray(rgb[top : top + side, left : left + side]).resize((256, 256)))
        )
    crops = (crops * 6)[:6]
    return np.concatenate([np.concatenate(crops[:3], 1), np.concatenate(crops[3:], 1)], 0)


def _scene() -> Scene:
    corners = [
        [(1, -1, 1), (1, -1, -1), (1, 1, -1), (1, 1, 1)],
        [(-1, -1, -1), (-1, -1, 1), (-1, 1, 1), (-1, 1, -1)],
        [(-1, 1, 1), (1, 1, 1), (1, 1, -1), (-1, 1, -1)],
        [(-1, -1, -1), (1, -1, -1), (1, -1, 1), (-1, -1, 1)],
        [(-1, -1, 1), (1, -1, 1), (1, 1, 1), (-1, 1, 1)],
        [(1, -1, -1), (-1, -1, -1), (-1, 1, -1), (1, 1, -1)],
    ]
    vertices, uvs, faces = [], [], []
    for k, quad in enumerate(corners):
        u, v = (k % 3) / 3, (k // 3) / 2
        base = len(vertices)
        vertices += [[0.5 * x, 0.5 * y + 0.5, 0.5 * z] for x, y, z in quad]
        uvs += [[u, v + 0.5], [u + 1 / 3, v + 0.5], [u + 1 / 3, v], [u, v]]
        faces += [[base, base + 1, base + 2], [base, base + 2, base + 3]]
    box = Mesh(
        "box", np.array(vertices, np.float32), np.array(uvs, np.float32), np.array(faces, np.uint32), _atlas()
    )
    floor_photo = load_photo(PHOTOS / "product_coffee_cup.jpg").rgb
    floor = Mesh(
        "floor",
        np.array([[-2, 0, 2], [2, 0, 2], [2, 0, -2], [-2, 0, -2]], np.float32),
        np.array([[0, 1], [1, 1], [1, 0], [0, 0]], np.float32),
        np.array([[0, 1, 2], [0, 2, 3]], np.uint32),
        floor_photo,
    )
    return Scene(meshes=(floor, box), camera=Camera.from_fov(*SIZE, 50.0), near=1.0, far=8.0, focus=3.0)


def _photos(folder: Path, count: int = 16) -> list[Path]:
    target = np.array([0.0, 0.4, 0.0])
    paths = []
    with GLRenderer(_scene(), *SIZE, supersample=2, background=(40, 44, 52)) as renderer:
        for k in range(count):
            azimuth = 2 * math.pi * k / count
            eye = target + 3.0 * np.array([math.sin(azimuth) * 0.9, 0.42, math.cos(azimuth) * 0.9])
            path = folder / f"walk_{k:02d}.png"
            Image.fromarray(renderer.render(Pose(eye, look_at(eye, target), math.radians(50)))).save(path)
            paths.append(path)
    return paths


def main(out: str, height: int = 180) -> None:
    with tempfile.TemporaryDirectory() as temp:
        paths = _photos(Path(temp))
        result = reconstruct(
            paths, Path(temp) / "model", ReconstructOptions(write_video=False, max_triangles=60_000)
        )
        scene = result.scene
        motion = make_motion("spin", scene, duration=1.0)
        with GLRenderer(scene, *SIZE, supersample=2) as renderer:
            turns = [renderer.render(motion.pose(t)) for t in (0.0, 0.25, 0.5, 0.75)]
        photos = [np.asarray(Image.open(p).convert("RGB")) for p in paths[0:15:5]]
    tiles = [
        Image.fromarray(t).resize((height * 4 // 3, height), Image.Resampling.LANCZOS) for t in photos + turns
    ]
    labels = ["photo 1 of 16", "photo 6", "photo 11", "model: spin 0°", "90°", "180°", "270°"]
    gap = 6
    sheet = Image.new(
        "RGB", (sum(t.width for t in tiles) + gap * (len(tiles) + 1), height + 2 * gap + 18), "white"
    )
    draw = ImageDraw.Draw(sheet)
    x = gap
    for tile, label in zip(tiles, labels, strict=True):
        sheet.paste(tile, (x, gap))
        draw.text((x + 2, height + gap + 3), label, fill=(40, 40, 40))
        x += tile.width + gap
    sheet.save(out, optimize=True)
    print(  # noqa: T201
        f"wrote {out} ({result.report['registered']}/{len(paths)} photos placed, "
        f"{scene.triangle_count} triangles)"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
