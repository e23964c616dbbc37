"""Wall time of each stage of `dioramic run` and peak memory, for one photo.

    .venv/bin/python bench/pipeline.py [PHOTO] [--depth classical] [--size 1280x720] [--duration 5]

Prints one line per stage and the process's peak resident memory. Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from dioramic.config import RunOptions, parse_size
from dioramic.export import export_scene
from dioramic.files import save_depth
from dioramic.photo import load_photo
from dioramic.pipeline import choose_motion, estimate_depth, make_scene, render_settings
from dioramic.render import render_video

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("photo", nargs="?", type=Path, default=REPO / "assets/photos/product_coffee_cup.jpg")
    ap.add_argument("--depth", default="classical")
    ap.add_argument("--size", type=parse_size, default=None)
    ap.add_argument("--duration", type=float, default=5.0)
    args = ap.parse_args()
    options = RunOptions(depth=args.depth, size=args.size, duration=args.duration)

    rows: list[tuple[str, float]] = []

    def timed(name: str, fn):
        t0 = time.perf_counter()
        out = fn()
        rows.append((name, time.perf_counter() - t0))
        return out

    photo = timed("load photo", lambda: load_photo(args.photo))
    depth = timed(f"depth ({args.depth})", lambda: estimate_depth(photo, options))
    scene = timed("build scene", lambda: make_scene(photo, depth, options))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        timed(
            "write depth.png + depth.npy",
            lambda: (save_depth(depth, out / "d.png"), save_depth(depth, out / "d.npy")),
        )
        motion = timed("choose the motion (amplitude fit)", lambda: choose_motion(scene, options)).motion
        settings = render_settings(options, photo)
        size = (settings.width, settings.height)
        timed(
            "export animated scene.glb",
            lambda: export_scene(scene, out / "scene.glb", motion=motion, fps=settings.fps, size=size),
        )
        frames = round(settings.fps * settings.duration)
        timed(
            f"render + encode video ({settings.width}x{settings.height}, {frames} frames)",
            lambda: render_video(scene, motion, out / "video.mp4", settings, progress=False),
        )
    total = sum(t for _, t in rows)
    print(f"photo: {args.photo.name} ({photo.width}x{photo.height}), {scene.triangle_count} triangles")
    for name, t in rows:
        print(f"  {name:55s} {t:7.2f} s")
    print(f"  {'total':55s} {total:7.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory (max RSS)                                   {peak:7.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
