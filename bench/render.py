"""Benchmark: render only, encode only, and render + encode overlapped, on a ~200k-triangle scene.

    .venv/bin/python bench/render.py                      # 1280x720 and 1920x1080, 150 frames each
    .venv/bin/python bench/render.py --sizes 1280x720 --frames 60 --supersample 1
    .venv/bin/python bench/render.py --scene layered --photo /work/shared/photos/product_coffee_cup.jpg

The default scene is a grid displaced by a smooth depth field and textured with a photo from
/work/shared/photos (or --photo); --scene layered builds the real thing instead (`build_scene` on the
photo and its classical depth: an opaque background layer and an RGBA foreground layer sharing the
triangle budget), which costs llvmpipe about 1.5x the grid per frame. The camera orbits gently, so
every frame differs. For each size:

* render only: `GLRenderer.render(pose, with_coverage=True)` for every frame, frames kept in memory;
* encode only: those same frames through the .mp4 writer (libx264, the writer's defaults);
* render + encode: `render_video` to an .mp4 (encoding on a worker thread, overlapped).

It prints wall-clock fps, CPU seconds per frame (all threads of this process: llvmpipe's rasteriser
threads, x264's threads), and the ratio (render + encode time) / (encode-only time). The machine's
load average is printed too: other processes on the same cores slow every number down.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from dioramic.render import RenderSettings, render_video
from dioramic.render.opengl import GLRenderer
from dioramic.render.video import open_writer
from dioramic.types import Camera, Mesh, Pose, Scene

PHOTO = Path("/work/shared/photos/outdoor_rocket_launch.jpg")


def grid_scene(photo: np.ndarray, triangles: int) -> Scene:
    """A photo on a displaced grid of about `triangles` triangles, unprojected like a depth mesh."""
    height, width = photo.shape[:2]
    camera = Camera.from_fov(width, height, 46.0)
    # cols x rows vertices with 2 (cols-1)(rows-1) ~= triangles and the photo's aspect ratio.
    rows = max(2, round(math.sqrt(triangles / 2 * height / width))) + 1
    cols = max(2, round(triangles / 2 / (rows - 1))) + 1
    v, u = np.mgrid[0:rows, 0:cols].astype(np.float64)
    u, v = u / (cols - 1), v / (rows - 1)
    depth = (
        4.0 + 1.2 * np.sin(6.0 * u) * np.cos(5.0 * v) - 1.5 * np.exp(-((u - 0.5) ** 2 + (v - 0.6) ** 2) * 20)
    )
    x = (u * width - camera.cx) / camera.fx * depth
    y = -(v * height - camera.cy) / camera.fy * depth
    vertices = np.stack([x, y, -depth], axis=-1).reshape(-1, 3).astype(np.float32)
    uvs = np.stack([u, v], axis=-1).reshape(-1, 2).astype(np.float32)
    index = np.arange(rows * cols).reshape(rows, cols)
    a, b, c, d = index[:-1, :-1], index[:-1, 1:], index[1:, :-1], index[1:, 1:]
    faces = np.stack([np.stack([a, c, b], -1), np.stack([b, c, d], -1)], 2).reshape(-1, 3).astype(np.uint32)
    mesh = Mesh("background", vertices, uvs, faces, photo)
    return Scene((mesh,), camera, float(depth.min()), float(depth.max()), 4.0)


def layered_scene(path: Path, triangles: int) -> Scene:
    """The pipeline's own scene of the photo at `path`: classical depth, two layers, `triangles` budget."""
    from dioramic.depth import estimate
    from dioramic.photo import load_photo
    from dioramic.scene import SceneOptions, build_scene

    photo = load_photo(path)
    return build_scene(photo, estimate(photo, "classical"), SceneOptions(max_triangles=triangles))


@dataclass(frozen=True)
class Orbit:
    """The camera swings left and right around the focus point and pushes in a little."""

    fov_y: float
    focus: float
    duration: float

    def pose(self, t: float) -> Pose:
        phase = 2.0 * math.pi * t / self.duration
        angle = math.radians(6.0) * math.sin(phase)
        distance = self.focus * (1.0 - 0.08 * (1.0 - math.cos(phase)) / 2.0)
        centre = np.array([0.0, 0.0, -self.focus])
        position = centre + distance * np.array([math.sin(angle), 0.0, math.cos(angle)])
        rotation = np.array(
            [
                [math.cos(angle), 0.0, math.sin(angle)],
                [0.0, 1.0, 0.0],
                [-math.sin(angle), 0.0, math.cos(angle)],
            ]
        )
        return Pose(position, rotation, self.fov_y)


