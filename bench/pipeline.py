"""Wall time of each stage of `dioramic run` and peak memory, for one photo; then the whole
`dioramic run` as a user runs it (a fresh process) against x264 `veryfast` encoding the same frames.

    .venv/bin/python bench/pipeline.py [PHOTO] [--depth classical] [--size 1280x720] [--duration 5]
        [--no-stages] [--no-whole] [--repeat N]

Prints one line per stage, the process's peak resident memory, then the whole run's wall time, the
encode-only time of its frames and their ratio; with --repeat N, the whole run and the encode-only
are each the fastest of N (the runs other work on the machine disturbed least). Numbers, not
assertions.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from dioramic.config import RunOptions, parse_size
from dioramic.export import export_scene
from dioramic.files import save_depth
from dioramic.photo import load_photo
from dioramic.pipeline import choose_motion, estimate_depth, make_scene, render_settings
from dioramic.render import render_video

REPO = Path(__file__).resolve().parents[1]


def stages(args: argparse.Namespace) -> None:
    """Each stage of `run`, timed in this process."""
    options = RunOptions(depth=args.depth, size=args.size, duration=args.duration)
    rows: list[tuple[str, float]] = []

    def timed(name: str, fn):
        t0 = time.perf_counter()
        out = fn()
        rows.append((name, time.perf_counter() - t0))
        return out

    photo = timed("load photo", lambda: load_photo(args.photo))
    depth = timed(f"depth ({args.depth})", lambda: estimate_depth(photo, options))
    settings = render_settings(options, photo)
    size = (settings.width, settings.height)
    scene = timed("build scene", lambda: make_scene(photo, depth, options, size[0] / size[1], size))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        timed(
            "write depth.png + depth.npy",
            lambda: (save_depth(depth, out / "d.png"), save_depth(depth, out / "d.npy")),
        )
        fit = timed(
            "choose the motion (amplitude fit)", lambda: choose_motion(scene, options, size[0] / size[1])
        )
        motion = fit.motion
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


def encode_only(frames: list[np.ndarray], fps: int, path: Path) -> float:
    """Seconds x264 `veryfast` (yuv420p, default CRF) takes to encode `frames` into `path`."""
    height, width = frames[0].shape[:2]
    t0 = time.perf_counter()
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return time.perf_counter() - t0


def whole(args: argparse.Namespace) -> None:
    """`dioramic run` in a fresh process (start-up included), then encode-only of its frames."""
    command = [str(REPO / ".venv/bin/dioramic"), "run", str(args.photo), "--depth", args.depth]
    command += ["--duration", str(args.duration)]
    if args.size:
        command += ["--size", f"{args.size[0]}x{args.size[1]}"]
    runs, encodes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            out = Path(tempfile.mkdtemp(dir=tmp))
            t0 = time.perf_counter()
            subprocess.run([*command, "-o", str(out)], check=True, capture_output=True)
            runs.append(time.perf_counter() - t0)
        video = next(Path(tmp).glob("*/*/video.mp4"))
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            fps = round(stream.average_rate)
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        for _ in range(args.repeat):
            encodes.append(encode_only(frames, fps, Path(tmp) / "encode-only.mp4"))
    run_s, encode_s = min(runs), min(encodes)
    height, width = frames[0].shape[:2]
    print(f"whole `dioramic run` ({args.depth} depth, {width}x{height}, {len(frames)} frames):")
    print(f"  {'dioramic run, fresh process':55s} {run_s:7.2f} s")
    if args.repeat > 1:
        print(f"  {'  each run':55s} {', '.join(f'{t:.2f}' for t in runs)} s")
    print(f"  {'x264 veryfast encode-only of the same frames':55s} {encode_s:7.2f} s")
    print(f"  {'ratio':55s} {run_s / encode_s:7.1f} x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photo", nargs="?", type=Path, default=REPO / "assets/photos/product_coffee_cup.jpg")
    ap.add_argument("--depth", default="classical")
    ap.add_argument("--size", type=parse_size, default=None)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--no-stages", action="store_true", help="skip the per-stage timings")
    ap.add_argument("--no-whole", action="store_true", help="skip the whole-process run")
    ap.add_argument("--repeat", type=int, default=1, help="the whole run and encode-only: fastest of N")
    args = ap.parse_args()
    if not args.no_stages:
        stages(args)
    if not args.no_whole:
        whole(args)


if __name__ == "__main__":
    sys.exit(main())
