"""Benchmark: Blender's import of our animated GLB against our own renderer, and Blender's engines.

    .venv/bin/python bench/blender.py                               # bundled coffee cup, 320x180
    .venv/bin/python bench/blender.py --photo P.jpg --size 1280x720 --engines workbench,cycles,eevee

For each motion: the scene (depth from the 'auto' backend, as `dioramic run` makes it) is exported as
an animated GLB (PNG texture), Blender's glTF importer loads it and renders the first, middle and last
frame with the Workbench engine (flat texture colour); our renderer draws the same frames; the script
prints the SSIM of each pair (1.0 = identical). Then it times each engine on the first motion: seconds
per frame (after the first, which includes start-up and shader compilation) and the SSIM against our
frame. Needs `make blender`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from dioramic.blender import render_frames_with_blender
from dioramic.config import RunOptions
from dioramic.export import export_scene
from dioramic.motion import make_motion
from dioramic.photo import load_photo
from dioramic.pipeline import estimate_depth, make_scene
from dioramic.render import RenderSettings, render_frames

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "blender"))
from test_blender import ssim  # the tests' SSIM: one implementation

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=REPO / "assets/photos/product_coffee_cup.jpg")
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--motions", default="circle,dolly-zoom,orbit,turntable,ken-burns")
    parser.add_argument("--engines", default="workbench,cycles,eevee")
    parser.add_argument("--samples", type=int, default=16, help="Cycles and EEVEE samples")
    parser.add_argument("--out", type=Path, default=Path("/tmp/dioramic-bench-blender"))
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)

    photo = load_photo(args.photo)
    options = RunOptions()
    scene = make_scene(photo, estimate_depth(photo, options), options)
    print(f"{args.photo.name}: {scene.triangle_count} triangles, {width}x{height}, {args.fps:g} fps")
    print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores")
    count = round(args.duration * args.fps)
    frames = [0, count // 2, count - 1]
    settings = RenderSettings(width=width, height=height, fps=args.fps, duration=args.duration)
    first_glb = None
    for name in args.motions.split(","):
        motion = make_motion(name, scene, duration=args.duration)
        glb = export_scene(
            scene,
            args.out / f"{name}.glb",
            motion=motion,
            fps=args.fps,
            size=(width, height),
            image_format="png",
        )
        first_glb = first_glb or (glb, motion)
        ours = list(render_frames(scene, motion, settings))
        tick = time.perf_counter()
        theirs = render_frames_with_blender(glb, frames, engine="workbench")
        seconds = time.perf_counter() - tick
        scores = [ssim(ours[i], image) for i, image in zip(frames, theirs, strict=True)]
        listed = ", ".join(f"frame {i}: {s:.4f}" for i, s in zip(frames, scores, strict=True))
        print(f"  {name:12s} workbench SSIM {listed}  (mean {np.mean(scores):.4f}; {seconds:.1f} s)")

    glb, motion = first_glb
    ours = list(render_frames(scene, motion, settings))
    for engine in args.engines.split(","):
        samples = None if engine == "workbench" else args.samples
        tick = time.perf_counter()
        first = render_frames_with_blender(glb, [0], engine=engine, samples=samples)
        start = time.perf_counter() - tick
        tick = time.perf_counter()
        more = render_frames_with_blender(glb, frames, engine=engine, samples=samples)
        total = time.perf_counter() - tick
        # the second run pays start-up again: per frame = (3-frame run - 1-frame run) / 2
        per_frame = max(0.0, (total - start) / 2)
        scores = [ssim(ours[i], image) for i, image in zip(frames, more, strict=True)]
        print(
            f"  {engine:10s} samples {samples or '-':>4}: first frame run {start:.1f} s, "
            f"then {per_frame:.2f} s/frame; SSIM vs ours {np.mean(scores):.4f}"
        )
        del first


if __name__ == "__main__":
    main()
