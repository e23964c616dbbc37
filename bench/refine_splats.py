"""Splats of a reconstruction refined on a CUDA GPU: held-out PSNR before and after, and the time taken.

    .venv/bin/pip install -e '.[splats-gpu]'       # PyTorch with CUDA and gsplat, on a GPU machine
    .venv/bin/python bench/refine_splats.py                        # entry-P10, 7000 iterations
    .venv/bin/python bench/refine_splats.py templeSparseRing --iterations 3000 --keep OUT
    python bench/refine_splats.py --from OUT --iterations 3000   # an earlier reconstruction's splats

With --from, the splats.ply of an existing `dioramic reconstruct ... --holdout 4 --splats` output are
refined as they are (its sparse/transforms.json and images/): for a GPU machine without the
reconstruction's own packages (pycolmap, Open3D); the refined splats are written to OUT/refined.ply.

Runs `dioramic reconstruct SCENE -o OUT --holdout 4 --splats --refine-splats N --no-video` on a scene
of ../shared/multiview (or --data DIR) and prints what report.json says of the splats: how many, the
PSNR of the held-out photos (every 4th, kept out of the reconstruction and of the refinement) drawn
from the splats by gsplat before and after refining, the refinement's time, and the time of the whole
reconstruction. Without a GPU (or PyTorch, or gsplat) it prints the one-line refusal and exits 1.
Numbers, not assertions.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "multiview"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scene", nargs="?", default="entry-P10", help="a scene folder of --data")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--iterations", type=int, default=7000)
    parser.add_argument("--holdout", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="keep the output folder here")
    parser.add_argument("--from", dest="source", type=Path, help="refine this reconstruction's splats.ply")
    args = parser.parse_args(argv)
    if args.source is not None:
        return refine_existing(args.source, args.iterations)
    scene = args.data / args.scene
    images = scene / "images" if (scene / "images").is_dir() else scene
    with tempfile.TemporaryDirectory(prefix="dioramic-refine-") as tmp:
        out = args.keep or Path(tmp) / "out"
        command = [
            sys.executable, "-m", "dioramic.cli", "reconstruct", str(images), "-o", str(out),
            "--holdout", str(args.holdout), "--splats", "--refine-splats", str(args.iterations), "--no-video",
        ]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(command, text=True, capture_output=True)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
            return 1
        report = json.loads((out / "report.json").read_text())
    splats = report["splats"]
    refined = splats["refined"]
    print(f"{args.scene}: {report['registered']} of {report['images_given']} images placed, "
          f"{splats['splats']:,} splats, {refined['train_views']} photos trained on, "
          f"held out: {', '.join(refined['held_out'])}")  # fmt: skip
    before, after = refined["held_out_psnr_before"], refined["held_out_psnr_after"]
    print(f"  held-out PSNR (gsplat's drawing of the splats): {before:.2f} dB before, "
          f"{after:.2f} dB after {refined['iterations']} iterations")  # fmt: skip
    print(f"  refinement {refined['seconds']:.0f} s; the whole reconstruction {seconds:.0f} s")
    return 0


def refine_existing(out: Path, iterations: int) -> int:
    """Refine OUT/splats.ply against OUT's photos; print the held-out PSNR before and after."""
    from dioramic.errors import DioramicError
    from dioramic.splats import write_splats
    from dioramic.splats.ply import read_ply
    from dioramic.splats.refine import RefineSettings, refine_output, require_gpu

    try:
        require_gpu()
        splats = read_ply(out / "splats.ply")
        start = time.perf_counter()
        refined, report = refine_output(out, splats, RefineSettings(iterations=iterations))
    except DioramicError as exc:
        print(exc)
        return 1
    write_splats(refined, out / "refined.ply")
    print(f"{out.name}: {len(splats):,} splats, {len(report.train_views)} photos trained on, "
          f"held out: {', '.join(report.held_out)}")  # fmt: skip
    print(f"  held-out PSNR (gsplat's drawing of the splats): {report.psnr_before:.2f} dB before, "
          f"{report.psnr_after:.2f} dB after {report.iterations} iterations")  # fmt: skip
    print(f"  refinement {report.seconds:.0f} s (with the first use's compilation: "
          f"{time.perf_counter() - start:.0f} s)")  # fmt: skip
    print(json.dumps(report.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
