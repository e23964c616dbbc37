"""Gaussian splats: what writing them adds to `dioramic run`, how well their centres reproduce the photo,
and how large the files are.

    .venv/bin/python bench/splats.py [--photo PHOTO] [--repeat 3] [--reconstruction OUT] [--large]

1. `run_photo` on the demo photo (classical depth, default video) with --splats, `--repeat` times: the
   'splats' stage (building and writing splats.ply: the only work --splats adds), median and worst,
   and the whole run for scale.
2. PSNR of the splat centres projected through the photo's camera against the photo, over the pixels
   they cover (`dioramic.splats.view.centre_image`): the demo photo, the two-plane scene (a textured
   photo, 1 m on the left half and 3 m on the right, as in tests/splats), and with --reconstruction a
   `dioramic reconstruct` output (its reference photo, at full size and smaller; and, where it held
   photos out, each of those, with the splats' view-dependent colours and with one colour each).
3. With --large: the demo photo upscaled to 12 MP (4000 x 3000): splat count, PLY and SPZ sizes, time.

Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from dioramic.config import RunOptions
from dioramic.photo import load_photo
from dioramic.pipeline import estimate_depth, make_scene, render_settings, run_photo
from dioramic.splats import splats_from_scene, write_splats
from dioramic.splats.view import centre_image, psnr
from dioramic.types import DepthMap, Photo

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "assets" / "photos" / "product_coffee_cup.jpg"


def cost_in_run(photo: Path, repeat: int) -> None:
    options = RunOptions(depth="classical", splats=True)
    stage, whole = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeat):
            start = time.perf_counter()
            result = run_photo(photo, Path(tmp), options, name=f"run{k}", progress=False)
            whole.append(time.perf_counter() - start)
            stage.append(result.timings["splats"])
        size = (Path(tmp) / "run0" / "splats.ply").stat().st_size
    print(f"dioramic run {photo.name} --splats ({repeat} runs):")
    print(f"  writing splats.ply (the time --splats adds): median {statistics.median(stage):.2f} s, "
          f"worst {max(stage):.2f} s; {size / 1e6:.1f} MB")  # fmt: skip
    print(f"  the whole run: median {statistics.median(whole):.2f} s")


def centre_psnr(name: str, photo: Photo, depth: DepthMap) -> None:
    options = RunOptions(depth="classical")
    settings = render_settings(options, photo)
    scene = make_scene(
        photo, depth, options, settings.width / settings.height, (settings.width, settings.height)
    )
    splats = splats_from_scene(scene)
    image, covered = centre_image(splats, scene.camera)
    value = psnr(image, photo.rgb / 255.0, covered)
    print(f"  {name}: {value:.2f} dB over {100 * covered.mean():.1f} % of the photo ({len(splats):,} splats)")


def two_planes(width: int = 640, height: int = 480) -> tuple[Photo, DepthMap]:
    v, u = np.mgrid[0:height, 0:width] / 6.0
    rgb = np.stack(
        [128 + 80 * np.sin(u) * np.cos(0.7 * v), 140 + 90 * np.cos(0.8 * u + v), 128 + 100 * np.sin(2.3 * v)],
        axis=2,
    )
    depth = np.full((height, width), 3.0, np.float32)
    depth[:, : width // 2] = 1.0
    return Photo(np.clip(rgb, 0, 255).astype(np.uint8)), DepthMap(depth)


def reconstruction_psnr(out: Path) -> None:
    import json

    from dioramic.scene_file import load_scene
    from dioramic.splats.ply import read_ply
    from dioramic.splats.view import held_out_names
    from dioramic.splats.view import reconstruction_psnr as measure

    path = out / "splats.ply"
    splats = read_ply(path) if path.is_file() else splats_from_scene(load_scene(out / "scene.glb"))
    reference = json.loads((out / "report.json").read_text())["reference_view"]
    print(f"  {out.name} (reference photo {reference}, {len(splats):,} splats):")
    for scale in (1, 2, 4):
        value, covered = measure(out, splats, scale)
        print(f"    at 1/{scale} of its size: {value:.2f} dB over {100 * covered:.1f} %")
    held_out = held_out_names(out)
    if held_out:  # the photos the splats never saw: with their view-dependent colours, and without
        flat = replace(splats, sh=None)
        print(f"    held-out photos (degree {splats.degree} harmonics | one colour per splat):")
        for name in held_out:
            value, covered = measure(out, splats, photo=name)
            single, _ = measure(out, flat, photo=name)
            print(f"      {name}: {value:.2f} dB | {single:.2f} dB over {100 * covered:.1f} %")


def large(photo_path: Path) -> None:
    import cv2

    photo = load_photo(photo_path)
    big = Photo(cv2.resize(photo.rgb, (4000, 3000), interpolation=cv2.INTER_CUBIC), focal_length_35mm=28.0)
    options = RunOptions(depth="classical")
    depth = estimate_depth(big, options)
    settings = render_settings(options, big)
    scene = make_scene(
        big, depth, options, settings.width / settings.height, (settings.width, settings.height)
    )
    texels = sum(m.texture.shape[0] * m.texture.shape[1] for m in scene.meshes)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        splats = splats_from_scene(scene)
        built = time.perf_counter() - start
        ply = Path(str(write_splats(splats, Path(tmp) / "splats.ply")))
        wrote = time.perf_counter() - start - built
        spz = Path(str(write_splats(splats, Path(tmp) / "splats.spz")))
        print(f"12 MP photo (4000x3000, textures {texels / 1e6:.1f} M texels): {len(splats):,} splats, "
              f"built in {built:.1f} s, PLY {ply.stat().st_size / 1e6:.0f} MB written in {wrote:.1f} s, "
              f"SPZ {spz.stat().st_size / 1e6:.0f} MB")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, default=DEMO)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reconstruction", type=Path, help="a 'dioramic reconstruct' output folder")
    parser.add_argument("--large", action="store_true", help="also a 12 MP photo's splats")
    args = parser.parse_args(argv)
    cost_in_run(args.photo, args.repeat)
    print("splat centres through the photo's camera against the photo:")
    photo = load_photo(args.photo)
    centre_psnr(args.photo.name, photo, estimate_depth(photo, RunOptions(depth="classical")))
    centre_psnr("two planes (1 m and 3 m, 640x480)", *two_planes())
    if args.reconstruction is not None:
        reconstruction_psnr(args.reconstruction)
    if args.large:
        large(args.photo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