def cpu_seconds() -> float:
    return time.process_time()


def bench_size(scene: Scene, width: int, height: int, args: argparse.Namespace, out_dir: Path) -> None:
    fps = 30.0
    frames_n = args.frames
    motion = Orbit(scene.camera.fov_y, scene.focus, frames_n / fps)
    times = [i / fps for i in range(frames_n)]
    print(
        f"\n== {width}x{height}, {frames_n} frames, supersample {args.supersample}, mipmaps {args.mipmaps} =="
    )

    with GLRenderer(scene, width, height, supersample=args.supersample, mipmaps=args.mipmaps) as renderer:
        renderer.render(motion.pose(0.0))  # warm-up: shader compilation
        frames = []
        wall, cpu = time.perf_counter(), cpu_seconds()
        for t in times:
            frames.append(renderer.render(motion.pose(t), with_coverage=True)[0])
        render_wall, render_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    Image.fromarray(frames[len(frames) // 2]).save(out_dir / f"frame_{width}x{height}.png")

    options = {"preset": args.preset}
    wall, cpu = time.perf_counter(), cpu_seconds()
    with open_writer(out_dir / f"encode_{width}x{height}.mp4", width, height, fps, **options) as writer:
        for frame in frames:
            writer.write(frame)
    encode_wall, encode_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    del frames

    settings = RenderSettings(
        width=width,
        height=height,
        fps=fps,
        duration=frames_n / fps,
        supersample=args.supersample,
        mipmaps=args.mipmaps,
        preset=args.preset,
    )
    wall, cpu = time.perf_counter(), cpu_seconds()
    report = render_video(scene, motion, out_dir / f"video_{width}x{height}.mp4", settings, progress=False)
    both_wall, both_cpu = time.perf_counter() - wall, cpu_seconds() - cpu

    def line(name: str, seconds: float, cpu: float) -> None:
        print(f"{name:<22} {frames_n / seconds:7.1f} fps  {1000 * seconds / frames_n:7.1f} ms/frame  "
              f"{1000 * cpu / frames_n:7.1f} CPU ms/frame")  # fmt: skip

    line("render only", render_wall, render_cpu)
    line("encode only", encode_wall, encode_cpu)
    line("render + encode", both_wall, both_cpu)
    print(f"ratio (render+encode) / (encode only): {both_wall / encode_wall:.2f}")
    print(
        f"render_video report: render {report.render_seconds:.1f} s, encode {report.encode_seconds:.1f} s "
        f"(overlapped), total {report.total_seconds:.1f} s, max uncovered {report.max_uncovered:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="1280x720,1920x1080", help="comma-separated WxH list")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--triangles", type=int, default=200_000)
    parser.add_argument("--supersample", type=int, default=2)
    parser.add_argument(
        "--mipmaps", choices=["auto", "on", "off"], default="auto", help="trilinear texture filtering"
    )
    parser.add_argument("--preset", default="veryfast", help="x264 preset")
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--scene", choices=["grid", "layered"], default="grid", help="what to render")
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the outputs in")
    args = parser.parse_args()
    args.mipmaps = {"auto": None, "on": True, "off": False}[args.mipmaps]

    if args.scene == "layered":
        scene = layered_scene(args.photo, args.triangles)
        photo = scene.meshes[0].texture
    else:
        photo = np.asarray(Image.open(args.photo).convert("RGB"))
        scene = grid_scene(photo, args.triangles)
    with GLRenderer(scene, 16, 16) as probe:
        gl = probe.device
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    layers = ", ".join(f"{m.name} {len(m.faces)}" for m in scene.meshes)
    texture = f"{photo.shape[1]}x{photo.shape[0]}"
    print(f"{scene.triangle_count} triangles ({layers}), texture {texture}; OpenGL: {gl}")
    print(f"CPU cores: {os.cpu_count()}, load average (1, 5, 15 min) before: {load}")
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for size in args.sizes.split(","):
            width, height = (int(s) for s in size.lower().split("x"))
            bench_size(scene, width, height, args, out_dir)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average after: {load}", file=sys.stdout)


if __name__ == "__main__":
    main()
