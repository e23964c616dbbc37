"""Benchmark of `dioramic reconstruct` on the multi-view scenes: registration, camera-centre error,
held-out views, stage timings.

    .venv/bin/python bench/reconstruct.py                         # every scene in ../shared/multiview
    .venv/bin/python bench/reconstruct.py entry-P10 --holdout 4   # one scene, every 4th image held out
    .venv/bin/python bench/reconstruct.py --data DIR --keep OUT   # other data; keep the outputs

Each scene is reconstructed end to end as `dioramic reconstruct` does it (video included, unless
--no-video) into a temporary folder, then scored by the data's own `eval_multiview.py` (camera centres
against the ground truth after a similarity alignment, as a fraction of the trajectory's extent; the
held-out renders against the photos: PSNR over covered pixels, covered fraction). A scene that cannot
be reconstructed (too few images placed) prints its one-line error instead.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dioramic.errors import DioramicError
from dioramic.reconstruct import ReconstructOptions, reconstruct

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "multiview"


def images_of(scene: Path) -> Path:
    """The folder holding a scene's photos (`images/` where there is one)."""
    return scene / "images" if (scene / "images").is_dir() else scene


def score(data: Path, scene: Path, out: Path) -> dict:
    """eval_multiview.py's scores of `out` (an empty dict when the data has no scorer)."""
    scorer = data / "eval_multiview.py"
    if not scorer.is_file():
        return {}
    report = out.parent / f"{scene.name}.score.json"
    subprocess.run([sys.executable, str(scorer), str(scene), str(out), "--json", str(report)], check=True,
                   capture_output=True)  # fmt: skip
    return json.loads(report.read_text())


def run(data: Path, scene: Path, workdir: Path, options: ReconstructOptions) -> dict:
    out = workdir / scene.name
    start = time.perf_counter()
    try:
        result = reconstruct([images_of(scene)], out, options)
    except DioramicError as exc:
        return {"scene": scene.name, "error": str(exc), "seconds": time.perf_counter() - start}
    seconds = time.perf_counter() - start
    return {
        "scene": scene.name,
        "seconds": seconds,
        "report": result.report,
        "score": score(data, scene, out),
    }


def print_row(row: dict) -> None:
    name = row["scene"]
    if "error" in row:
        print(f"\n{name}: failed as it should when too few images are placed ({row['seconds']:.1f} s):")
        print(f"  {row['error']}")
        return
    report, scores = row["report"], row["score"]
    print(f"\n{name}: {report['registered']}/{report['images_given']} images placed, "
          f"{report['points']} points, {report['triangles']} triangles, "
          f"reprojection error {report['reprojection_error_px']:.2f} px")  # fmt: skip
    if "centre_error_rel" in scores:
        error, extent = scores["centre_error_mean"], scores["trajectory_extent"]
        print(f"  camera centres: mean error {100 * scores['centre_error_rel']:.3f} % of the trajectory "
              f"({error:.4g} of {extent:.4g}, ground-truth units)")  # fmt: skip
    for view in scores.get("holdout", []):
        print(f"  held-out {view['view']}: PSNR {view['psnr']:.2f} dB, covered {100 * view['covered']:.1f} %")
    if "holdout_psnr_mean" in scores:
        print(f"  held-out mean: PSNR {scores['holdout_psnr_mean']:.2f} dB, "
              f"covered {100 * scores['holdout_covered_mean']:.1f} %")  # fmt: skip
    stages = ", ".join(f"{k} {v:.1f}" for k, v in report["timings_s"].items())
    print(f"  stages (s): {stages}")
    print(f"  end to end: {row['seconds']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenes", nargs="*", help="scene folder names (default: every scene in --data)")
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"scenes folder (default: {DEFAULT_DATA})"
    )
    parser.add_argument("--holdout", type=int, default=None, help="hold every N-th image out and score it")
    parser.add_argument("--no-video", action="store_true", help="skip the video (faster)")
    parser.add_argument(
        "--keep", type=Path, default=None, help="write the outputs here (default: a temp dir)"
    )
    args = parser.parse_args()
    names = args.scenes or sorted(p.name for p in args.data.iterdir() if p.is_dir())
    options = ReconstructOptions(holdout=args.holdout, write_video=not args.no_video)
    with tempfile.TemporaryDirectory(prefix="bench-reconstruct-") as temp:
        workdir = args.keep or Path(temp)
        workdir.mkdir(parents=True, exist_ok=True)
        for name in names:
            print_row(run(args.data, args.data / name, workdir, options))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
