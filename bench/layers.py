"""What the layered scene costs: build time (one mesh vs the layers) and render time per frame.

    .venv/bin/python bench/layers.py                               # coffee cup at 1024x768, 1280x960 frames
    .venv/bin/python bench/layers.py --photo assets/photos/outdoor_rocket_launch.jpg --frames 20
    .venv/bin/python bench/layers.py --inpainter smooth          # the fills' cost: compare inpainters

The photo is resized to --size and its depth is the classical estimator's (on the original photo,
upscaled bilinearly). Build times are the best of --repeat runs; the layered build is broken down
into its steps (lattice and cuts are shared with the one-mesh build), in CPU time of this process as
well (steadier than wall-clock on a shared machine). Rendering: --frames poses of
the 'circle' preset through `GLRenderer.render_stats` (2x supersampling), both scenes at the same
triangle budget. The machine's load average is printed: other processes on the cores slow it all.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from pathlib import Path

import cv2
import numpy as np

from dioramic.depth import estimate
from dioramic.motion import make_motion
from dioramic.photo import load_photo
from dioramic.render.opengl import GLRenderer
from dioramic.scene import SceneOptions, build_scene
from dioramic.types import DepthMap, Photo

ROOT = Path(__file__).resolve().parent.parent
STEPS = (
    "pad_depth",
    "pad_colour",
    "canvas_lattices",
    "peel_layers",
    "silhouette_band",
    "plan_all_within_budget",
    "matte",
    "fill_colours",
    "image_mesh",
)


def best_of(repeat: int, fn):
    """The result and the best wall-clock and CPU times of `repeat` runs of `fn`."""
    times, cpu, result = [], [], None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return result, min(times), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photo", type=Path, default=ROOT / "assets/photos/product_coffee_cup.jpg")
    parser.add_argument("--size", default="1024x768")
    parser.add_argument(
        "--render-size", default="1280x960", help="frames (default 1280x960: 4:3 like --size)"
    )
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--inpainter", default=SceneOptions().inpainter, help="the hidden layers' and margin's fill"
    )
    args = parser.parse_args()
    width, height = (int(x) for x in args.size.lower().split("x"))
    original = load_photo(args.photo)
    depth = estimate(original, "classical").depth
    photo = Photo(cv2.resize(original.rgb, (width, height), interpolation=cv2.INTER_CUBIC))
    depth_map = DepthMap(cv2.resize(depth, (width, height), interpolation=cv2.INTER_LINEAR))
    print(f"{args.photo.name} at {width}x{height}, classical depth; load average {os.getloadavg()[0]:.2f}")

    options = SceneOptions(inpainter=args.inpainter)
    single, t_single, c_single = best_of(
        args.repeat, lambda: build_scene(photo, depth_map, SceneOptions(layers=False))
    )
    layered, t_layered, c_layered = best_of(args.repeat, lambda: build_scene(photo, depth_map, options))
    print(f"  one mesh   : {t_single:6.2f} s (CPU {c_single:.2f} s)  {single.triangle_count:,} triangles")
    parts = ", ".join(f"{m.name} {len(m.faces):,}" for m in layered.meshes)
    print(
        f"  layered ({args.inpainter}): {t_layered:6.2f} s (CPU {c_layered:.2f} s)  "
        f"{layered.triangle_count:,} triangles ({parts})"
    )
    print(f"  layering adds {t_layered - t_single:+.2f} s")
    profile = cProfile.Profile()
    profile.runcall(build_scene, photo, depth_map, options)
    stats = pstats.Stats(profile)
    print("  steps of the layered build (cumulative, one profiled run):")
    for (file, _, name), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if name in STEPS and "dioramic/scene" in file:
            print(f"    {name:<14}{cumulative:6.2f} s")

    rw, rh = (int(x) for x in args.render_size.lower().split("x"))
    for label, scene in (("one mesh", single), ("layered", layered)):
        motion = make_motion("circle", scene, duration=5.0)
        with GLRenderer(scene, rw, rh, supersample=2) as renderer:
            renderer.render_stats(motion.pose(0.0))  # warm up
            start = time.perf_counter()
            worst = [0.0, 0.0]
            for t in np.linspace(0.0, 5.0, args.frames):
                _, frame_stats = renderer.render_stats(motion.pose(float(t)))
                worst = [max(worst[0], frame_stats.uncovered), max(worst[1], frame_stats.stretched)]
            ms = 1000 * (time.perf_counter() - start) / args.frames
        print(
            f"  render {rw}x{rh} 2x SSAA, {label:<10}: {ms:6.1f} ms/frame, "
            f"worst uncovered {100 * worst[0]:.3f} %, stretched {100 * worst[1]:.2f} %"
        )


if __name__ == "__main__":
    main()
