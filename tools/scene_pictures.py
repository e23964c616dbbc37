"""Make docs/images/layers.png (the layered scene of one photo, layer by layer) and
docs/images/strips.png (frames of the default move on every bundled photo).

    .venv/bin/python tools/scene_pictures.py layers assets/photos/product_coffee_cup.jpg \
        docs/images/layers.png
    .venv/bin/python tools/scene_pictures.py strips docs/images/strips.png assets/photos/*.jpg

Both use the offline pipeline (classical depth, `dioramic run`'s settings and default motion).
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw

from dioramic.config import RunOptions
from dioramic.photo import load_photo
from dioramic.pipeline import choose_motion, estimate_depth, make_scene, render_settings
from dioramic.render.opengl import GLRenderer
from dioramic.types import Pose, is_hidden_layer

MAGENTA = (255, 0, 255)


def _labelled(tiles: list[np.ndarray], labels: list[str], height: int) -> Image.Image:
    scaled = [Image.fromarray(t).resize((round(t.shape[1] * height / t.shape[0]), height)) for t in tiles]
    out = Image.new("RGB", (sum(s.width for s in scaled) + 4 * (len(scaled) - 1), height + 22), "white")
    x = 0
    draw = ImageDraw.Draw(out)
    for image, label in zip(scaled, labels, strict=True):
        out.paste(image, (x, 22))
        draw.text((x + 4, 5), label, fill="black")
        x += image.width + 4
    return out


def _scene_and_motion(path: str):
    photo = load_photo(path)
    options = RunOptions(depth="classical")
    depth = estimate_depth(photo, options)
    settings = render_settings(options, photo)
    aspect = settings.width / settings.height
    scene = make_scene(photo, depth, options, aspect)
    return photo, depth, scene, choose_motion(scene, options, aspect).motion, settings


def layers(path: str, out: str, height: int = 220) -> None:
    photo, depth, scene, motion, _ = _scene_and_motion(path)
    width = round(height * photo.width / photo.height) * 2
    size = (width, round(width * photo.height / photo.width))
    own = Pose(np.zeros(3), np.eye(3), scene.camera.fov_y)

    def draw(meshes, pose, colour=None) -> np.ndarray:
        with GLRenderer(replace(scene, meshes=tuple(meshes)), *size, background=MAGENTA) as renderer:
            return renderer.render(pose)

    inverse = 1.0 / depth.depth
    grey = ((inverse - inverse.min()) / (np.ptp(inverse) + 1e-9) * 255).astype(np.uint8)
    hidden = [m for m in scene.meshes if is_hidden_layer(m.name)]
    surface = [m for m in scene.meshes if m.name == "surface"]
    silhouettes = [m for m in scene.meshes if m.name == "silhouettes"]
    moved = motion.pose(motion.duration * 0.25)
    # the moved view with what the photo does not show tinted: hidden layers blue, the margin green
    tinted = []
    for mesh in scene.meshes:
        if is_hidden_layer(mesh.name):
            rgb = mesh.texture[:, :, :3].astype(np.float32) * 0.5 + np.array([0, 40, 127], np.float32)
            tinted.append(replace(mesh, texture=np.clip(rgb, 0, 255).astype(np.uint8)))
        else:
            tinted.append(mesh)
    tiles = [
        photo.rgb,
        np.dstack([grey] * 3),
        draw(surface, own),
        draw(silhouettes, own),
        draw(hidden, own),
        draw(scene.meshes, moved),
        draw(tinted, moved),
    ]
    labels = [
        "photo",
        "depth (near = bright)",
        "surface (cut at every edge)",
        "silhouettes (soft alpha)",
        f"hidden layers ({len(hidden)})",
        "a moved view",
        "same, hidden layers tinted",
    ]
    rows = [_labelled(tiles[:4], labels[:4], height), _labelled(tiles[4:], labels[4:], height)]
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    sheet.paste(rows[0], (0, 0))
    sheet.paste(rows[1], (0, rows[0].height))
    sheet.save(out)


def strips(out: str, paths: list[str], height: int = 200) -> None:
    rows = []
    for path in paths:
        _, _, scene, motion, settings = _scene_and_motion(path)
        with GLRenderer(scene, settings.width, settings.height, background=MAGENTA) as renderer:
            times = [motion.duration * k / 4 for k in range(4)]
            frames = [renderer.render(motion.pose(t)) for t in times]
        labels = [f"{path.rsplit('/', 1)[-1]} t = {t:.2f} s" for t in times]
        rows.append(_labelled(frames, labels, height))
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, sum(r.height for r in rows)), "white")
    y = 0
    for row in rows:
        sheet.paste(row, (0, y))
        y += row.height
    sheet.save(out)


if __name__ == "__main__":
    if sys.argv[1] == "layers":
        layers(sys.argv[2], sys.argv[3])
    else:
        strips(sys.argv[2], sys.argv[3:])
