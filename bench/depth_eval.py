"""Evaluate the classical depth backend (with and without refinement) on the real-scene evalset.

    .venv/bin/python bench/depth_eval.py [EVALSET_DIR]

EVALSET_DIR defaults to ../shared/evalset next to the repository. Its eval_depth.py is imported
from there (never copied). Prints the per-scene AbsRel / delta1 table with group means next to the
trivial baselines, then the time of one classical prediction and one refinement at 1024 x 768.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from shared_scripts import load_script

from dioramic.depth.classical import estimate_inverse_depth
from dioramic.depth.refine import refine

REPO = Path(__file__).resolve().parent.parent


def classical_refined(rgb: np.ndarray) -> np.ndarray:
    return refine(estimate_inverse_depth(rgb), rgb)


def timing(repeats: int = 5) -> tuple[float, float]:
    """Median seconds of estimate_inverse_depth and of refine on a 1024 x 768 photo."""
    rng = np.random.default_rng(0)
    # a smooth random photo with some structure (noise alone has no lines and no ground)
    small = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    import cv2

    rgb = cv2.resize(small, (1024, 768), interpolation=cv2.INTER_CUBIC)
    est, ref = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        inv = estimate_inverse_depth(rgb)
        t1 = time.perf_counter()
        refine(inv, rgb)
        t2 = time.perf_counter()
        est.append(t1 - t0)
        ref.append(t2 - t1)
    return float(np.median(est)), float(np.median(ref))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("evalset", nargs="?", type=Path, default=REPO.parent / "shared" / "evalset")
    parser.add_argument("--threads", type=int, default=2, help="OpenCV threads (the target is 2 cores)")
    args = parser.parse_args(argv)
    import cv2

    cv2.setNumThreads(args.threads)
    ev = load_script(args.evalset / "eval_depth.py")
    root = str(args.evalset)
    results = [
        ev.evaluate(estimate_inverse_depth, "inverse", root, label="classical"),
        ev.evaluate(classical_refined, "inverse", root, label="classical+refine"),
    ]
    for label, (fn, kind) in ev.BASELINES.items():
        results.append(ev.evaluate(fn, kind, root, label=label))
    print("alignment: inv_ss (scale and shift in inverse depth); AbsRel and delta1 on valid GT pixels\n")
    print(ev.format_table(results))
    est, ref = timing()
    print(f"\ntiming at 1024x768, {args.threads} OpenCV threads (median of 5):")
    print(f"  classical estimate: {est:.3f} s   refine: {ref:.3f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
