"""Holes and smears: uncovered and stretched pixels per bundled photo x motion preset.

    .venv/bin/python bench/artifacts.py                        # layered scenes, every preset, amplitude 1
    .venv/bin/python bench/artifacts.py --single               # the one-mesh scene, for comparison
    .venv/bin/python bench/artifacts.py --amplitude auto       # the amplitude `--amplitude auto` picks
    .venv/bin/python bench/artifacts.py --overscan 0           # the moves' own framing (no zoom)
    .venv/bin/python bench/artifacts.py --photos assets/photos/pet_cat_closeup.jpg --frames 60

Depth: the classical estimator. Each scene is built for its move as `dioramic run` builds it
(`pipeline.make_scene`); each motion lasts 5 s and is sampled at --frames evenly spaced times; frames
are rendered at --size (long side) with 2x supersampling through `GLRenderer.render_stats`. Printed
per photo and preset: the worst frame's uncovered, stretched, rebuilt (hidden layers shown) and
beyond-the-frame percentages, the amplitude and the zoom (`--overscan`, auto by default) used, the
scene's build time and the render time per frame. Limits: those of `dioramic.render.fit`.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from dioramic.config import RunOptions, parse_overscan
from dioramic.motion import photo_presets
from dioramic.photo import load_photo
from dioramic.pipeline import choose_motion, estimate_depth, make_scene
from dioramic.render.fit import ArtifactLimits
from dioramic.render.opengl import GLRenderer
from dioramic.scene import SceneOptions, build_scene

PHOTOS = sorted(Path(__file__).resolve().parent.parent.joinpath("assets/photos").glob("*.jpg"))
DURATION = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", nargs="+", type=Path, default=PHOTOS)
    parser.add_argument(
        "--presets",
        nargs="+",
        default=None,
        help="default: all but spin and capture (made for reconstructed models)",
    )
    parser.add_argument("--size", type=int, default=640, help="long side of the frames (default 640)")
    parser.add_argument("--frames", type=int, default=30, help="frames per motion (default 30)")
    parser.add_argument("--amplitude", default="1", help="a number, or 'auto' (default 1)")
    parser.add_argument("--overscan", type=parse_overscan, default=None, help="auto (default) or X")
    parser.add_argument("--single", action="store_true", help="one mesh, no layers (the old scene)")
    args = parser.parse_args()
    presets = args.presets or photo_presets()
    limits = ArtifactLimits()
    print(
        f"limits: uncovered <= {100 * limits.uncovered:.2f} %, stretched <= {100 * limits.stretched:.2f} %, "
        f"rebuilt <= {100 * limits.revealed:.0f} %, beyond the frame <= {100 * limits.beyond:.0f} %"
    )
    header = (
        f"{'photo':<24}{'preset':<16}{'ampl':>6}{'zoom':>6}{'uncov %':>9}{'stretch %':>11}{'rebuilt %':>11}"
        f"{'beyond %':>10}{'scene s':>9}{'ms/frame':>10}"
    )
    worst = np.zeros(4)
    for path in args.photos:
        photo = load_photo(path)
        options = RunOptions(
            depth="classical",
            duration=DURATION,
            amplitude=None if args.amplitude == "auto" else float(args.amplitude),
            overscan=args.overscan,
        )
        depth = estimate_depth(photo, options)
        scale = args.size / max(photo.width, photo.height)
        width, height = round(photo.width * scale / 2) * 2, round(photo.height * scale / 2) * 2
        print(f"\n{path.name}: {photo.width}x{photo.height}, frames {width}x{height}")
        print(header)
        for name in presets:
            run = replace(options, motion=name)
            start = time.perf_counter()
            if args.single:
                scene = build_scene(photo, depth, SceneOptions(layers=False))
            else:  # the scene built for this move, as `dioramic run` builds it
                scene = make_scene(photo, depth, run)
            build = time.perf_counter() - start
            choice = choose_motion(scene, run)
            stats = []
            with GLRenderer(scene, width, height, supersample=2) as renderer:
                tick = time.perf_counter()
                for t in np.linspace(0.0, choice.motion.duration, args.frames):
                    _, frame = renderer.render_stats(choice.motion.pose(float(t)))
                    stats.append((frame.uncovered, frame.stretched, frame.revealed, frame.beyond))
                ms = 1000 * (time.perf_counter() - tick) / args.frames
            top = np.max(stats, axis=0)
            worst = np.maximum(worst, top)
            print(
                f"{path.stem[:23]:<24}{name:<16}{choice.amplitude:6.2f}{choice.zoom:6.3f}{100 * top[0]:9.3f}"
                f"{100 * top[1]:11.3f}{100 * top[2]:11.2f}{100 * top[3]:10.2f}{build:9.2f}{ms:10.1f}"
            )
    print(
        f"\nworst frame over all: uncovered {100 * worst[0]:.3f} %, stretched {100 * worst[1]:.3f} %, "
        f"rebuilt {100 * worst[2]:.2f} %, beyond the frame {100 * worst[3]:.2f} %"
    )


if __name__ == "__main__":
    main()
