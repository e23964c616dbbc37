"""Benchmark of the 3D scene stage and the exporters: time, triangles, file sizes, peak memory.

    .venv/bin/python bench/scene.py                       # 1024x768 and 12 MP (4000x3000), for 1280 px video
    .venv/bin/python bench/scene.py --sizes 2048x1536 --photo /path/to/photo.jpg

The photo (default: the first of /work/shared/photos, else a synthetic pattern) is upscaled to each
size. Its depth is the classical estimator's on the original photo, upscaled bilinearly like a
network's low-resolution prediction (or, if dioramic.depth cannot run, a synthetic scene: a floor,
a wall and a box). Peak memory: the largest Python/numpy allocation (tracemalloc) during the stage,
beyond what existed before it; max RSS is the process's peak resident size so far.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dioramic.errors import DioramicError
from dioramic.export import EXPORTERS, export_scene
from dioramic.scene import SceneOptions, build_scene
from dioramic.types import DepthMap, Photo

DEFAULT_PHOTOS = Path("/work/shared/photos")
EXTENSION = {"glb": ".glb", "gltf": ".gltf", "obj": ".obj", "ply": ".ply", "points": ".points.ply"}


def measured(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, seconds and peak traced allocation (MB) of `fn()`.

    `fn` runs twice: timed without tracing (tracemalloc slows allocation-heavy Python code), then
    traced for its memory.
    """
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def source_photo(path: Path | None) -> np.ndarray:
    if path is None:
        photos = sorted(DEFAULT_PHOTOS.glob("*.jpg"))
        path = photos[0] if photos else None
    if path is None:
        y, x = np.mgrid[0:480, 0:640]
        return np.stack([x % 256, y % 256, (x ^ y) % 256], axis=2).astype(np.uint8)
    from dioramic.photo import load_photo

    return load_photo(path).rgb


def source_depth(rgb: np.ndarray) -> tuple[np.ndarray, str]:
    """Depth (metres) for the original photo: the classical estimator's, or a synthetic scene."""
    try:
        from dioramic.depth import estimate

        return estimate(Photo(rgb), "classical").depth, "classical estimator, upscaled"
    except Exception as exc:  # a benchmark falls back rather than stops
        print(f"(classical depth unavailable: {exc}; using a synthetic depth)", file=sys.stderr)
    h, w = rgb.shape[:2]
    v, u = np.mgrid[0:h, 0:w] + 0.5
    z = 1 / 6 + (1 - 1 / 6) * np.clip((v / h - 0.4) / 0.6, 0, 1)
    depth = 1 / z
    box = (np.abs(u - 0.5 * w) < 0.15 * w) & (np.abs(v - 0.55 * h) < 0.2 * h)
    return np.where(box, 1.6, depth).astype(np.float32), "synthetic floor, wall and box"


def run(size: tuple[int, int], rgb: np.ndarray, depth: np.ndarray, options: SceneOptions, out: Path) -> None:
    width, height = size
    photo = Photo(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_CUBIC))
    depth_map = DepthMap(
        cv2.resize(depth, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    )
    scene, seconds, peak = measured(lambda: build_scene(photo, depth_map, options))
    mesh = scene.meshes[0]
    layers = ", ".join(f"{m.name} {len(m.faces):,} tri / {len(m.vertices):,} vert" for m in scene.meshes)
    print(f"\n{width}x{height} ({width * height / 1e6:.1f} MP), max_triangles={options.max_triangles}")
    print(f"  scene build (lattice, cuts, decimation, mesh): {seconds:7.2f} s   peak {peak:7.1f} MB")
    print(
        f"  triangles {scene.triangle_count:,} ({layers})  "
        f"background texture {mesh.texture.shape[1]}x{mesh.texture.shape[0]}  "
        f"depth {scene.near:.2f}..{scene.far:.2f} m, focus {scene.focus:.2f} m"
    )
    print(f"  {'format':<8}{'time s':>9}{'size MB':>10}{'peak MB':>10}   files")
    for name, _ in EXPORTERS.items():
        target = out / f"{width}x{height}{EXTENSION.get(name, '.' + name)}"
        before = {p.name for p in out.iterdir()}
        try:
            _, seconds, peak = measured(lambda t=target, n=name: export_scene(scene, t, format=n))
        except DioramicError as exc:  # e.g. .blend without the Blender environment
            print(f"  {name:<8} skipped: {exc}")
            continue
        written = sorted({p.name for p in out.iterdir()} - before)
        size_mb = sum((out / f).stat().st_size for f in written) / 2**20
        print(f"  {name:<8}{seconds:9.2f}{size_mb:10.2f}{peak:10.1f}   {', '.join(written)}")
    print(f"  max RSS of the process so far: {max_rss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photo", type=Path, default=None)
    parser.add_argument("--sizes", nargs="+", default=["1024x768", "4000x3000"])
    parser.add_argument("--max-triangles", type=int, default=SceneOptions().max_triangles)
    parser.add_argument(
        "--view-size", type=int, default=1280, help="long side of the video the scene is for (default 1280)"
    )
    args = parser.parse_args()
    rgb = source_photo(args.photo)
    depth, kind = source_depth(rgb)
    print(f"photo {rgb.shape[1]}x{rgb.shape[0]} upscaled; depth: {kind}")
    options = SceneOptions(max_triangles=args.max_triangles, view_size=args.view_size)
    with tempfile.TemporaryDirectory(prefix="dioramic-bench-scene-") as tmp:
        for size in args.sizes:
            w, h = (int(x) for x in size.lower().split("x"))
            run((w, h), rgb, depth, options, Path(tmp))


if __name__ == "__main__":
    main()
