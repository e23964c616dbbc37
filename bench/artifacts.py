"""Holes and smears: uncovered and stretched pixels per bundled photo x motion preset.

    .venv/bin/python bench/artifacts.py                        # layered scenes, every preset, amplitude 1
    .venv/bin/python bench/artifacts.py --single               # the one-mesh scene, for comparison
    .venv/bin/python bench/artifacts.py --amplitude auto       # the amplitude `--amplitude auto` picks
    .venv/bin/python bench/artifacts.py --photos assets/photos/pet_cat_closeup.jpg --frames 60

Depth: the classical estimator. Each motion lasts 5 s and is sampled at --frames evenly spaced times;
frames are rendered at --size (long side) with 2x supersampling through `GLRenderer.render_stats`.
Printed per photo and preset: the worst frame's uncovered and stretched percentages (and the mean
stretched), the amplitude used and the render time per frame. Limits: uncovered <= 0.1 %, stretched
<= the `dioramic.render.fit` default.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from dioramic.depth import estimate
from dioramic.motion import MOTION_PRESETS, make_motion
from dioramic.photo import load_photo
from dioramic.render.fit import ArtifactLimits, fit_amplitude
from dioramic.render.opengl import GLRenderer
from dioramic.scene import SceneOptions, build_scene

PHOTOS = sorted(Path(__file__).resolve().parent.parent.joinpath("assets/photos").glob("*.jpg"))
DURATION = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", nargs="+", type=Path, default=PHOTOS)
    parser.add_argument("--presets", nargs="+", default=None)
    parser.add_argument("--size", type=int, default=640, help="long side of the frames (default 640)")
    parser.add_argument("--frames", type=int, default=30, help="frames per motion (default 30)")
    parser.add_argument("--amplitude", default="1", help="a number, or 'auto' (default 1)")
    parser.add_argument("--single", action="store_true", help="one mesh, no layers (the old scene)")
    args = parser.parse_args()
    presets = args.presets or MOTION_PRESETS.names()
    limits = ArtifactLimits()
    print(f"limits: uncovered <= {100 * limits.uncovered:.2f} %, stretched <= {100 * limits.stretched:.2f} %")
    header = (
        f"{'photo':<24}{'preset':<16}{'ampl':>6}{'uncov max %':>13}{'stretch max %':>15}"
        f"{'mean %':>8}{'ms/frame':>10}"
    )
    worst_uncovered = worst_stretched = 0.0
    for path in args.photos:
        photo = load_photo(path)
        depth = estimate(photo, "classical")
        start = time.perf_counter()
        scene = build_scene(photo, depth, SceneOptions(layers=not args.single))
        build = time.perf_counter() - start
        scale = args.size / max(photo.width, photo.height)
        width, height = round(photo.width * scale / 2) * 2, round(photo.height * scale / 2) * 2
        layers = ", ".join(f"{m.name} {len(m.faces):,}" for m in scene.meshes)
        print(
            f"\n{path.name}: {photo.width}x{photo.height}, scene {build:.2f} s ({layers}), "
            f"frames {width}x{height}"
        )
        print(header)
        with GLRenderer(scene, width, height, supersample=2) as renderer:
            for name in presets:
                if args.amplitude == "auto":
                    fit = fit_amplitude(
                        scene, lambda a, n=name, s=scene: make_motion(n, s, duration=DURATION, amplitude=a)
                    )
                    amplitude = fit.amplitude
                else:
                    amplitude = float(args.amplitude)
                motion = make_motion(name, scene, duration=DURATION, amplitude=amplitude)
                uncovered, stretched = [], []
                tick = time.perf_counter()
                for t in np.linspace(0.0, DURATION, args.frames):
                    _, stats = renderer.render_stats(motion.pose(float(t)))
                    uncovered.append(stats.uncovered)
                    stretched.append(stats.stretched)
                ms = 1000 * (time.perf_counter() - tick) / args.frames
                worst_uncovered = max(worst_uncovered, max(uncovered))
                worst_stretched = max(worst_stretched, max(stretched))
                print(
                    f"{path.stem[:23]:<24}{name:<16}{amplitude:6.2f}{100 * max(uncovered):13.3f}"
                    f"{100 * max(stretched):15.3f}{100 * np.mean(stretched):8.3f}{ms:10.1f}"
                )
    print(
        f"\nworst frame over all: uncovered {100 * worst_uncovered:.3f} %, "
        f"stretched {100 * worst_stretched:.3f} %"
    )


if __name__ == "__main__":
    main()
